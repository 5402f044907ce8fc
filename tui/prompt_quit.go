package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// The quit confirmation: the wizard's own question, over the run screen or
// over an engine question (which comes back on a no). Its answer goes to
// the run screen, which stops the run on a yes.

type quitPrompt struct{}

// update takes the answer: y or q stops the run, any other key keeps it.
func (quitPrompt) update(k tea.KeyPressMsg) (stop bool) {
	s := k.String()
	return s == "y" || s == "q"
}

// view shows the steps and the question; resumeHint is Config.ResumeHint.
func (quitPrompt) view(u *ui, steps, resumeHint string) (string, []key.Binding) {
	kept := "its state is kept and `hawiz resume` continues it."
	if resumeHint != "" {
		kept = "its state is kept: " + resumeHint + "."
	}
	body := steps + "\n\n" + u.st.warn.Render(wrapWords("Quit now? The run stops after the current action; "+kept, u.w)) + "\n"
	return body, []key.Binding{kb("y", "quit"), kb("n", "keep running")}
}
