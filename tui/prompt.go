package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// The engine's questions on the run screen, one type each (prompt_*.go):
// host keys, a manual step, a confirmation, a secret, a failed step. Each
// holds the reply channel its Bridge call waits on and answers it exactly
// once. The quit confirmation (prompt_quit.go) is the wizard's own
// question, not the engine's.

// prompt is an engine question on show.
type prompt interface {
	// update takes a message while the question is on show and returns
	// the prompt to show next: itself, or nil once it has been answered.
	update(msg tea.Msg, u *ui) (prompt, tea.Cmd)
	// view is the question and the keys that answer it.
	view(u *ui) (string, []key.Binding)
	// quits reports whether key s asks to quit the run rather than answer.
	quits(s string) bool
}

// quitKey is the key that asks to quit over a question: ctrl+c, or q.
func quitKey(s string) bool { return s == "ctrl+c" || s == "q" }

// onHost is " on host", or "" for none.
func onHost(host string) string {
	if host == "" {
		return ""
	}
	return " on " + host
}
