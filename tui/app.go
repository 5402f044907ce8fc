package tui

import (
	"context"
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hawiz/hawiz/steps"
)

// Run shows the wizard full-screen until the operator leaves it and returns
// the process exit code (steps.ExitCode of the run; 3 when left with ctrl+c
// or a signal before a run ended; 0 when nothing ran). A
// run still going when the program ends (signal, ctx) is cancelled and
// waited for, so its state is written before Run returns.
func Run(ctx context.Context, cfg Config, opts ...tea.ProgramOption) (int, error) {
	m := New(cfg)
	opts = append([]tea.ProgramOption{tea.WithContext(ctx)}, opts...)
	w := &interrupts{Model: m}
	p := tea.NewProgram(w, opts...)
	_, err := p.Run()
	m.shutdown(30 * time.Second)
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, tea.ErrInterrupted) {
		return 1, err
	}
	code := m.ExitCode()
	if code == steps.ExitOK && !m.finished() && (w.ctrlC || errors.Is(err, tea.ErrInterrupted) || ctx.Err() != nil) {
		return steps.ExitStopped, errors.New("interrupted (ctrl+c) before a run started; nothing was started")
	}
	return code, nil
}

// interrupts is the program's model: the Model, noting whether the last key
// was ctrl+c, so that ctrl+c before a run has ended (in a form, on the plan)
// exits 3 (interrupted), not 0.
type interrupts struct {
	*Model
	ctrlC bool
}

func (w *interrupts) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		w.ctrlC = k.String() == "ctrl+c"
	}
	_, cmd := w.Model.Update(msg)
	return w, cmd
}

// shutdown stops a run that is still going and waits (up to d) for the
// engine to return.
func (m *Model) shutdown(d time.Duration) {
	if m.run == nil || m.finished() {
		return
	}
	b := m.run.bridge
	m.run.cancel()
	b.Continue()
	b.GiveUp()
	t := time.NewTimer(d)
	defer t.Stop()
	for !m.finished() {
		select {
		case x := <-b.ch:
			m.engine(x)
			// answer nothing: every question returns ctx.Err once cancelled
		case <-t.C:
			b.Close()
			return
		}
	}
	b.Close()
}

// Model is a tea.Model.
var _ tea.Model = (*Model)(nil)
