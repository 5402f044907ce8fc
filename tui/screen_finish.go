package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// The finish screen: how the run ended (done, stopped, refused, failed),
// the step counts, where the evidence is, and what to do next.

type finishScreen struct {
	cfg     *Config
	ui      *ui
	proc    *steps.Procedure
	run     *runScreen // the run that ended: its rows, warnings, start and state path
	outcome steps.Outcome
	err     error           // the engine's error; nil = every step verified
	removed string          // Config.RemovedOnExit's answer for the completed run
	log     *transcriptView // the transcript viewer; nil = none
}

func newFinishScreen(cfg *Config, u *ui, p *steps.Procedure, run *runScreen, done runDoneMsg) *finishScreen {
	s := &finishScreen{cfg: cfg, ui: u, proc: p, run: run, outcome: done.outcome, err: done.err}
	if s.err == nil && cfg.RemovedOnExit != nil {
		s.removed = cfg.RemovedOnExit()
	}
	return s
}

func (s *finishScreen) update(msg tea.Msg) (move, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case s.log != nil:
			if !s.log.update(k) {
				s.log = nil
			}
		case key.Matches(k, s.ui.keys.Transcript):
			s.log = openTranscript(s.ui, s.run.statePath)
		case key.Matches(k, s.ui.keys.Quit), key.Matches(k, s.ui.keys.Enter):
			return nil, tea.Quit
		}
	}
	return nil, nil
}

func (s *finishScreen) resize() {}

func (s *finishScreen) view(title string) string {
	if s.log != nil {
		return s.log.view(title)
	}
	return s.ui.frame(title, s.body(),
		[]key.Binding{s.ui.keys.Transcript, key.NewBinding(key.WithKeys("q"), key.WithHelp("enter/q", "exit"))})
}

// body is the screen's text, wrapped to its width at spaces, except the
// paths of the run's files, which are never broken (fileLines).
func (s *finishScreen) body() string {
	var kept []string
	keep := func(block string) string { // a block laid out already: not wrapped again
		kept = append(kept, block)
		return "\x00"
	}
	parts := strings.Split(s.text(keep), "\x00")
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(wrapWords(p, s.ui.w))
		if i < len(kept) {
			b.WriteString(kept[i])
		}
	}
	return b.String()
}

// text is the screen's text, unwrapped but for the blocks given to keep
// (the paths of the run's files, commands to copy), which are laid out
// already and must not be wrapped again.
func (s *finishScreen) text(keep func(string) string) string {
	st, run, runErr, statePath := s.ui.st, s.run, s.err, s.run.statePath
	var b strings.Builder
	var done, skipped, failed int
	for _, r := range run.rows {
		switch r.status {
		case stDone:
			done++
		case stSkipped:
			skipped++
		case stFailed:
			failed++
		}
	}
	status := s.outcome.Status
	if status == "" && runErr == nil {
		status = steps.StatusDone
	}
	switch {
	case runErr == nil:
		b.WriteString(st.ok.Render("Done: every step verified.") + "\n")
	case steps.ExitCode(runErr) == steps.ExitStopped:
		b.WriteString(st.warn.Render("Stopped: the state is kept; nothing is lost.") + "\n")
	case steps.ExitCode(runErr) == steps.ExitRefused:
		b.WriteString(st.bad.Render("Refused for safety:") + "\n")
	default:
		b.WriteString(st.bad.Render("The run did not finish:") + "\n")
	}
	var se *steps.StoppedError
	switch {
	case s.cfg.ResumeHint != "" && errors.As(runErr, &se):
		b.WriteString("stopped: " + se.Reason + "\n") // without the resume command: the hint below
	case runErr != nil:
		b.WriteString(errText(runErr) + "\n")
	case status != steps.StatusDone:
		b.WriteString("status: " + string(status) + "\n")
	}
	fmt.Fprintf(&b, "\n%d of %d steps done, %d skipped, %d failed", done, len(run.rows), skipped, failed)
	if !run.started.IsZero() && !run.ended.IsZero() {
		fmt.Fprintf(&b, " · %s", run.ended.Sub(run.started).Round(time.Second)) // the run's time: it does not grow on redraw
	}
	b.WriteString("\n")
	if len(run.warnings) > 0 {
		fmt.Fprintf(&b, "%d warning(s), in the evidence report.\n", len(run.warnings))
	}
	refused := runErr != nil && steps.ExitCode(runErr) == steps.ExitRefused
	if runErr == nil && s.removed != "" {
		// the files are gone once the wizard exits: no paths, no audit hint
		b.WriteString("\n" + s.removed + "\n")
		return b.String()
	}
	if statePath != "" && !refused {
		b.WriteString("\n" + keep(fileLines(s.ui.w, [][2]string{{"Evidence report:", steps.EvidencePath(statePath)},
			{"Transcript:", steps.TranscriptPath(statePath)}, {"State:", statePath}})))
	}
	b.WriteString("\n" + st.title.Render("Next") + "\n")
	switch {
	case runErr == nil:
		b.WriteString("Keep the evidence report with the change record.\n")
		if s.proc != nil {
			lead, cmd := "Audit later without changing anything:", "hawiz check "+s.proc.Name+" --state "+remote.ShArg(statePath)
			if ansi.StringWidth(lead+" "+cmd) <= s.ui.w {
				lead += " "
			} else {
				lead += "\n"
			}
			b.WriteString(lead + keep(commandLines(cmd, s.ui.w)) + "\n")
		}
	case s.cfg.ResumeHint != "" && steps.ExitCode(runErr) == steps.ExitStopped:
		b.WriteString("Continue where it stopped: " + st.key.Render(s.cfg.ResumeHint) + "\n")
	case resumeCmd(s.outcome, runErr) != "":
		lead, cmd := "Continue where it stopped:", resumeCmd(s.outcome, runErr)
		if ansi.StringWidth(lead+" "+cmd) <= s.ui.w {
			lead += " "
		} else {
			lead += "\n" // the command on lines of its own, to copy
		}
		b.WriteString(lead + keep(st.key.Render(commandLines(cmd, s.ui.w))) + "\n(or run hawiz again and pick the run under Resume)\n")
	case refused:
		b.WriteString("Nothing was changed by this refusal. Settle the cause above, then run hawiz again.\n")
	case s.cfg.ResumeHint != "":
		b.WriteString("Fix the cause above, then " + s.cfg.ResumeHint + ".\n")
	default:
		b.WriteString("Fix the cause above, then run hawiz again and pick the run under Resume.\n")
	}
	return b.String()
}

