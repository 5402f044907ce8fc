package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Issue 17 item 4: the run, failure and finish screens tell the truth.

// The failure screen shows the failing command's own output (what the
// engine sent with the failure), not the output pane's earlier lines, and
// its title names the host once.
func TestFailureShowsTheFailingCommandsOutputHostOnce(t *testing.T) {
	m := running(t)
	list, _ := steps.BuildSteps(m.proc, m.answers)
	m.engine(eventMsg{steps.Event{Kind: steps.EventStepFailed, Index: 2, Step: "write-config", Host: "central1",
		Message: "step write-config on central1 failed in apply: exit status 7: broken"}})
	se := &steps.StepError{Step: "write-config", Host: "central1", Action: "apply", ExitStatus: 7,
		Err: &remote.ExitError{Status: 7, Stderr: "broken"}}
	m.engine(failureReq{step: list[1], host: "central1", err: se, reply: make(chan steps.FailureChoice, 1)})
	wantOnScreen(t, m, "Step failed: Write the cluster configuration on central1", "failed in apply: exit status 7: broken")
	// the engine sent no output with this failure: none is shown, not the
	// pane's "line d x x …" written before
	wantOffScreen(t, m, "line d", "[central1] FAILED")
	if n := strings.Count(shot(m), "central1"); n != 1 {
		t.Errorf("the host is named %d times, want once:\n%s", n, shot(m))
	}

	m2 := running(t)
	m2.engine(eventMsg{steps.Event{Kind: steps.EventStepFailed, Index: 2, Step: "write-config", Host: "central1",
		Message: "x", Output: []string{"about to fail", "broken"}}})
	m2.engine(failureReq{step: list[1], host: "central1", err: se, reply: make(chan steps.FailureChoice, 1)})
	wantOnScreen(t, m2, "about to fail", "broken")
	wantOffScreen(t, m2, "line d")
}

// A manual step that arrives while the quit dialog is open comes up once
// the dialog closes with "keep running".
func TestManualStepArrivingUnderQuitDialogIsShown(t *testing.T) {
	m := running(t)
	list, _ := steps.BuildSteps(m.proc, m.answers)
	m.Update(press("q"))
	wantOnScreen(t, m, "Quit now?")
	r := make(chan error, 1)
	m.engine(manualReq{step: list[2], host: "central1", reply: r})
	m.Update(press("n"))
	wantOnScreen(t, m, "By hand: Enable high availability in the web UI")
	m.Update(press("enter"))
	if err := <-r; err != nil {
		t.Fatalf("confirm: %v", err)
	}
}

// The header shows the step on show of all and the time since the start;
// the finish screen's time stops when the run ends.
func TestHeaderProgressAndFinishTimeStops(t *testing.T) {
	now := t0
	m := running(t)
	m.cfg.Now = func() time.Time { return now }
	now = now.Add(95 * time.Second)
	wantOnScreen(t, m, "step 2 of 5 · 1m35s")
	m.engine(runDoneMsg{outcome: steps.Outcome{Status: steps.StatusDone, StatePath: m.run.statePath}})
	wantOnScreen(t, m, "1m35s")
	now = now.Add(time.Hour)
	wantOnScreen(t, m, "1m35s")
	wantOffScreen(t, m, "1h1m35s")
}

// t opens the transcript as formatted rows in a scrolling view, not the
// file's JSON lines; t closes it.
func TestTranscriptViewerFormatsRows(t *testing.T) {
	m := running(t)
	dir := t.TempDir()
	m.run.statePath = filepath.Join(dir, "fake-ha-default.json")
	var b strings.Builder
	for i := range 60 {
		fmt.Fprintf(&b, `{"time":"2026-11-23T12:00:%02dZ","step":"write-config","host":"central1","action":"run","detail":"cp cluster.cfg /etc/fake.cfg #%d","exit_status":%d,"duration_ms":12.5,"output":"copied %d"}`+"\n", i%60, i, i%2, i)
	}
	if err := os.WriteFile(steps.TranscriptPath(m.run.statePath), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	m.Update(press("t"))
	wantOnScreen(t, m, "Transcript", "write-config central1  run cp cluster.cfg /etc/fake.cfg #59  exit 1", "│ copied 59")
	wantOffScreen(t, m, `{"time"`, "#0 ")
	m.Update(press("home"))
	wantOnScreen(t, m, "/etc/fake.cfg #0  13ms", "│ copied 0")
	m.Update(press("t"))
	wantOnScreen(t, m, "── output · write-config")
	wantOffScreen(t, m, "Transcript ·")
}

// A tall terminal shows every step row; 80x24 still keeps room for the
// output.
func TestTallTerminalShowsEveryStepRow(t *testing.T) {
	m := running(t)
	for i := len(m.run.rows); i < 24; i++ {
		m.run.rows = append(m.run.rows, &stepRow{id: fmt.Sprintf("extra-%d", i+1), title: fmt.Sprintf("Extra step number %d", i+1)})
	}
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 45})
	s := shot(m)
	checkSize(t, s, 160, 45)
	for i := range m.run.rows {
		if !strings.Contains(s, fmt.Sprintf("%2d. ", i+1)) {
			t.Fatalf("160x45: row %d not on screen:\n%s", i+1, s)
		}
	}
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	s = shot(m)
	checkSize(t, s, 80, 24)
	if !strings.Contains(s, "line d") {
		t.Fatalf("80x24: the output has no room:\n%s", s)
	}
}

// A resume command's path is never broken across lines at 80 columns: the
// command goes on lines of its own, broken only at spaces with " \".
func TestResumeCommandPathNotBroken(t *testing.T) {
	m := running(t)
	state := "/home/operator/.local/state/hawiz/micetro-central-ha-production-dc2.json" // 72 cells
	resume := "hawiz resume --state " + state + " --confirm enable-ha"
	m.engine(runDoneMsg{outcome: steps.Outcome{Status: steps.StatusWaiting, StatePath: state, Resume: resume},
		err: &steps.StoppedError{Reason: "waiting for manual step enable-ha", Resume: resume, Err: steps.ErrWaitingForOperator}})
	s := shot(m)
	checkSize(t, s, 80, 24)
	var trimmed []string
	for _, l := range strings.Split(s, "\n") {
		trimmed = append(trimmed, strings.TrimRight(l, " "))
	}
	s = strings.Join(trimmed, "\n")
	// every line naming the state holds its path whole (the error, the
	// evidence, transcript and state lines, the command)
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "/home/") && !strings.Contains(l, state[:len(state)-5]) {
			t.Errorf("a path broken across lines: %q", l)
		}
	}
	if !strings.Contains(s, "hawiz resume --state \\\n  "+state+" \\\n  --confirm enable-ha") {
		t.Errorf("the resume command is not on lines of its own, broken at spaces:\n%s", s)
	}
	if strings.Contains(s, state+"…") || strings.Contains(s, "dc2.json…") {
		t.Fatalf("a line is cut:\n%s", s)
	}
}
