package tui

import (
	"errors"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hawiz/hawiz/steps"
)

// The failure prompt: a step failed; retry it, skip it (after a warning
// that it stays unverified) or quit with the state kept (Bridge.Failure).

type failurePrompt struct {
	step  *steps.Step
	host  string
	err   error
	reply chan steps.FailureChoice
	tail  func() []string // the failing command's output
	sure  bool            // asking whether to skip it really
	// transcript opens the transcript viewer over the run screen
	transcript func()
}

// quits: q is an answer here (steps.Quit); over the skip warning, ctrl+c
// and q ask to quit like over any question.
func (p *failurePrompt) quits(s string) bool { return p.sure && quitKey(s) }

func (p *failurePrompt) update(msg tea.Msg, _ *ui) (prompt, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return p, nil
	}
	s := k.String()
	if p.sure {
		if s == "y" {
			p.reply <- steps.Skip
			return nil, nil
		}
		p.sure = false
		return p, nil
	}
	switch s {
	case "r":
		p.reply <- steps.Retry
		return nil, nil
	case "s":
		p.sure = true
	case "q":
		p.reply <- steps.Quit
		return nil, nil
	case "t":
		if p.transcript != nil {
			p.transcript()
		}
	}
	return p, nil
}

// cause is what went wrong, without the step and host the title names:
// "apply: exit status 7: broken" for a step error.
func (p *failurePrompt) cause() string {
	var se *steps.StepError
	if errors.As(p.err, &se) && se.Err != nil {
		s := errText(se.Err)
		if se.Action != "" {
			s = "failed in " + se.Action + ": " + s
		}
		return s
	}
	return errText(p.err)
}

func (p *failurePrompt) view(u *ui) (string, []key.Binding) {
	var b strings.Builder
	b.WriteString(u.st.bad.Render("Step failed: "+p.step.Title+onHost(p.host)) + "\n")
	b.WriteString(p.cause() + "\n")
	tail := p.tail()
	if len(tail) > 8 {
		tail = tail[len(tail)-8:]
	}
	if len(tail) > 0 {
		b.WriteString("\n" + u.st.dim.Render("Its output (last lines; t shows the transcript):") + "\n" + strings.Join(tail, "\n") + "\n")
	}
	if p.sure {
		b.WriteString("\n" + u.st.warn.Render("Skip? The step stays UNVERIFIED and later steps may rely on it. y skips, any other key goes back.") + "\n")
		return b.String(), []key.Binding{kb("y", "skip anyway"), kb("n", "back")}
	}
	return b.String(), []key.Binding{u.keys.Retry, kb("s", "skip (warning)"), kb("q", "quit (state kept)"), u.keys.Transcript}
}