// fileLines lists files as "label path" lines, the paths aligned, each on
// the label's line when every one fits in w cells; else each path on a line
// of its own under its label, whole: a path is never broken across lines
// (not even at a space in it), to be copied as it is.
func fileLines(w int, files [][2]string) string {
	lw := 0
	for _, f := range files {
		lw = max(lw, ansi.StringWidth(f[0]))
	}
	fits := true
	for _, f := range files {
		fits = fits && lw+1+ansi.StringWidth(f[1]) <= w
	}
	var b strings.Builder
	for _, f := range files {
		if fits {
			fmt.Fprintf(&b, "%-*s %s\n", lw, f[0], f[1])
			continue
		}
		ind := "  "
		if len(ind)+ansi.StringWidth(f[1]) > w {
			ind = ""
		}
		b.WriteString(f[0] + "\n" + ind + f[1] + "\n")
	}
	return b.String()
}

// wrapWords wraps every line of s at spaces only (not at hyphens, as
// ansi.Wordwrap also does) to w cells; a word longer than w (a path) stays
// whole on a line of its own, never broken in two.
func wrapWords(s string, w int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if ansi.StringWidth(l) <= w {
			continue
		}
		ind := len(l) - len(strings.TrimLeft(l, " "))
		var out []string
		cur := l[:ind]
		for _, f := range strings.Fields(l) {
			switch {
			case strings.TrimSpace(cur) == "":
				cur += f
			case ansi.StringWidth(cur+" "+f) <= w:
				cur += " " + f
			default:
				out = append(out, cur)
				cur = strings.Repeat(" ", ind) + f
			}
		}
		lines[i] = strings.Join(append(out, cur), "\n")
	}
	return strings.Join(lines, "\n")
}

// commandLines is a shell command to copy, one line when it fits in w
// cells, else broken only at spaces with a trailing " \\" (the shell joins
// the lines again) and continuation lines indented: an argument (a path)
// is never cut.
func commandLines(cmd string, w int) string {
	if ansi.StringWidth(cmd) <= w {
		return cmd
	}
	var lines []string
	cur := ""
	for _, f := range shellFields(cmd) {
		switch {
		case cur == "":
			cur = f
		case ansi.StringWidth(cur+" "+f+" \\") <= w:
			cur += " " + f
		default:
			lines = append(lines, cur+" \\")
			cur = "  " + f
		}
	}
	return strings.Join(append(lines, cur), "\n")
}

// shellFields splits a shell command at the spaces between its words: not
// at a space inside single quotes or after a backslash ('a b', a\ b).
func shellFields(cmd string) []string {
	var out []string
	var cur strings.Builder
	quoted, esc := false, false
	for _, c := range cmd {
		switch {
		case esc:
			esc = false
		case c == '\\' && !quoted:
			esc = true
		case c == '\'':
			quoted = !quoted
		case c == ' ' && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(c)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// resumeCmd is the command that continues a stopped run, if any.
func resumeCmd(o steps.Outcome, err error) string {
	if o.Resume != "" {
		return o.Resume
	}
	var se *steps.StoppedError
	if errors.As(err, &se) {
		return se.Resume
	}
	return ""
}
