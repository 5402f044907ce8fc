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
	ui      *ui
	af      *answersForm
	form    *huh.Form // nil until opened, and after esc
	err     error     // why the answers would not load; nil = the form is on show
	discard bool      // esc on the first page: asking whether to drop the answers
}

func newFormScreen(u *ui, af *answersForm) *formScreen { return &formScreen{ui: u, af: af} }

// start opens the form, filled in with the answers so far.
func (s *formScreen) start() tea.Cmd {
	s.form = s.af.Form(false)
	s.err, s.discard = nil, false
	s.resize()
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
	if k, ok := msg.(tea.KeyPressMsg); ok && s.discard {
		switch k.String() {
		case "y", "Y":
			s.form, s.discard = nil, false
			return toHome{}, nil
		case "ctrl+c":
			return nil, tea.Quit
		case "n", "N", "esc", "enter":
			s.discard = false
		}
		return nil, nil
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "esc" {
		return nil, s.back()
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

// back is esc: the page before, with everything typed kept (a refused
// text too: it is checked again on the way forward); on the first page,
// a question before the answers are dropped.
func (s *formScreen) back() tea.Cmd {
	page := s.af.page(s.form.GetFocusedField())
	if page <= 0 {
		s.discard = true
		return nil
	}
	s.af.quiet = true
	defer func() { s.af.quiet = false }()
	cmds := []tea.Cmd{s.form.PrevGroup()}
	now := s.af.page(s.form.GetFocusedField())
	if now == page {
		s.discard = true // no page before it (the ones before are hidden)
		return cmds[0]
	}
	// huh focuses the field last used on that page (its group keeps the
	// index, and has no call to set it): step back to the page's first
	// field, as a page is read from its top
	first := s.af.firstField(now) // nil when now is not a page
	for range s.af.fieldsOn(now) {
		f := s.form.GetFocusedField()
		if first == nil || f == first || s.af.page(f) != now {
			break
		}
		cmds = append(cmds, s.form.PrevField())
	}
	return tea.Batch(cmds...)
}

// keys are the keys that work in the form: the focused field's, and esc.
func (s *formScreen) keys() []key.Binding {
	var ks []key.Binding
	if s.form != nil {
		if f := s.form.GetFocusedField(); f != nil {
			ks = append(ks, f.KeyBinds()...)
		}
	}
	back := "back a page"
	if s.form != nil && s.af.page(s.form.GetFocusedField()) <= 0 {
		back = "leave the form"
	}
	return append(ks, kb("esc", back), kb("ctrl+c", "quit"))
}

func (s *formScreen) resize() {
	if s.form != nil {
		s.form.WithWidth(s.ui.w).WithHeight(max(3, s.ui.h-1-s.ui.helpHeight(s.keys())))
	}
}

func (s *formScreen) view(title string) string {
	u := s.ui
	if s.err != nil {
		return u.frame(title, ansi.Wrap(s.errView(), u.w, ""),
			[]key.Binding{key.NewBinding(key.WithKeys("enter"), key.WithHelp("any key", "back to the answers"))})
	}
	if s.discard {
		body := u.st.warn.Render("Leave the form?") + "\n\n" +
			ansi.Wrap("The answers typed so far are dropped (nothing was saved). Leave the form for the home screen?", u.w, "")
		return u.frame(title+" · answers", body, []key.Binding{kb("y", "leave, drop the answers"), kb("n/esc", "stay in the form"), kb("ctrl+c", "quit")})
	}
	keys := s.keys()
	n := u.helpHeight(keys)
	s.form.WithHeight(max(3, u.h-1-n))
	return fit(u.st.header.Render(truncate(title+" · answers", u.w))+"\n"+s.form.View(), u.w, u.h-n) + "\n" + fit(u.helpLines(keys), u.w, n)
}

func (s *formScreen) errView() string {
	var b strings.Builder
	b.WriteString(s.ui.st.bad.Render("These answers would not load from a file either:") + "\n\n")
	for _, l := range strings.Split(s.err.Error(), "\n") {
		b.WriteString("  • " + l + "\n")
	}
	return b.String()
}
