package tui

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/hawiz/hawiz/steps"
)

// snap wraps the model and keeps its last frame, so tests can wait for
// what is on screen rather than parse the renderer's cursor movements.
type snap struct {
	*Model
	mu   sync.Mutex
	last string
}

func (s *snap) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := s.Model.Update(msg)
	return s, cmd
}

func (s *snap) View() tea.View {
	v := s.Model.View()
	s.mu.Lock()
	s.last = ansi.Strip(v.Content)
	s.mu.Unlock()
	return v
}

func (s *snap) frame() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

var curSnap *snap

func waitText(t *testing.T, tm *teatest.TestModel, texts ...string) {
	t.Helper()
	sm := curSnap
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if hasAll(sm.frame(), texts) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("waiting for %q; the screen is:\n%s", texts, sm.frame())
	teatest.WaitFor(t, tm.Output(), func([]byte) bool {
		s := sm.frame()
		for _, x := range texts {
			if !strings.Contains(s, x) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

func typeKeys(tm *teatest.TestModel, keys ...string) {
	for _, k := range keys {
		switch k {
		case "enter", "esc", "down", "space":
			tm.Send(press(k))
		default:
			tm.Type(k)
		}
	}
}

// TestFlowAnswersPlanRun drives the wizard the way an operator does: pick
// the procedure, type the answers (a wrong value is refused as it is typed
// and as the answers file would be), save them, confirm the plan, run.
func TestFlowAnswersPlanRun(t *testing.T) {
	dir := t.TempDir()
	save := filepath.Join(dir, "fake.yaml")
	var (
		mu  sync.Mutex
		got steps.RunConfig
	)
	run := func(ctx context.Context, rc steps.RunConfig) (steps.Outcome, error) {
		mu.Lock()
		got = rc
		mu.Unlock()
		rc.Renderer.Event(steps.Event{Kind: steps.EventRunStart, Total: 5, StatePath: "/home/op/.local/state/hawiz/fake-ha-default.json"})
		list, _ := steps.BuildSteps(rc.Procedure, rc.Answers)
		for i, s := range list {
			rc.Renderer.Event(steps.Event{Kind: steps.EventStepStart, Index: i + 1, Total: len(list), Step: s.ID, Title: s.Title})
			if s.Manual != nil {
				if err := rc.Operator.ConfirmManual(ctx, s, ""); err != nil {
					return steps.Outcome{}, err
				}
			}
			rc.Renderer.Event(steps.Event{Kind: steps.EventStepDone, Index: i + 1, Step: s.ID, Elapsed: time.Second})
		}
		return steps.Outcome{Status: steps.StatusDone, StatePath: "/home/op/.local/state/hawiz/fake-ha-default.json"}, nil
	}
	m := New(Config{Procedures: []*steps.Procedure{fakeProc()}, StateDir: dir, Run: run, NoSpinner: true, Now: func() time.Time { return t0 },
		Getenv: func(string) string { return "" }})
	sm := &snap{Model: m}
	curSnap = sm
	tm := teatest.NewTestModel(t, sm, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	waitText(t, tm, "Start a procedure", "Fake service")
	typeKeys(tm, "enter")
	fill := func(title, text string) {
		t.Helper()
		waitText(t, tm, "┃ "+title)
		if text != "" {
			tm.Type(text)
		}
		tm.Send(press("enter"))
	}
	fill("User", "")
	for _, f := range []string{"Identity file", "Proxy jump", "Sudo", "Password auth"} {
		fill(f, "")
	}
	fill("How many members?", "2")
	for i, ip := range []string{"10.0.0.1", "10.0.0.2"} {
		waitText(t, tm, "Member "+string(rune('1'+i)))
		fill("Name", "central"+string(rune('1'+i)))
		fill("Host name", "")
		fill("Host address", ip)
		fill("Host OS", "")
		if i == 0 {
			fill("Priority", "")
			continue
		}
		fill("Priority", "5")
		waitText(t, tm, "Member 2 · Priority: 5 must be higher than the primary's 10")
		tm.Send(tea.KeyPressMsg{Code: tea.KeyBackspace})
		fill("Priority", "20")
	}
	fill("Name", "central.example.com")
	fill("TTL", "")
	fill("Max wait", "")
	fill("Change advanced settings?", "")
	fill("Save these answers", save)
	waitText(t, tm, "Plan — confirm to start")
	typeKeys(tm, "enter")
	waitText(t, tm, "By hand: Enable high availability")
	typeKeys(tm, "enter")
	waitText(t, tm, "Done: every step verified")
	golden.RequireEqual(t, sm.frame())
	typeKeys(tm, "q")
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*snap)
	if fm.ExitCode() != 0 {
		t.Errorf("exit code %d", fm.ExitCode())
	}
	mu.Lock()
	a := got.Answers.(*fakeAnswers)
	mu.Unlock()
	if len(a.Members) != 2 || a.Members[1].Priority != 20 || a.Members[0].Host.Address != "10.0.0.1" || a.DNS.Name != "central.example.com" {
		t.Errorf("answers %+v", a)
	}
	data, err := os.ReadFile(save)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := steps.LoadAnswers(fakeProc(), data); err != nil {
		t.Errorf("saved answers do not load: %v\n%s", err, data)
	}
	if !bytes.Contains(data, []byte("central.example.com")) {
		t.Errorf("saved answers:\n%s", data)
	}
}

func hasAll(s string, texts []string) bool {
	for _, x := range texts {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
