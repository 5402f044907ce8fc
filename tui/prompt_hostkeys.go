package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hawiz/hawiz/remote"
)

// The host-keys prompt: new hosts' SSH host keys, each to check against the
// host and tick before anything is sent (Bridge.ConfirmHostKeys).

type hostKeysPrompt struct {
	keys   []remote.NewHostKey
	accept []bool // ticked, by index in keys
	cursor int
	reply  chan map[string]bool // the hosts whose keys are accepted
	// refusing: enter with nothing ticked, or esc, asks first, since
	// refusing every key ends the run
	refusing bool
}

func newHostKeysPrompt(q hostKeysReq) *hostKeysPrompt {
	return &hostKeysPrompt{keys: q.keys, accept: make([]bool, len(q.keys)), reply: q.reply}
}

func (p *hostKeysPrompt) quits(s string) bool { return quitKey(s) }

func (p *hostKeysPrompt) update(msg tea.Msg, u *ui) (prompt, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return p, nil
	}
	s := k.String()
	if p.refusing {
		switch s {
		case "y", "Y":
			p.reply <- map[string]bool{}
			return nil, nil
		case "n", "N", "esc":
			p.refusing = false
		}
		return p, nil
	}
	switch {
	case key.Matches(k, u.keys.Up):
		p.cursor = max(0, p.cursor-1)
	case key.Matches(k, u.keys.Down):
		p.cursor = min(len(p.keys)-1, p.cursor+1)
	case s == "space" || s == " ":
		p.accept[p.cursor] = !p.accept[p.cursor]
	case s == "a" || s == "enter":
		acc := map[string]bool{}
		for i, hk := range p.keys {
			if s == "a" || p.accept[i] {
				acc[hk.Host] = true
			}
		}
		if len(acc) == 0 {
			p.refusing = true
			return p, nil
		}
		p.reply <- acc
		return nil, nil
	case s == "esc" || s == "n":
		p.refusing = true
	}
	return p, nil
}

func (p *hostKeysPrompt) view(u *ui) (string, []key.Binding) {
	var b strings.Builder
	b.WriteString(u.st.title.Render("New hosts: check these SSH host keys before anything is sent") + "\n")
	b.WriteString(u.st.dim.Render("Compare each fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on the host.") + "\n\n")
	for i, k := range p.keys {
		cur := "  "
		if i == p.cursor {
			cur = u.st.sel.Render("> ")
		}
		box := "[ ]"
		if p.accept[i] {
			box = u.st.ok.Render("[x]")
		}
		fmt.Fprintf(&b, "%s%s %s (%s)\n      %s %s\n", cur, box, k.Host, k.Address, k.KeyType, k.Fingerprint)
	}
	b.WriteString("\nAccepted keys are added to known_hosts. A host whose key CHANGED is always refused.\n")
	if p.refusing {
		b.WriteString("\n" + u.st.warn.Render("Refuse every key? hawiz connects to no host and the run ends here.") + "\n")
		return b.String(), []key.Binding{kb("y", "refuse all, end the run"), kb("n/esc", "back to the keys")}
	}
	return b.String(), []key.Binding{u.keys.AcceptAll, u.keys.Toggle, u.keys.Accept, u.keys.Up, kb("esc/n", "refuse all (asks)")}
}
