package tui

import (
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
)

// The plan screen: every step the run will take, with the procedure's
// notes above it (the model writes the text); enter starts the run.

type planScreen struct {
	ui   *ui
	vp   viewport.Model
	text string // the plan as written; wrapped to the width in resize
}

func newPlanScreen(u *ui) *planScreen { return &planScreen{ui: u, vp: viewport.New()} }

// open shows text from the top (the model lays the screen out next).
func (s *planScreen) open(text string) {
	s.text = text
	s.vp.GotoTop()
}

func (s *planScreen) update(msg tea.Msg) (move, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil, nil
	}
	switch k.String() {
	case "ctrl+c", "q":
		return nil, tea.Quit
	case "esc":
		return toForm{}, nil
	case "enter", "y":
		return toRun{}, nil
	}
	var cmd tea.Cmd
	s.vp, cmd = s.vp.Update(msg)
	return nil, cmd
}

func (s *planScreen) resize() {
	s.vp.SetWidth(s.ui.w)
	s.vp.SetHeight(max(1, s.ui.h-2-s.ui.helpHeight(s.keys())))
	s.vp.SetContent(wrapHanging(s.text, s.ui.w))
}

func (s *planScreen) view(title string) string {
	body := s.ui.st.title.Render("Plan — confirm to start") + "\n" + s.vp.View()
	return s.ui.frame(title, body, s.keys())
}

// keys are the keys that work on the plan.
func (s *planScreen) keys() []key.Binding {
	return []key.Binding{
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter/y", "start")),
		kb("↑/↓", "scroll"), s.ui.keys.Top, key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "change answers")), s.ui.keys.Quit}
}
