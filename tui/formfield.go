package tui

import (
	"fmt"
	"io"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// formField is one of the form's huh fields with its refusal shown right
// under it, naming the field and wrapped to the form's width (huh lists a
// page's errors at its foot, unnamed, where they read as if about the
// whole page).
type formField struct {
	huh.Field
	af    *answersForm
	b     *binding // nil: a list's count, the advanced question, the save path
	label string   // "Agent 1 · Name": what the field is on its page
	desc  string   // what it takes (accessible prompts say it first)
	width int
}

var fieldErrStyle = lipgloss.NewStyle().Foreground(lipgloss.Color("9")).Bold(true)

func (af *answersForm) wrap(f huh.Field, b *binding, label, desc string) huh.Field {
	return &formField{Field: f, af: af, b: b, label: label, desc: desc}
}

// hidden reports whether the field is not asked as the answers stand
// (its when conditions do not hold).
func (f *formField) hidden() bool { return f.b != nil && !f.af.active(f.b) }

// Skip makes huh pass over a field that is not asked.
func (f *formField) Skip() bool { return f.hidden() || f.Field.Skip() }

// Error is the field's refusal (nil while esc goes back a page, and for a
// field that is not asked).
func (f *formField) Error() error {
	if f.af.quiet || f.hidden() {
		return nil
	}
	return f.Field.Error()
}

// Update keeps the wrapper in the group (huh stores what Update returns).
func (f *formField) Update(msg tea.Msg) (huh.Model, tea.Cmd) {
	m, cmd := f.Field.Update(msg)
	if ff, ok := m.(huh.Field); ok {
		f.Field = ff
	}
	return f, cmd
}

// View is the field, then its refusal under it; nothing for a field that
// is not asked.
func (f *formField) View() string {
	if f.hidden() {
		return ""
	}
	v := f.Field.View()
	err := f.Error()
	if err == nil {
		return v
	}
	w := f.width
	if w <= 0 {
		w = 80
	}
	return v + "\n" + fieldErrStyle.Render(ansi.Wrap("✗ "+err.Error(), max(10, w-2), " ,/"))
}

func (f *formField) WithWidth(w int) huh.Field {
	f.width = w
	f.Field.WithWidth(w)
	return f
}

func (f *formField) WithHeight(h int) huh.Field {
	f.Field.WithHeight(h)
	return f
}

func (f *formField) WithTheme(t huh.Theme) huh.Field {
	f.Field.WithTheme(t)
	return f
}

func (f *formField) WithKeyMap(k *huh.KeyMap) huh.Field {
	f.Field.WithKeyMap(k)
	return f
}

func (f *formField) WithPosition(p huh.FieldPosition) huh.Field {
	f.Field.WithPosition(p)
	return f
}

// accForm is the whole answers form as plain prompts (huh's accessible
// mode), in the full-screen form's order: a list's items are asked right
// after its count, as many as the count says, and the advanced pages only
// after a yes to "Change advanced settings?". Each prompt is preceded by
// its page and field and what it takes (description, example, default).
// It is one huh field, so huh's accessible run asks it as one question.
type accForm struct {
	huh.Field // the interface's other methods (a note that shows nothing)
	af        *answersForm
	secs      []section
	theme     huh.Theme
}

func (a *accForm) WithTheme(t huh.Theme) huh.Field {
	a.theme = t
	return a
}

// RunAccessible asks every field that is not hidden as the answers stand.
func (a *accForm) RunAccessible(w io.Writer, r io.Reader) error {
	for i := range a.secs {
		s := &a.secs[i]
		if a.af.hidden(s) {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", s.title)
		for _, f := range s.fields {
			if ff, ok := f.(*formField); ok && ff.hidden() {
				continue // its condition does not hold (an earlier answer)
			}
			if a.theme != nil {
				f.WithTheme(a.theme)
			}
			f.Init()
			f.Focus()
			if d := describeField(f); d != "" {
				fmt.Fprintln(w, d)
			}
			if err := f.RunAccessible(w, r); err != nil {
				return err
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

// describeField is what a prompt says before it asks: the field (with its
// page) and what it takes.
func describeField(f huh.Field) string {
	ff, ok := f.(*formField)
	if !ok {
		return ""
	}
	if ff.desc == "" {
		return ff.label + ":"
	}
	return ff.label + ": " + ff.desc
}
