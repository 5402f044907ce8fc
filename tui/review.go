package tui

import (
	"fmt"
	"net/url"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hawiz/hawiz/steps"
)

// The review: answers that are already complete and valid (filled in by
// `hawiz demo`, or any Config.Answers) are shown compactly, grouped by the
// form's sections, before the plan; the form opens only when the operator
// chooses to edit them.

// reviewItem is one answered field: its title in the form and its value.
type reviewItem struct{ title, value string }

// reviewSection is one of the form's sections with its answered fields.
type reviewSection struct {
	title string
	items []reviewItem
}

// hiddenValue stands for a secret's value on the review.
const hiddenValue = "(set, not shown)"

// secretKey reports whether a YAML key names a secret value (the answers
// should hold none: secrets come from prompts, the environment or files).
func secretKey(key string) bool {
	k := strings.ToLower(key)
	if strings.HasSuffix(k, "_file") || strings.HasSuffix(k, "_auth") {
		return false // a path to a key file; a yes/no
	}
	for _, w := range []string{"password", "passphrase", "secret", "token"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// reviewValue is how a field's text is shown: a URL's password masked.
func reviewValue(s string) string {
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
				return u.Redacted()
			}
		}
	}
	return s
}

// prefilled builds the form from af.initial and returns the answers when
// they load like a file would (complete and valid); nil otherwise, or when
// there were none.
func (af *answersForm) prefilled() steps.Answers {
	if af.initial == nil {
		return nil
	}
	af.rebuild()
	a, _, err := af.Result()
	if err != nil {
		return nil
	}
	return a
}

// review lists the answered fields by section, in the form's order: list
// items beyond the count are left out, empty fields (defaults) too, and a
// secret's value is never shown.
func (af *answersForm) review() []reviewSection {
	var out []reviewSection
	for _, s := range af.rebuild() {
		if s.count || s.list != nil && s.index >= s.list.n() || s.adv && !*af.advanced {
			continue
		}
		rs := reviewSection{title: s.title}
		for _, b := range s.binds {
			if !af.active(b) {
				continue // not asked: the default holds
			}
			var v string
			switch {
			case b.flag != nil:
				if *b.flag == b.defFlag {
					continue
				}
				v = map[bool]string{true: "yes", false: "no"}[*b.flag]
			default:
				v = strings.TrimSpace(*b.text)
				if v == "" {
					continue
				}
			}
			if b.secret {
				v = hiddenValue
			} else {
				v = reviewValue(v)
			}
			rs.items = append(rs.items, reviewItem{title: b.title, value: v})
		}
		if s.adv && len(rs.items) == 0 || s.gate {
			continue // no overrides: the defaults hold
		}
		out = append(out, rs)
	}
	return out
}

// reviewText lays the review out in width cells: section titles in a
// column, the fields as "Title: value" joined by " · ", wrapped under
// their section, in the given styles.
func reviewText(secs []reviewSection, width int, title, dim lipgloss.Style) string {
	col := 0
	for _, s := range secs {
		col = max(col, lipgloss.Width(s.title))
	}
	col = min(col+2, max(8, width/4))
	avail := max(20, width-col)
	var b strings.Builder
	for _, s := range secs {
		head := truncate(s.title, col-1)
		b.WriteString(title.Render(head) + strings.Repeat(" ", col-lipgloss.Width(head)))
		if len(s.items) == 0 {
			b.WriteString(dim.Render("(defaults)") + "\n")
			continue
		}
		used := 0
		for i, it := range s.items {
			piece := dim.Render(it.title+":") + " " + it.value
			w := lipgloss.Width(piece)
			sep := ""
			if i > 0 {
				sep = dim.Render(" · ")
			}
			if used > 0 && used+lipgloss.Width(sep)+w > avail {
				b.WriteString("\n" + strings.Repeat(" ", col))
				used, sep = 0, ""
			}
			if w > avail {
				// a long value (a path): on lines of its own, broken at
				// spaces and slashes; the next field starts a new line
				piece = strings.ReplaceAll(ansi.Wrap(piece, avail, "/"), "\n", "\n"+strings.Repeat(" ", col))
				w = avail
			}
			b.WriteString(sep + piece)
			used += lipgloss.Width(sep) + w
		}
		b.WriteString("\n")
	}
	return b.String()
}

// plainReview is the review for accessible mode: one line per field.
func plainReview(secs []reviewSection) string {
	var b strings.Builder
	for _, s := range secs {
		b.WriteString(s.title + ":\n")
		if len(s.items) == 0 {
			b.WriteString("  (defaults)\n")
		}
		for _, it := range s.items {
			fmt.Fprintf(&b, "  %s: %s\n", it.title, it.value)
		}
	}
	return b.String()
}
