package tui

import (
	"context"
	"fmt"
	"os"
	"reflect"
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

// reviewModel is the wizard with the fake procedure's answers filled in,
// in a teatest program at 80x24; run records the engine's configuration.
func reviewModel(t *testing.T, a steps.Answers) (*teatest.TestModel, *snap, func() steps.RunConfig) {
	t.Helper()
	var (
		mu  sync.Mutex
		got steps.RunConfig
	)
	run := func(ctx context.Context, rc steps.RunConfig) (steps.Outcome, error) {
		mu.Lock()
		got = rc
		mu.Unlock()
		<-ctx.Done()
		return steps.Outcome{Status: steps.StatusStopped}, &steps.StoppedError{Reason: "interrupted", Err: ctx.Err()}
	}
	m := New(Config{Procedures: []*steps.Procedure{fakeProc()}, StateDir: t.TempDir(), Run: run, NoSpinner: true,
		Now: func() time.Time { return t0 }, Getenv: func(string) string { return "" },
		Answers: map[string]steps.Answers{"fake-ha": a}, AnswersFrom: "The test filled these answers in."})
	sm := &snap{Model: m}
	curSnap = sm
	tm := teatest.NewTestModel(t, sm, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	t.Cleanup(func() {
		if m.run != nil {
			m.run.cancel()
			m.run.bridge.Close()
		}
	})
	return tm, sm, func() steps.RunConfig { mu.Lock(); defer mu.Unlock(); return got }
}

// Complete, valid answers (the demo's) open on a review, not the form:
// enter goes straight to the plan and the run gets the same answers.
func TestGoldenReview(t *testing.T) {
	a := fakeAnswersValid()
	tm, sm, got := reviewModel(t, a)
	waitText(t, tm, "Start a procedure")
	typeKeys(tm, "enter")
	waitText(t, tm, "Review the answers", "Member 2", "enter continue to the plan")
	s := sm.frame()
	checkSize(t, s, 80, 24)
	golden.RequireEqual(t, s)
	for _, not := range []string{"Member 3", "How many", "Save these answers"} {
		if strings.Contains(s, not) {
			t.Errorf("%q on the review:\n%s", not, s)
		}
	}
	typeKeys(tm, "enter")
	waitText(t, tm, "Plan — confirm to start", "Write the cluster configuration")
	typeKeys(tm, "enter")
	waitText(t, tm, "output")
	for got().Answers == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if !reflect.DeepEqual(got().Answers, a) {
		t.Errorf("run got answers %+v, want %+v", got().Answers, a)
	}
	typeKeys(tm, "q", "y")
	waitText(t, tm, "Stopped")
	typeKeys(tm, "q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}

// e opens the form filled in with the same answers; a change there is what
// the plan and the run get.
func TestReviewEdit(t *testing.T) {
	tm, _, got := reviewModel(t, fakeAnswersValid())
	waitText(t, tm, "Start a procedure")
	typeKeys(tm, "enter")
	waitText(t, tm, "Review the answers")
	typeKeys(tm, "e")
	waitText(t, tm, "┃ User")
	// accept the SSH page and the count as they are
	for range 6 {
		typeKeys(tm, "enter")
	}
	waitText(t, tm, "Member 1", "┃ Name")
	for range 5 {
		typeKeys(tm, "enter")
	}
	waitText(t, tm, "Member 2", "┃ Name")
	for range 5 {
		typeKeys(tm, "enter")
	}
	waitText(t, tm, "┃ Name", "central.example.com")
	for range len("central.example.com") {
		tm.Send(tea.KeyPressMsg{Code: tea.KeyBackspace})
	}
	tm.Type("other.example.com")
	typeKeys(tm, "enter", "enter", "enter")
	waitText(t, tm, "┃ Change advanced settings?")
	typeKeys(tm, "enter")
	waitText(t, tm, "Save these answers")
	typeKeys(tm, "enter")
	waitText(t, tm, "Plan — confirm to start")
	typeKeys(tm, "enter")
	waitText(t, tm, "output")
	for got().Answers == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if a := got().Answers.(*fakeAnswers); a.DNS.Name != "other.example.com" || len(a.Members) != 2 || a.Members[1].Host.Address != "10.0.0.2" {
		t.Errorf("run got answers %+v", a)
	}
	typeKeys(tm, "q", "y")
	waitText(t, tm, "Stopped")
	typeKeys(tm, "q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}

// Answers that are not complete (or not valid) open the form, filled in.
func TestReviewOnlyWhenValid(t *testing.T) {
	a := fakeAnswersValid()
	a.DNS.Name = ""
	tm, _, _ := reviewModel(t, a)
	waitText(t, tm, "Start a procedure")
	typeKeys(tm, "enter")
	waitText(t, tm, "┃ User")
	typeKeys(tm, "esc")
	waitText(t, tm, "Leave the form?")
	typeKeys(tm, "y")
	waitText(t, tm, "Start a procedure")
	typeKeys(tm, "q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}

type secretAnswers struct {
	User     string `yaml:"user"`
	Token    string `yaml:"api_token"`
	Key      string `yaml:"key" secret:"true"`
	KeyFile  string `yaml:"key_file"`
	URI      string `yaml:"uri"`
	Password bool   `yaml:"password_auth"`
}

func (a *secretAnswers) Validate() error { return nil }

// A secret's value is never on the review: secret-like keys, secret:"true"
// fields and a URL's password are masked; key files and yes/no are shown.
func TestReviewHidesSecrets(t *testing.T) {
	p := &steps.Procedure{Name: "sec", Title: "Secrets", NewAnswers: func() steps.Answers { return &secretAnswers{} },
		Steps: func(steps.Answers) ([]*steps.Step, error) { return nil, nil }}
	af := newAnswersForm(p)
	af.initial = &secretAnswers{User: "op", Token: "tok-123", Key: "k3y", KeyFile: "/etc/k.key", URI: "mongodb://u:pa55@db:27017/", Password: true}
	if af.prefilled() == nil {
		t.Fatal("not prefilled")
	}
	text := reviewText(af.review(), 80, newStyles().title, newStyles().dim) + plainReview(af.review())
	for _, secret := range []string{"tok-123", "k3y", "pa55"} {
		if strings.Contains(text, secret) {
			t.Errorf("%q on the review:\n%s", secret, text)
		}
	}
	for _, want := range []string{"/etc/k.key", "Password auth: yes", "mongodb://u:xxxxx@db:27017/", "Api token: " + hiddenValue} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q on the review:\n%s", want, text)
		}
	}
}

// syncBuf is an output buffer a feeder goroutine reads while prompts write.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// accessibleRun runs RunAccessible with the fake procedure's answers filled
// in, answering each prompt (the last, unfinished line of the output) with
// answer(prompt), one line at a time as huh's prompts read them.
func accessibleRun(t *testing.T, a steps.Answers, answer func(prompt string) string) (string, steps.RunConfig, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var got steps.RunConfig
	cfg := Config{Procedures: []*steps.Procedure{fakeProc()}, StateDir: t.TempDir(), Getenv: func(string) string { return "" },
		Answers: map[string]steps.Answers{"fake-ha": a}, AnswersFrom: "The test filled these answers in.",
		Run: func(ctx context.Context, rc steps.RunConfig) (steps.Outcome, error) {
			got = rc
			return steps.Outcome{Status: steps.StatusDone}, nil
		}}
	out := &syncBuf{}
	done := make(chan struct{})
	go func() {
		seen := 0
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			s := out.String()
			if len(s) == seen || strings.HasSuffix(s, "\n") {
				continue
			}
			seen = len(s)
			fmt.Fprintln(w, answer(s[strings.LastIndex(s, "\n")+1:]))
		}
	}()
	code, err := RunAccessible(context.Background(), cfg, r, out)
	close(done)
	if err != nil {
		t.Fatalf("RunAccessible: %v (exit %d)\n%s", err, code, out.String())
	}
	return out.String(), got, code
}

// Accessible mode: the same review as plain lines, then the plan.
func TestAccessibleReview(t *testing.T) {
	a := fakeAnswersValid()
	text, got, code := accessibleRun(t, a, func(prompt string) string {
		switch {
		case strings.Contains(prompt, "Run this plan now?"):
			return "y"
		default: // the procedure (1 of 1); continue to the plan (option 1)
			return "1"
		}
	})
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Review the answers. The test filled these answers in.", "Member 2:\n  Name: central2\n",
		"  Priority: 20\n", "DNS:\n  Name: central.example.com\n", "Plan: Fake service high availability"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
	for _, not := range []string{"How many members?", "Save these answers"} {
		if strings.Contains(text, not) {
			t.Errorf("%q asked after the review:\n%s", not, text)
		}
	}
	if !reflect.DeepEqual(got.Answers, a) {
		t.Errorf("run got %+v", got.Answers)
	}
}

// Accessible mode, "Edit answers": each prompt shows the value it has and
// enter keeps it (required fields too); a changed one is what the run gets.
func TestAccessibleReviewEdit(t *testing.T) {
	text, got, _ := accessibleRun(t, fakeAnswersValid(), func(prompt string) string {
		switch {
		case strings.Contains(prompt, "Run this plan now?"):
			return "y"
		case strings.Contains(prompt, "between 1 and 2"):
			return "2" // edit
		case strings.Contains(prompt, "Enter a number"):
			return "1"
		case strings.Contains(prompt, "Name [central.example.com]"):
			return "other.example.com"
		}
		return ""
	})
	for _, want := range []string{"How many members? [2]", "Name [central1]", "Host address [10.0.0.2]", "Priority [20]"} {
		if !strings.Contains(text, want) {
			t.Errorf("no prompt %q in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "is required") {
		t.Errorf("enter did not keep a required field's value:\n%s", text)
	}
	if a := got.Answers.(*fakeAnswers); len(a.Members) != 2 || a.Members[1].Priority != 20 || a.Members[0].Name != "central1" || a.DNS.Name != "other.example.com" {
		t.Errorf("run got %+v", a)
	}
}

// esc on the plan opens the form with the answers in its fields (huh
// fields read their values when built: a rebuilt form must not be empty).
func TestPlanBackKeepsAnswers(t *testing.T) {
	tm, _, _ := reviewModel(t, fakeAnswersValid())
	waitText(t, tm, "Start a procedure")
	typeKeys(tm, "enter")
	waitText(t, tm, "Review the answers")
	typeKeys(tm, "enter")
	waitText(t, tm, "Plan — confirm to start")
	typeKeys(tm, "esc")
	waitText(t, tm, "┃ User")
	for range 6 {
		typeKeys(tm, "enter")
	}
	waitText(t, tm, "Member 1", "┃ > central1", "> 10.0.0.1")
	typeKeys(tm, "esc")
	waitText(t, tm, "┃ How many members?", "> 2", "esc back a page")
	typeKeys(tm, "esc")
	// the first page, at its first field (not Password auth, the field
	// last used there): esc now asks before leaving
	waitText(t, tm, "SSH", "┃ User", "esc leave the form")
	if strings.Contains(curSnap.frame(), "┃ Password auth") {
		t.Fatalf("esc back a page focused the page's last field:\n%s", curSnap.frame())
	}
	typeKeys(tm, "esc")
	waitText(t, tm, "Leave the form?")
	typeKeys(tm, "n")
	waitText(t, tm, "┃ User")
	typeKeys(tm, "esc", "y")
	waitText(t, tm, "Start a procedure")
	// the home screen's header names no procedure (none is open)
	if first, _, _ := strings.Cut(curSnap.frame(), "\n"); strings.TrimSpace(first) != "hawiz" {
		t.Errorf("home header after leaving the form: %q", first)
	}
	typeKeys(tm, "q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}

// A review taller than the screen scrolls, and says so.
func TestReviewScrolls(t *testing.T) {
	m := New(Config{Procedures: []*steps.Procedure{fakeProc()}, StateDir: t.TempDir(), NoSpinner: true,
		Now: func() time.Time { return t0 }, Getenv: func(string) string { return "" },
		Answers: map[string]steps.Answers{"fake-ha": fakeAnswersValid()}})
	m.Update(tea.WindowSizeMsg{Width: 60, Height: 10})
	m.Update(press("enter"))
	s := shot(m)
	checkSize(t, s, 60, 10)
	if !strings.Contains(s, "Review the answers") || !strings.Contains(s, "↑/↓ scroll") || strings.Contains(s, "DNS") {
		t.Fatalf("review at 60x10:\n%s", s)
	}
	for i := 0; i < 20 && !strings.Contains(shot(m), "DNS       Name: central.example.com"); i++ {
		m.Update(press("down"))
	}
	if s := shot(m); !strings.Contains(s, "DNS       Name: central.example.com") {
		t.Fatalf("scrolled review:\n%s", s)
	}
}

// The plan wraps to the screen, continuation lines under their text.
func TestWrapHanging(t *testing.T) {
	in := "Note: 3 demo hosts are in-process SSH servers on 127.0.0.1 (ports 1, 2, 3); commands run here\n" +
		"    why:   High Availability mode is available only with the MSSQL or PostgreSQL database backend\n" +
		" 1. Preflight: every member reachable, sudo, preferences.cfg on a database\nshort"
	want := "Note: 3 demo hosts are in-process SSH servers on\n" +
		"      127.0.0.1 (ports 1, 2, 3); commands run here\n" +
		"    why:   High Availability mode is available\n" +
		"           only with the MSSQL or PostgreSQL\n" +
		"           database backend\n" +
		" 1. Preflight: every member reachable, sudo,\n" +
		"    preferences.cfg on a database\nshort"
	if got := wrapHanging(in, 50); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// A value longer than the line is broken at slashes on lines of its own.
func TestReviewLongPath(t *testing.T) {
	secs := []reviewSection{{title: "DNS", items: []reviewItem{{"Resolver", "127.0.0.1:53"},
		{"TSIG key file", "/tmp/tmp.DVqsNlBNsj/tmp/hawiz-demo-0/micetro-central-ha/demo.hawiz.test.key"}, {"Max wait", "10s"}}}}
	got := reviewText(secs, 60, newStyles().title, newStyles().dim)
	want := "DNS  Resolver: 127.0.0.1:53\n" +
		"     TSIG key file: /tmp/tmp.DVqsNlBNsj/tmp/hawiz-demo-0/\n" +
		"     micetro-central-ha/demo.hawiz.test.key\n" +
		"     Max wait: 10s\n"
	if s := ansi.Strip(got); s != want {
		t.Errorf("got\n%s\nwant\n%s", s, want)
	}
}
