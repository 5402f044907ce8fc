package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

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
	err     error  // the engine's error; nil = every step verified
	removed string // Config.RemovedOnExit's answer for the completed run
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
		case key.Matches(k, s.ui.keys.Transcript):
			return nil, openTranscript(s.cfg, s.run.statePath)
		case key.Matches(k, s.ui.keys.Quit), key.Matches(k, s.ui.keys.Enter):
			return nil, tea.Quit
		}
	}
	return nil, nil
}

func (s *finishScreen) resize() {}

func (s *finishScreen) view(title string) string {
	return s.ui.frame(title, ansi.Wrap(s.body(), s.ui.w, ""),
		[]key.Binding{s.ui.keys.Transcript, key.NewBinding(key.WithKeys("q"), key.WithHelp("enter/q", "exit"))})
}

func (s *finishScreen) body() string {
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
	if !run.started.IsZero() {
		fmt.Fprintf(&b, " · %s", s.cfg.Now().Sub(run.started).Round(time.Second))
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
		fmt.Fprintf(&b, "\nEvidence report: %s\nTranscript:      %s\nState:           %s\n",
			steps.EvidencePath(statePath), steps.TranscriptPath(statePath), statePath)
	}
	b.WriteString("\n" + st.title.Render("Next") + "\n")
	switch {
	case runErr == nil:
		b.WriteString("Keep the evidence report with the change record.\n")
		if s.proc != nil {
			fmt.Fprintf(&b, "Audit later without changing anything: hawiz check %s --state %s\n", s.proc.Name, statePath)
		}
	case s.cfg.ResumeHint != "" && steps.ExitCode(runErr) == steps.ExitStopped:
		b.WriteString("Continue where it stopped: " + st.key.Render(s.cfg.ResumeHint) + "\n")
	case resumeCmd(s.outcome, runErr) != "":
		b.WriteString("Continue where it stopped: " + st.key.Render(resumeCmd(s.outcome, runErr)) + "\n(or run hawiz again and pick the run under Resume)\n")
	case refused:
		b.WriteString("Nothing was changed by this refusal. Settle the cause above, then run hawiz again.\n")
	case s.cfg.ResumeHint != "":
		b.WriteString("Fix the cause above, then " + s.cfg.ResumeHint + ".\n")
	default:
		b.WriteString("Fix the cause above, then run hawiz again and pick the run under Resume.\n")
	}
	return b.String()
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
