package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/hawiz/hawiz/steps"
)

// The secret prompt: a password or passphrase the run needs, typed hidden
// and kept in memory only (Bridge.Secret); esc declines it.

type secretPrompt struct {
	name, question string
	input          textinput.Model
	reply          chan string // "" = declined
}

func newSecretPrompt(q secretReq, width int) (*secretPrompt, tea.Cmd) {
	ti := textinput.New()
	ti.EchoMode = textinput.EchoPassword
	ti.EchoCharacter = '•'
	ti.Prompt = "> "
	ti.SetWidth(max(10, width-6))
	p := &secretPrompt{name: q.name, question: q.prompt, input: ti, reply: q.reply}
	return p, p.input.Focus()
}

// quits: only ctrl+c, since q may be part of the secret.
func (p *secretPrompt) quits(s string) bool { return s == "ctrl+c" }

func (p *secretPrompt) update(msg tea.Msg, _ *ui) (prompt, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "enter":
			v := p.input.Value()
			p.input.SetValue("")
			p.reply <- v
			return nil, nil
		case "esc":
			p.reply <- ""
			return nil, nil
		}
	}
	var cmd tea.Cmd
	p.input, cmd = p.input.Update(msg)
	return p, cmd
}

func (p *secretPrompt) view(u *ui) (string, []key.Binding) {
	var b strings.Builder
	b.WriteString(u.st.title.Render("The "+p.question+" is needed") + "\n")
	b.WriteString(u.st.dim.Render(fmt.Sprintf("It is kept in memory for this run only: never shown, saved or logged. (Or set %s.)", steps.SecretEnvVar(p.name))) + "\n\n")
	b.WriteString(p.input.View() + "\n")
	return b.String(), []key.Binding{kb("enter", "submit"), kb("esc", "decline (run stops, resumable)")}
}
