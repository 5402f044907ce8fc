package tui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// testModel is the wizard at 80x24 with a fixed clock, no spinner, an empty
// state dir and a run func that waits for the test to end it.
func testModel(t *testing.T, run func(ctx context.Context, rc steps.RunConfig) (steps.Outcome, error)) *Model {
	t.Helper()
	if run == nil {
		run = func(ctx context.Context, rc steps.RunConfig) (steps.Outcome, error) {
			<-ctx.Done()
			return steps.Outcome{Status: steps.StatusStopped}, &steps.StoppedError{Reason: "interrupted", Resume: "hawiz resume --state /s/fake-ha-default.json", Err: ctx.Err()}
		}
	}
	m := New(Config{Procedures: []*steps.Procedure{fakeProc()}, StateDir: t.TempDir(), Run: run,
		Now: func() time.Time { return t0 }, NoSpinner: true, Getenv: func(string) string { return "" }})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	t.Cleanup(func() {
		if m.run != nil {
			m.run.cancel()
			m.run.bridge.Close()
		}
	})
	return m
}

func shot(m *Model) string { return ansi.Strip(m.Render()) }

func checkSize(t *testing.T, s string, w, h int) {
	t.Helper()
	lines := strings.Split(s, "\n")
	if len(lines) != h {
		t.Errorf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			t.Errorf("line %d is %d cells wide (> %d): %q", i+1, ansi.StringWidth(l), w, l)
		}
	}
}

