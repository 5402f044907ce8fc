package tui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
)

// The wizard's look, shared by every screen and prompt: styles, key
// bindings, the help line, the terminal's size, and the frame a screen is
// drawn in.

// ui is what every screen draws with. The model owns it; screens and
// prompts read it (the size changes on a resize).
type ui struct {
	st   styles
	keys keyMap
	help help.Model
	w, h int
}

func newUI() *ui { return &ui{st: newStyles(), w: 80, h: 24, help: help.New(), keys: newKeys()} }

// frame is a whole screen: the header with title, the body fitted to the
// lines between, and the help for keys at the foot (wrapped: a narrow
// terminal shows every key on more lines, the body gets fewer).
func (u *ui) frame(title, body string, keys []key.Binding) string {
	head := u.st.header.Render(truncate(title, u.w))
	u.keys.list = keys
	foot := u.helpLines(keys)
	n := strings.Count(foot, "\n") + 1
	return fit(head, u.w, 1) + "\n" + fit(body, u.w, u.h-1-n) + "\n" + fit(foot, u.w, n)
}

// helpLines is the help for keys, "key what • key what", wrapped between
// keys to the terminal's width instead of cut.
func (u *ui) helpLines(keys []key.Binding) string {
	st := u.help.Styles
	sep := st.ShortSeparator.Render(" • ")
	var lines []string
	cur, curW := "", 0
	for _, k := range keys {
		h := k.Help()
		if !k.Enabled() || h.Key == "" {
			continue
		}
		item := st.ShortKey.Render(h.Key) + " " + st.ShortDesc.Render(h.Desc)
		w := lipgloss.Width(item)
		if cur != "" && curW+3+w > u.w {
			lines = append(lines, cur)
			cur, curW = "", 0
		}
		if cur != "" {
			cur += sep
			curW += 3
		}
		cur += item
		curW += w
	}
	return strings.Join(append(lines, cur), "\n")
}

// helpHeight is how many lines the help for keys takes.
func (u *ui) helpHeight(keys []key.Binding) int {
	return strings.Count(u.helpLines(keys), "\n") + 1
}

type keyMap struct {
	Up, Down, Enter, Back, Quit, Pause, Retry, Skip, Transcript, Accept, AcceptAll, Toggle, Stop, Top, Bottom key.Binding
	list                                                                                                      []key.Binding
}

// ShortHelp implements help.KeyMap.
func (k keyMap) ShortHelp() []key.Binding { return k.list }

// FullHelp implements help.KeyMap.
func (k keyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.list} }

func newKeys() keyMap {
	b := key.NewBinding
	return keyMap{
		Up:         b(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "move")),
		Down:       b(key.WithKeys("down", "j")),
		Enter:      b(key.WithKeys("enter"), key.WithHelp("enter", "choose")),
		Back:       b(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Quit:       b(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Pause:      b(key.WithKeys("p"), key.WithHelp("p", "pause after step")),
		Retry:      b(key.WithKeys("r"), key.WithHelp("r", "retry")),
		Skip:       b(key.WithKeys("s"), key.WithHelp("s", "skip")),
		Transcript: b(key.WithKeys("t"), key.WithHelp("t", "transcript")),
		Accept:     b(key.WithKeys("enter"), key.WithHelp("enter", "accept checked")),
		AcceptAll:  b(key.WithKeys("a"), key.WithHelp("a", "accept all")),
		Toggle:     b(key.WithKeys("space", " "), key.WithHelp("space", "check/uncheck")),
		Stop:       b(key.WithKeys("x"), key.WithHelp("x", "stop here")),
		Top:        b(key.WithKeys("pgup", "home"), key.WithHelp("pgup/pgdn", "scroll")),
		Bottom:     b(key.WithKeys("pgdown", "end")),
	}
}

// kb is a key binding whose help names the key itself.
func kb(k, h string) key.Binding { return key.NewBinding(key.WithKeys(k), key.WithHelp(k, h)) }
