package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hawiz/hawiz/steps"
)

// The run screen: the steps with their status above the running step's
// output, while the engine runs in its own goroutine (bridge.go). The
// engine's questions take the screen one at a time (prompt_*.go), the
// others wait in a queue; the quit confirmation goes over whichever is on
// show. How the engine's events change the rows and the output is in
// screen_run_events.go.

type rowStatus int

const (
	stPending rowStatus = iota
	stRunning
	stDone
	stSkipped
	stFailed
	stWaiting
)

var statusWord = map[rowStatus]string{stPending: "pending", stRunning: "running", stDone: "done", stSkipped: "skipped", stFailed: "failed", stWaiting: "waiting for you"}

type stepRow struct {
	id, title string
	hosts     []string
	status    rowStatus
	host      string
	started   time.Time
	elapsed   time.Duration
	note      string
}

type runScreen struct {
	cfg *Config
	ui  *ui

	bridge    *Bridge
	cancel    context.CancelFunc
	statePath string
	started   time.Time
	ended     time.Time // when the engine returned; zero while it runs

	rows     []*stepRow
	cur      int   // the row whose output is shown
	out      *ring // the step's output
	follow   bool  // the output view follows the newest line
	outOff   int   // else the first line shown
	vp       viewport.Model
	spin     spinner.Model
	failTail []string // the failed step's last output lines
	warnings []string

	pr      prompt          // the engine's question on show; nil = none
	pending []tea.Msg       // engine questions waiting for the one on show
	quit    *quitPrompt     // the quit confirmation, over pr; nil = none
	log     *transcriptView // the transcript viewer, over everything; nil = none

	paused   bool // the engine waits after a step
	pauseReq bool // the operator asked for that pause
	stopping bool // the run is cancelled; the engine is saving its state
	wait     *waitMsg
}

func newRunScreen(cfg *Config, u *ui, rows []*stepRow) *runScreen {
	return &runScreen{cfg: cfg, ui: u, rows: rows, out: newRing(cfg.OutputLines), follow: true,
		vp: viewport.New(), spin: spinner.New(spinner.WithSpinner(spinner.Line))}
}

// planRows are the steps the answers make, one row each (a Once step on
// its first host); none when there are no answers (a resumed run whose
// answers did not load: the engine's events add the rows).
func planRows(p *steps.Procedure, a steps.Answers) []*stepRow {
	if a == nil {
		return nil
	}
	list, err := steps.BuildSteps(p, a)
	if err != nil {
		return nil
	}
	var rows []*stepRow
	for _, s := range list {
		hosts := s.Hosts
		if s.Mode == steps.Once && len(hosts) > 1 {
			hosts = hosts[:1]
		}
		rows = append(rows, &stepRow{id: s.ID, title: s.Title, hosts: hosts})
	}
	return rows
}

// start runs the engine on rc in a goroutine, talking to this screen
// through a new Bridge.
func (r *runScreen) start(rc steps.RunConfig) tea.Cmd {
	r.statePath = rc.StatePath
	r.started = r.cfg.Now()
	r.bridge = NewBridge()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	rc.Renderer, rc.Operator = r.bridge, r.bridge
	rc.Remote = r.cfg.Remote
	rc.Getenv = r.cfg.Getenv
	rc.ToolVersion = r.cfg.ToolVersion
	b, run := r.bridge, r.cfg.Run
	go func() {
		out, err := run(ctx, rc)
		b.send(runDoneMsg{outcome: out, err: err})
	}()
	cmds := []tea.Cmd{b.listen()}
	if !r.cfg.NoSpinner {
		cmds = append(cmds, r.spin.Tick)
	}
	return tea.Batch(cmds...)
}

func (r *runScreen) tick(msg spinner.TickMsg) tea.Cmd {
	var cmd tea.Cmd
	r.spin, cmd = r.spin.Update(msg)
	return cmd
}

// update gives a key to the quit confirmation or the question on show, if
// any, else takes it as one of the run's own keys (pause, scroll…). ctrl+c
// while stopping leaves at once; ctrl+c or q over most questions asks
// whether to quit.
func (r *runScreen) update(msg tea.Msg) (move, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	switch {
	case ok && r.log != nil:
		if !r.log.update(k) {
			r.log = nil
		}
		return nil, nil
	case !ok:
		if r.pr != nil && r.quit == nil {
			return nil, r.toPrompt(msg) // the secret's cursor blinks
		}
		return nil, nil
	case k.String() == "ctrl+c" && r.stopping:
		r.bridge.Close()
		return nil, tea.Quit
	case r.quit != nil:
		r.quit = nil
		if stop := (quitPrompt{}).update(k); stop {
			r.pr = nil
			r.stop()
			return nil, nil
		}
		if r.pr == nil && len(r.pending) > 0 {
			return nil, r.answered() // a question that came while the dialog was open
		}
		return nil, nil
	case r.pr != nil && !r.stopping && r.pr.quits(k.String()):
		r.quit = &quitPrompt{}
		return nil, nil
	case r.pr != nil:
		return nil, r.toPrompt(k)
	}
	return nil, r.control(k)
}

