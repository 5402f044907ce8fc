package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hawiz/hawiz/steps"
)

// finished ends m's run with every step done.
func finished(t *testing.T, m *Model) {
	t.Helper()
	for i, id := range []string{"write-config", "enable-ha", "start-services", "check-dns"} {
		m.engine(eventMsg{steps.Event{Kind: steps.EventStepStart, Index: i + 2, Step: id}})
		m.engine(eventMsg{steps.Event{Kind: steps.EventStepDone, Index: i + 2, Step: id, Elapsed: time.Second}})
	}
	m.engine(runDoneMsg{outcome: steps.Outcome{Status: steps.StatusDone, StatePath: m.run.statePath}})
}

// The finish screen says where the evidence report, transcript and state
// are: each path whole on one line, also a path with a space in it that
// does not fit beside its label at 80 columns (it gets a line of its own
// under the label; before, it was wrapped at its space), and beside the
// labels, aligned, when the screen is wide enough.
func TestGoldenFinishFilePaths(t *testing.T) {
	m := running(t)
	m.run.statePath = "/home/Ann Example/.local/state/hawiz/fake-ha-default.json"
	finished(t, m)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 30})
	s := shot(m)
	checkSize(t, s, 80, 30)
	lines := strings.Split(s, "\n")
	for _, p := range []string{steps.EvidencePath(m.run.statePath), steps.TranscriptPath(m.run.statePath), m.run.statePath} {
		found := false
		for _, l := range lines {
			if strings.TrimSpace(l) == p {
				found = true
			}
		}
		if !found {
			t.Errorf("%s is not whole on a line of its own:\n%s", p, s)
		}
	}
	if !strings.Contains(s, "Evidence report:\n  /home/Ann Example/") {
		t.Errorf("the evidence report's path is not under its label:\n%s", s)
	}
	goldenEqual(t, s)

	m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	s = shot(m)
	checkSize(t, s, 120, 30)
	for _, want := range []string{
		"Evidence report: " + steps.EvidencePath(m.run.statePath) + "\n",
		"Transcript:      " + steps.TranscriptPath(m.run.statePath) + "\n",
		"State:           " + m.run.statePath + "\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q at 120 columns:\n%s", want, s)
		}
	}
}
