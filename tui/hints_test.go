package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/steps"
)

// Config.ResumeHint replaces the engine's resume command (which `hawiz
// demo` cannot use) on the quit confirmation and the Stopped screen.
func TestGoldenStoppedResumeHint(t *testing.T) {
	m := running(t)
	m.cfg.ResumeHint = "run `hawiz demo` again to resume"
	m.Update(press("q"))
	if s := shot(m); !strings.Contains(s, "again to resume.") || strings.Contains(s, "`hawiz resume`") {
		t.Errorf("quit confirmation:\n%s", s)
	}
	m.Update(press("y"))
	for !m.finished() {
		m.engine((<-m.run.bridge.ch))
	}
	s := shot(m)
	checkSize(t, s, 80, 24)
	if strings.Contains(s, "hawiz resume") || strings.Contains(s, "--state") {
		t.Errorf("the engine's resume command is on the Stopped screen:\n%s", s)
	}
	for _, want := range []string{"Stopped: the state is kept", "stopped: interrupted", "Continue where it stopped: run `hawiz demo` again to resume", "Evidence report:"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q on the Stopped screen:\n%s", want, s)
		}
	}
	goldenEqual(t, s)
}

// Config.RemovedOnExit: a finished run whose files go when the wizard
// exits says so instead of listing their paths.
func TestGoldenFinishRemovedOnExit(t *testing.T) {
	m := running(t)
	m.cfg.RemovedOnExit = func() string {
		return "The demo root is removed when you exit: use `hawiz demo --keep` to keep the evidence report."
	}
	for i, id := range []string{"write-config", "enable-ha", "start-services", "check-dns"} {
		m.engine(eventMsg{steps.Event{Kind: steps.EventStepStart, Index: i + 2, Step: id}})
		m.engine(eventMsg{steps.Event{Kind: steps.EventStepDone, Index: i + 2, Step: id, Elapsed: time.Second}})
	}
	m.engine(runDoneMsg{outcome: steps.Outcome{Status: steps.StatusDone, StatePath: m.run.statePath}})
	s := shot(m)
	checkSize(t, s, 80, 24)
	for _, not := range []string{m.run.statePath, "Evidence report:", "hawiz check"} {
		if strings.Contains(s, not) {
			t.Errorf("%q on the finish screen:\n%s", not, s)
		}
	}
	if !strings.Contains(s, "Done: every step verified") || !strings.Contains(s, "use `hawiz demo --keep` to keep") {
		t.Errorf("finish screen:\n%s", s)
	}
	goldenEqual(t, s)
}
