package tui

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/hawiz/hawiz/steps"
)

// The transcript viewer: the run's transcript (<state>.transcript.jsonl)
// as formatted rows — time, step, host, what was done, its exit status and
// duration, its output indented below — in a scrolling view over the run
// or finish screen (t opens it, t, q or esc closes it).

// transcriptRows is how many of the newest rows the viewer reads.
const transcriptRows = 5000

type transcriptView struct {
	ui   *ui
	path string
	vp   viewport.Model
	rows int    // rows read
	err  string // why it could not be read; "" = read
}

// transcriptEntry is one transcript line (steps' transcriptLine).
type transcriptEntry struct {
	Time       time.Time `json:"time"`
	Step       string    `json:"step"`
	Host       string    `json:"host"`
	Action     string    `json:"action"`
	Detail     string    `json:"detail"`
	ExitStatus int       `json:"exit_status"`
	DurationMS float64   `json:"duration_ms"`
	Output     string    `json:"output"`
	Evidence   string    `json:"evidence"`
	Error      string    `json:"error"`
}

// openTranscript opens the viewer on the transcript of the run whose state
// is statePath, scrolled to its end; nil when there is no run yet.
func openTranscript(u *ui, statePath string) *transcriptView {
	if statePath == "" {
		return nil
	}
	v := &transcriptView{ui: u, path: steps.TranscriptPath(statePath), vp: viewport.New()}
	v.load()
	v.resize()
	v.vp.GotoBottom()
	return v
}

// load reads the transcript's newest rows and formats them.
func (v *transcriptView) load() {
	f, err := os.Open(v.path)
	if err != nil {
		v.err = err.Error()
		return
	}
	defer f.Close()
	var rows []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var e transcriptEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		rows = append(rows, formatEntry(e))
		if len(rows) > transcriptRows {
			rows = rows[1:]
		}
	}
	if err := sc.Err(); err != nil {
		v.err = err.Error()
	}
	v.rows = len(rows)
	v.vp.SetContent(strings.Join(rows, "\n"))
}

// formatEntry is one transcript line as the viewer shows it:
// "12:00:01 write-config h1  run sh -c …  exit 7 · 12ms", then the
// evidence, error and output lines indented.
func formatEntry(e transcriptEntry) string {
	var b strings.Builder
	b.WriteString(e.Time.Local().Format("15:04:05"))
	for _, f := range []string{e.Step, e.Host} {
		if f != "" {
			b.WriteString(" " + f)
		}
	}
	action := strings.TrimPrefix(e.Action, "event:")
	b.WriteString("  " + action)
	if d := oneLine(e.Detail); d != "" {
		b.WriteString(" " + d)
	}
	var tail []string
	if e.ExitStatus != 0 {
		tail = append(tail, fmt.Sprintf("exit %d", e.ExitStatus))
	}
	if e.DurationMS > 0 {
		tail = append(tail, dur(time.Duration(e.DurationMS*float64(time.Millisecond))))
	}
	if len(tail) > 0 {
		b.WriteString("  " + strings.Join(tail, " · "))
	}
	for _, x := range []struct{ label, text string }{{"evidence: ", e.Evidence}, {"error: ", e.Error}, {"", e.Output}} {
		if x.text == "" {
			continue
		}
		for _, l := range strings.Split(strings.TrimRight(x.text, "\n"), "\n") {
			b.WriteString("\n    │ " + x.label + l)
			x.label = ""
		}
	}
	return b.String()
}

// update takes a key: false closes the viewer.
func (v *transcriptView) update(k tea.KeyPressMsg) bool {
	switch k.String() {
	case "t", "q", "esc", "ctrl+c":
		return false
	case "home", "g":
		v.vp.GotoTop()
	case "end", "G":
		v.vp.GotoBottom()
	default:
		v.vp, _ = v.vp.Update(k)
	}
	return true
}

func (v *transcriptView) resize() {
	v.vp.SetWidth(v.ui.w)
	// the screen less the header, the line naming the file and the help
	// as wrapped to the width
	v.vp.SetHeight(max(1, v.ui.h-2-v.ui.helpHeight(v.keys())))
	v.vp.SoftWrap = true
}

// view is the viewer under title: a line naming the file and the place,
// the rows, the keys.
func (v *transcriptView) view(title string) string {
	v.resize()
	head := fmt.Sprintf("Transcript · %s · %d rows", v.path, v.rows)
	if v.err != "" {
		head = "Transcript: " + v.err
	} else if v.rows > 0 {
		head += fmt.Sprintf(" · %d%%", int(v.vp.ScrollPercent()*100))
	}
	body := v.ui.st.dim.Render(truncate(head, v.ui.w)) + "\n" + v.vp.View()
	return v.ui.frame(title, body, v.keys())
}

// keys are the viewer's keys.
func (v *transcriptView) keys() []key.Binding {
	return []key.Binding{v.ui.keys.Up, v.ui.keys.Top, kb("home/end", "first/last"), kb("t", "close")}
}
