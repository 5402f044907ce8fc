package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"github.com/charmbracelet/x/ansi"
)

// The form screen: the procedure's answers, field by field (forms.go builds
// the form from the answers type), checked as they are typed and again as
// a file would be; answers that would not load are listed until a key
// goes back to the form, with the values typed so far.

type formScreen struct {
	ui   *ui
	af   *answersForm
	form *huh.Form // nil until opened, and after esc
	err  error     // why the answers would not load; nil = the form is on show
}

func newFormScreen(u *ui, af *answersForm) *formScreen { return &formScreen{ui: u, af: af} }

// start opens the form, filled in with the answers so far.
func (s *formScreen) start() tea.Cmd {
	s.form = s.af.Form(false).WithWidth(s.ui.w).WithHeight(s.ui.h - 2).WithShowHelp(true)
	s.err = nil
	return s.form.Init()
}

// failed shows why the answers would not load.
func (s *formScreen) failed(err error) { s.err = err }

func (s *formScreen) update(msg tea.Msg) (move, tea.Cmd) {
	if s.err != nil {
		k, ok := msg.(tea.KeyPressMsg)
		if !ok {
			return nil, nil
		}
		if key.Matches(k, s.ui.keys.Quit) && k.String() == "ctrl+c" {
			return nil, tea.Quit
		}
		return nil, s.start()
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "esc" {
		s.form = nil
		return toHome{}, nil
	}
	f, cmd := s.form.Update(msg)
	s.form = f.(*huh.Form)
	switch s.form.State {
	case huh.StateAborted:
		return nil, tea.Quit
	case huh.StateCompleted:
		a, data, err := s.af.Result()
		if err != nil {
			s.failed(err)
			return nil, nil
		}
		done := formDone{answers: a}
		if p, err := s.af.Save(data); err != nil {
			done.notice = "could not save the answers: " + err.Error()
		} else if p != "" {
			done.saved = p
			done.notice = "answers saved to " + p + " (no secrets)"
		}
		return done, nil
	}
	return nil, cmd
}

func (s *formScreen) resize() {
	if s.form != nil {
		s.form.WithWidth(s.ui.w).WithHeight(s.ui.h - 2)
	}
}

func (s *formScreen) view(title string) string {
	u := s.ui
	if s.err != nil {
		return u.frame(title, ansi.Wrap(s.errView(), u.w, ""),
			[]key.Binding{key.NewBinding(key.WithKeys("enter"), key.WithHelp("any key", "back to the answers"))})
	}
	return fit(u.st.header.Render(truncate(title+" · answers", u.w))+"\n"+s.form.View(), u.w, u.h)
}

func (s *formScreen) errView() string {
	var b strings.Builder
	b.WriteString(s.ui.st.bad.Render("These answers would not load from a file either:") + "\n\n")
	for _, l := range strings.Split(s.err.Error(), "\n") {
		b.WriteString("  • " + l + "\n")
	}
	return b.String()
}