// control handles the run's own keys, when no question is on show.
func (r *runScreen) control(k tea.KeyPressMsg) tea.Cmd {
	keys, s := r.ui.keys, k.String()
	switch {
	case key.Matches(k, keys.Quit):
		if !r.stopping {
			r.quit = &quitPrompt{}
		}
	case key.Matches(k, keys.Pause):
		if r.paused {
			r.paused, r.pauseReq = false, false
			r.bridge.Continue()
		} else {
			r.pauseReq = !r.pauseReq
			r.bridge.SetPause(r.pauseReq)
		}
	case s == "c" && r.paused:
		r.paused, r.pauseReq = false, false
		r.bridge.Continue()
	case s == "g" && r.wait != nil:
		r.bridge.GiveUp()
	case key.Matches(k, keys.Transcript):
		r.log = openTranscript(r.ui, r.statePath)
	case key.Matches(k, keys.Up):
		r.scroll(-1)
	case key.Matches(k, keys.Down):
		r.scroll(1)
	case s == "pgup":
		r.scroll(-r.vp.Height())
	case s == "pgdown":
		r.scroll(r.vp.Height())
	case s == "home":
		r.follow, r.outOff = false, 0
		r.refreshOutput()
	case s == "end":
		r.follow = true
		r.refreshOutput()
	}
	return nil
}

// ask shows an engine question.
func (r *runScreen) ask(msg tea.Msg) tea.Cmd {
	switch q := msg.(type) {
	case hostKeysReq:
		r.pr = newHostKeysPrompt(q)
	case manualReq:
		r.pr = &manualPrompt{step: q.step, host: q.host, reply: q.reply}
	case confirmReq:
		r.pr = &confirmPrompt{question: q.question, defYes: q.defaultYes, reply: q.reply}
	case secretReq:
		p, cmd := newSecretPrompt(q, r.ui.w)
		r.pr = p
		return cmd
	case failureReq:
		r.pr = &failurePrompt{step: q.step, host: q.host, err: q.err, reply: q.reply, tail: r.failureOutput,
			transcript: func() { r.log = openTranscript(r.ui, r.statePath) }}
	}
	return nil
}

// toPrompt gives msg to the question on show; once it is answered the next
// queued question comes up.
func (r *runScreen) toPrompt(msg tea.Msg) tea.Cmd {
	next, cmd := r.pr.update(msg, r.ui)
	if next == nil {
		return tea.Batch(cmd, r.answered())
	}
	r.pr = next
	return cmd
}

// answered clears the question and shows the next queued one.
func (r *runScreen) answered() tea.Cmd {
	r.pr = nil
	if len(r.pending) > 0 {
		next := r.pending[0]
		r.pending = r.pending[1:]
		return r.ask(next)
	}
	return nil
}

// failureOutput is the failing command's own output, as the engine sent it
// with the failure (never the screen's output pane: an earlier action's
// lines and the screen's own "[host] apply" lines).
func (r *runScreen) failureOutput() []string { return r.failTail }

// stop cancels the run; the engine keeps the state and returns.
func (r *runScreen) stop() {
	r.stopping = true
	r.cancel()
	r.bridge.Continue()
	r.bridge.GiveUp()
}

func (r *runScreen) scroll(d int) {
	h := r.vp.Height()
	maxOff := max(0, r.out.Len()-h)
	if r.follow {
		r.outOff = maxOff
	}
	r.outOff = max(0, min(maxOff, r.outOff+d))
	r.follow = r.outOff >= maxOff
	r.refreshOutput()
}

// refreshOutput feeds the viewport the visible window of the ring only.
func (r *runScreen) refreshOutput() {
	h := r.vp.Height()
	if r.follow {
		r.outOff = max(0, r.out.Len()-h)
	}
	r.vp.SetContentLines(r.out.Window(r.outOff, h))
}

// stepRows is how many step rows the screen shows: every row when the
// output keeps at least a quarter of the screen (6 lines at least), else a
// third of the screen around the current step.
func (r *runScreen) stepRows() int {
	avail := r.ui.h - 1 - r.ui.helpHeight(r.outputKeys()) // less the header and the help (wrapped)
	body := avail - 1                                     // and the separator
	if len(r.rows) <= body-max(6, body/4) {
		return len(r.rows)
	}
	return min(len(r.rows), max(3, avail/3))
}

// outputHeight is the output pane's height: the screen less the header,
// the help as wrapped to the width (a narrow terminal, or more keys, give
// it more lines), the step rows and the separator.
func (r *runScreen) outputHeight() int {
	return max(1, r.ui.h-1-r.ui.helpHeight(r.outputKeys())-r.stepRows()-1)
}

func (r *runScreen) resize() {
	r.vp.SetWidth(r.ui.w)
	r.vp.SetHeight(r.outputHeight())
	r.refreshOutput()
}