func press(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// running puts m on the run screen of the fake procedure with events so far.
func running(t *testing.T) *Model {
	m := testModel(t, nil)
	m.proc = fakeProc()
	m.answers = fakeAnswersValid()
	m.startRun(steps.RunConfig{Procedure: m.proc, Answers: m.answers})
	m.run.statePath = "/home/op/.local/state/hawiz/fake-ha-default.json"
	evs := []steps.Event{
		{Kind: steps.EventRunStart, Total: 5},
		{Kind: steps.EventStepStart, Index: 1, Total: 5, Step: "stop-services", Title: "Stop the service on every member"},
		{Kind: steps.EventApply, Index: 1, Step: "stop-services", Host: "central1"},
		{Kind: steps.EventVerify, Index: 1, Step: "stop-services", Host: "central1", Evidence: "fake is inactive"},
		{Kind: steps.EventStepDone, Index: 1, Step: "stop-services", Elapsed: 1500 * time.Millisecond},
		{Kind: steps.EventStepStart, Index: 2, Total: 5, Step: "write-config", Title: "Write the cluster configuration"},
		{Kind: steps.EventApply, Index: 2, Step: "write-config", Host: "central1"},
	}
	for _, ev := range evs {
		m.engine(eventMsg{ev})
	}
	for i := range 30 {
		m.engine(eventMsg{steps.Event{Kind: steps.EventOutput, Step: "write-config", Host: "central1", Output: []string{"line " + string(rune('a'+i%26)) + strings.Repeat(" x", i)}}})
	}
	m.run.refreshOutput()
	return m
}

func TestGoldenHome(t *testing.T) {
	m := testModel(t, nil)
	s := shot(m)
	checkSize(t, s, 80, 24)
	golden.RequireEqual(t, s)
}

func TestGoldenRun(t *testing.T) {
	m := running(t)
	s := shot(m)
	checkSize(t, s, 80, 24)
	golden.RequireEqual(t, s)
}

func TestGoldenHostKeys(t *testing.T) {
	m := running(t)
	r := make(chan map[string]bool, 1)
	m.engine(hostKeysReq{keys: []remote.NewHostKey{
		{Host: "central1", Address: "10.0.0.1:22", KeyType: "ssh-ed25519", Fingerprint: "SHA256:Xq0bE1sQ2mUo3M1r6t7F1tY0bJd3L0cP5uWqg8a6cV4"},
		{Host: "central2", Address: "10.0.0.2:22", KeyType: "ecdsa-sha2-nistp256", Fingerprint: "SHA256:9y7r3Lr3l4aV2oM0uJ1tYwq8bCk2xXcD0sT5nQe4gH0"},
	}, reply: r})
	m.Update(press("down"))
	m.Update(press("space"))
	s := shot(m)
	checkSize(t, s, 80, 24)
	golden.RequireEqual(t, s)
	m.Update(press("enter"))
	got := <-r
	if !got["central2"] || got["central1"] {
		t.Fatalf("accepted %v, want only central2", got)
	}
}

func TestGoldenManual(t *testing.T) {
	m := running(t)
	list, _ := steps.BuildSteps(m.proc, m.answers)
	r := make(chan error, 1)
	m.engine(eventMsg{steps.Event{Kind: steps.EventManualWait, Index: 3, Step: "enable-ha"}})
	m.engine(manualReq{step: list[2], reply: r})
	s := shot(m)
	checkSize(t, s, 80, 24)
	golden.RequireEqual(t, s)
	m.Update(press("enter"))
	if err := <-r; err != nil {
		t.Fatalf("confirm: %v", err)
	}
	// stop here → ErrWaitingForOperator
	m.engine(manualReq{step: list[2], reply: r})
	m.Update(press("x"))
	if err := <-r; !errors.Is(err, steps.ErrWaitingForOperator) {
		t.Fatalf("stop: %v", err)
	}
}

func TestGoldenFailure(t *testing.T) {
	m := running(t)
	list, _ := steps.BuildSteps(m.proc, m.answers)
	m.engine(eventMsg{steps.Event{Kind: steps.EventStepFailed, Index: 2, Step: "write-config", Host: "central1", Message: "exit status 1", ExitStatus: 1,
		Output: []string{"cp: cannot create regular file '/etc/fake.cfg': Permission denied"}}})
	r := make(chan steps.FailureChoice, 1)
	m.engine(failureReq{step: list[1], host: "central1", err: errors.New("step write-config on central1 failed in apply (exit status 1): permission denied"), reply: r})
	s := shot(m)
	checkSize(t, s, 80, 24)
	golden.RequireEqual(t, s)
	m.Update(press("s"))
	if !strings.Contains(shot(m), "UNVERIFIED") {
		t.Fatal("skip did not warn")
	}
	m.Update(press("y"))
	if c := <-r; c != steps.Skip {
		t.Fatalf("choice %v, want Skip", c)
	}
	m.engine(failureReq{step: list[1], host: "central1", err: errors.New("again"), reply: r})
	m.Update(press("r"))
	if c := <-r; c != steps.Retry {
		t.Fatalf("choice %v, want Retry", c)
	}
}

func TestGoldenFinish(t *testing.T) {
	m := running(t)
	for i, id := range []string{"write-config", "enable-ha", "start-services", "check-dns"} {
		m.engine(eventMsg{steps.Event{Kind: steps.EventStepStart, Index: i + 2, Step: id}})
		m.engine(eventMsg{steps.Event{Kind: steps.EventStepDone, Index: i + 2, Step: id, Elapsed: time.Second}})
	}
	m.engine(runDoneMsg{outcome: steps.Outcome{Status: steps.StatusDone, StatePath: m.run.statePath}})
	s := shot(m)
	checkSize(t, s, 80, 24)
	golden.RequireEqual(t, s)
	if m.ExitCode() != 0 {
		t.Fatalf("exit %d", m.ExitCode())
	}
}

func TestGoldenStopped(t *testing.T) {
	m := running(t)
	m.Update(press("q"))
	if !strings.Contains(shot(m), "Quit now?") {
		t.Fatal("no quit confirmation")
	}
	m.Update(press("y"))
	// the fake engine returns once cancelled
	for !m.finished() {
		m.engine((<-m.run.bridge.ch))
	}
	s := shot(m)
	checkSize(t, s, 80, 24)
	golden.RequireEqual(t, s)
	if m.ExitCode() != steps.ExitStopped {
		t.Fatalf("exit %d, want 3", m.ExitCode())
	}
}

func TestResizeReflows(t *testing.T) {
	m := running(t)
	for _, sz := range [][2]int{{80, 24}, {60, 15}, {120, 40}, {40, 10}} {
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		checkSize(t, shot(m), sz[0], sz[1])
	}
}

func TestRingBounded(t *testing.T) {
	r := newRing(100)
	for i := range 1000 {
		r.Add(string(rune('a' + i%26)))
	}
	if r.Len() != 100 || r.Dropped() != 900 {
		t.Fatalf("len %d dropped %d", r.Len(), r.Dropped())
	}
	if got := r.At(0); got != string(rune('a'+900%26)) {
		t.Fatalf("oldest %q", got)
	}
}

func goldenEqual(t *testing.T, s string) { t.Helper(); golden.RequireEqual(t, s) }
