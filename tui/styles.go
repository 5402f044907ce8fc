package tui

import "charm.land/lipgloss/v2"

// styles are the TUI's looks. Colours are downsampled (or dropped, with
// NO_COLOR) by the program's colour profile.
type styles struct {
	header, dim, ok, warn, bad, run, sel, panel, values, key, title lipgloss.Style
}

func newStyles() styles {
	return styles{
		header: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("12")),
		title:  lipgloss.NewStyle().Bold(true),
		dim:    lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		ok:     lipgloss.NewStyle().Foreground(lipgloss.Color("10")),
		warn:   lipgloss.NewStyle().Foreground(lipgloss.Color("11")),
		bad:    lipgloss.NewStyle().Foreground(lipgloss.Color("9")).Bold(true),
		run:    lipgloss.NewStyle().Foreground(lipgloss.Color("14")),
		sel:    lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("13")),
		panel:  lipgloss.NewStyle().Border(lipgloss.NormalBorder()).Padding(0, 1),
		values: lipgloss.NewStyle().Border(lipgloss.DoubleBorder()).BorderForeground(lipgloss.Color("11")).Padding(0, 1),
		key:    lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("11")),
	}
}