func (r *runScreen) view(title string) string {
	var body string
	var keys []key.Binding
	title += r.progress()
	switch {
	case r.log != nil:
		return r.log.view(title)
	case r.quit != nil:
		body, keys = r.quit.view(r.ui, r.viewSteps(), r.cfg.ResumeHint)
	case r.pr != nil:
		body, keys = r.pr.view(r.ui)
		body = ansi.Wrap(body, r.ui.w, "")
	default:
		body, keys = r.viewOutput()
	}
	return r.ui.frame(title, body, keys)
}

// progress is the header's " · step n of N · elapsed": the step on show
// and the time since the run started (stopped at its end).
func (r *runScreen) progress() string {
	s := ""
	if len(r.rows) > 0 {
		s = fmt.Sprintf(" · step %d of %d", min(r.cur+1, len(r.rows)), len(r.rows))
	}
	if !r.started.IsZero() {
		end := r.ended
		if end.IsZero() {
			end = r.cfg.Now()
		}
		s += " · " + end.Sub(r.started).Round(time.Second).String()
	}
	return s
}

func (r *runScreen) icon(row *stepRow) string {
	st := r.ui.st
	switch row.status {
	case stRunning:
		if r.cfg.NoSpinner || r.paused {
			return st.run.Render("»")
		}
		return st.run.Render(r.spin.View())
	case stDone:
		return st.ok.Render("✓")
	case stSkipped:
		return st.warn.Render("↷")
	case stFailed:
		return st.bad.Render("✗")
	case stWaiting:
		return st.warn.Render("?")
	}
	return st.dim.Render("·")
}

// viewSteps is the rows around the current step, as many as fit.
func (r *runScreen) viewSteps() string {
	n := r.stepRows()
	first := max(0, min(r.cur-n/2, len(r.rows)-n))
	w := r.ui.w
	var b strings.Builder
	for i := first; i < first+n && i < len(r.rows); i++ {
		row := r.rows[i]
		el := ""
		switch {
		case row.status == stRunning && !row.started.IsZero() && !r.cfg.NoSpinner:
			el = r.cfg.Now().Sub(row.started).Round(time.Second).String()
		case row.elapsed > 0:
			el = row.elapsed.Round(100 * time.Millisecond).String()
		}
		host := row.host
		if host == "" && len(row.hosts) > 0 {
			host = strings.Join(row.hosts, ",")
		}
		right := fmt.Sprintf(" %-9s %-12s %7s", statusWord[row.status], truncate(host, 12), el)
		left := fmt.Sprintf("%s %2d. %s", r.icon(row), i+1, row.title)
		lw := w - lipgloss.Width(right)
		left = truncate(left, lw)
		pad := max(0, lw-lipgloss.Width(left))
		b.WriteString(left + strings.Repeat(" ", pad) + r.ui.st.dim.Render(right) + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// viewOutput is the steps, a separator saying whose output it is (or why
// the run waits), and the output.
func (r *runScreen) viewOutput() (string, []key.Binding) {
	st, w := r.ui.st, r.ui.w
	if h := r.outputHeight(); h != r.vp.Height() {
		// the help's height follows the keys on show (g while waiting)
		r.vp.SetHeight(h)
		r.refreshOutput()
	}
	var b strings.Builder
	b.WriteString(r.viewSteps() + "\n")
	label := "output"
	if r.cur < len(r.rows) && len(r.rows) > 0 {
		row := r.rows[r.cur]
		label = fmt.Sprintf("output · %s", row.id)
		if row.host != "" {
			label += " · " + row.host
		}
	}
	if d := r.out.Dropped(); d > 0 {
		label += fmt.Sprintf(" · %d earlier lines dropped", d)
	}
	switch {
	case r.stopping:
		label = st.warn.Render("stopping… the state is kept")
	case r.paused:
		label = st.warn.Render("PAUSED after this step — p or c continues, q quits (state kept)")
	case r.pauseReq:
		label += st.warn.Render(" · will pause after this step")
	case r.wait != nil:
		label = st.warn.Render(fmt.Sprintf("waiting: %s — %s (g gives up)", r.wait.message, r.wait.observation))
	case len(r.warnings) > 0:
		label += st.warn.Render(fmt.Sprintf(" · %d warning(s)", len(r.warnings)))
	}
	if !r.follow {
		label += " · scrolled (end to follow)"
	}
	sep := "── " + label + " "
	b.WriteString(truncate(sep+strings.Repeat("─", max(0, w-lipgloss.Width(sep))), w) + "\n")
	b.WriteString(r.vp.View())
	return b.String(), r.outputKeys()
}

// outputKeys are the keys that work while the output is on show: g gives
// up a wait, p or c continue a paused run.
func (r *runScreen) outputKeys() []key.Binding {
	keys := r.ui.keys
	pause := keys.Pause
	switch {
	case r.paused:
		pause = key.NewBinding(key.WithKeys("p", "c"), key.WithHelp("p/c", "continue"))
	case r.pauseReq:
		pause = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "don't pause"))
	}
	ks := []key.Binding{pause, keys.Top, keys.Transcript}
	if r.wait != nil {
		ks = append(ks, kb("g", "give up waiting"))
	}
	return append(ks, key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit (state kept)")))
}
