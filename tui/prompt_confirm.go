package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// The confirmation prompt: a yes/no question from the engine, enter taking
// its default (Bridge.Confirm).

type confirmPrompt struct {
	question string
	defYes   bool
	reply    chan bool
}

func (p *confirmPrompt) quits(s string) bool { return quitKey(s) }

func (p *confirmPrompt) update(msg tea.Msg, _ *ui) (prompt, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return p, nil
	}
	switch k.String() {
	case "y":
		p.reply <- true
		return nil, nil
	case "n":
		p.reply <- false
		return nil, nil
	case "enter":
		p.reply <- p.defYes
		return nil, nil
	}
	return p, nil
}

func (p *confirmPrompt) view(u *ui) (string, []key.Binding) {
	def := "y/N"
	if p.defYes {
		def = "Y/n"
	}
	return u.st.title.Render(p.question) + " (" + def + ")\n", []key.Binding{kb("y", "yes"), kb("n", "no"), kb("enter", "default")}
}
