package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hawiz/hawiz/steps"
)

// The manual-step prompt: a step the operator does by hand (a vendor's web
// UI), with its instructions and the values to type; the run continues when
// the operator says it is done (Bridge.ConfirmManual).

type manualPrompt struct {
	step  *steps.Step
	host  string
	reply chan error // nil = done; steps.ErrWaitingForOperator = stop here
}

func (p *manualPrompt) quits(s string) bool { return quitKey(s) }

func (p *manualPrompt) update(msg tea.Msg, _ *ui) (prompt, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return p, nil
	}
	switch k.String() {
	case "enter", "c":
		p.reply <- nil
		return nil, nil
	case "x":
		p.reply <- steps.ErrWaitingForOperator
		return nil, nil
	}
	return p, nil
}

func (p *manualPrompt) view(u *ui) (string, []key.Binding) {
	s := p.step
	var b strings.Builder
	b.WriteString(u.st.title.Render("By hand: "+s.Title+onHost(p.host)) + "\n")
	if s.Why != "" {
		b.WriteString(u.st.dim.Render(s.Why) + "\n")
	}
	b.WriteString("\n")
	if s.Manual != nil {
		for i, in := range s.Manual.Instructions {
			fmt.Fprintf(&b, "%d) %s\n", i+1, in)
		}
		if len(s.Manual.Values) > 0 {
			var vb strings.Builder
			lw := 0
			for _, kv := range s.Manual.Values {
				lw = max(lw, lipgloss.Width(kv.Label))
			}
			for i, kv := range s.Manual.Values {
				if i > 0 {
					vb.WriteString("\n")
				}
				fmt.Fprintf(&vb, "%-*s  %s", lw+1, kv.Label+":", u.st.key.Render(kv.Value))
			}
			b.WriteString("\nValues to type:\n" + u.st.values.Render(vb.String()) + "\n")
		}
	}
	if s.DocRef != "" {
		b.WriteString(u.st.dim.Render("Docs: "+s.DocRef) + "\n")
	}
	return b.String(), []key.Binding{kb("enter", "done, continue"), kb("x", "stop here (resume later)"), kb("q", "quit")}
}
