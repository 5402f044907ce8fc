package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// The review screen: answers that are complete and valid already (filled
// in by `hawiz demo`, or any Config.Answers), compactly, before the plan;
// the form opens only to edit them. review.go lays the answers out.

type reviewScreen struct {
	cfg  *Config
	ui   *ui
	vp   viewport.Model
	secs []reviewSection
}

func newReviewScreen(cfg *Config, u *ui) *reviewScreen {
	return &reviewScreen{cfg: cfg, ui: u, vp: viewport.New()}
}

// open shows secs from the top (the model lays the screen out next).
func (s *reviewScreen) open(secs []reviewSection) {
	s.secs = secs
	s.vp.GotoTop()
}

func (s *reviewScreen) update(msg tea.Msg) (move, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil, nil
	}
	switch k.String() {
	case "ctrl+c", "q":
		return nil, tea.Quit
	case "esc":
		return toHome{}, nil
	case "e":
		return toForm{}, nil
	case "enter", "y":
		return toPlan{}, nil
	}
	var cmd tea.Cmd
	s.vp, cmd = s.vp.Update(msg)
	return nil, cmd
}

func (s *reviewScreen) resize() {
	u := s.ui
	s.vp.SetWidth(u.w)
	s.vp.SetHeight(max(1, u.h-1-u.helpHeight(s.keys())-strings.Count(s.head(), "\n")))
	s.vp.SetContent(reviewText(s.secs, u.w, u.st.title, u.st.dim) + "\n" +
		u.st.dim.Render(ansi.Wrap("Fields not listed are empty: hawiz uses their defaults. Secrets are never shown here.", u.w, "")))
}

// head is what the screen shows above the answers.
func (s *reviewScreen) head() string {
	from := cmpOr(s.cfg.AnswersFrom, "These answers are complete and valid.")
	return s.ui.st.title.Render("Review the answers") + "\n" +
		ansi.Wrap(from+" Continue to the plan, or edit them first.", s.ui.w, "") + "\n\n"
}

func (s *reviewScreen) view(title string) string {
	return s.ui.frame(title, s.head()+s.vp.View(), s.keys())
}

// keys are the keys that work on the review (scrolling when it is longer
// than the screen).
func (s *reviewScreen) keys() []key.Binding {
	keys := []key.Binding{
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "continue to the plan")),
		key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit answers")),
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")), s.ui.keys.Quit}
	if s.vp.TotalLineCount() > s.vp.Height() {
		scroll := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "scroll"))
		keys = append(keys[:2], append([]key.Binding{scroll, s.ui.keys.Top}, keys[2:]...)...)
	}
	return keys
}
