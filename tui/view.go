package tui

import (
	"errors"
	"regexp"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hawiz/hawiz/remote"
)

// View implements tea.Model.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "hawiz"
	return v
}

// Render is the screen in front, under a header naming the procedure, as a
// string of exactly the terminal's height in lines, each at most its width
// in cells.
func (m *Model) Render() string {
	title := "hawiz"
	if m.proc != nil {
		title += " · " + m.proc.Title
	}
	return m.front.view(title)
}

// hangingPrefix is what a continuation line is indented under: leading
// spaces and a list marker or label ("  1. ", "    why:   ", "Note: ", "- ").
var hangingPrefix = regexp.MustCompile(`^\s*(?:\d+[.)]\s+|[A-Za-z][A-Za-z ]{0,15}:\s+|-\s+)?`)

// wrapHanging wraps every line of s to w cells, continuation lines indented
// under the line's text (plain text: the plan).
func wrapHanging(s string, w int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if ansi.StringWidth(l) <= w {
			continue
		}
		ind := min(len(hangingPrefix.FindString(l)), w/2)
		first := ansi.Wrap(l, w, "")
		head, rest, _ := strings.Cut(first, "\n")
		if rest != "" {
			rest = strings.ReplaceAll(ansi.Wrap(strings.ReplaceAll(rest, "\n", " "), w-ind, ""), "\n", "\n"+strings.Repeat(" ", ind))
			head += "\n" + strings.Repeat(" ", ind) + rest
		}
		lines[i] = head
	}
	return strings.Join(lines, "\n")
}

// fit cuts s to h lines of at most w cells, padding with empty lines.
func fit(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		lines[i] = truncate(l, w)
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// errText is err's message without the engine's wrapping noise.
func errText(err error) string {
	if err == nil {
		return ""
	}
	var hk *remote.HostKeyChangedError
	if errors.As(err, &hk) {
		return hk.Error()
	}
	var ce *remote.HostCertError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	return err.Error()
}

// truncate cuts s to w cells.
func truncate(s string, w int) string { return ansi.Truncate(s, w, "…") }
