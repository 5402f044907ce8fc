package steps_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gofrs/flock"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

func TestMain(m *testing.M) {
	if os.Getenv("HAWIZ_TEST_CHILD") != "" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// childMain runs the test procedure from the answers in HAWIZ_TEST_ANSWERS
// and SIGKILLs itself at transition HAWIZ_TEST_KILL ("before-save:N" or
// "after-save:N").
func childMain() int {
	data, err := os.ReadFile(os.Getenv("HAWIZ_TEST_ANSWERS"))
	if err != nil {
		return 90
	}
	p := steptest.Procedure()
	a, err := steps.LoadAnswers(p, data)
	if err != nil {
		return 91
	}
	point, nStr, _ := strings.Cut(os.Getenv("HAWIZ_TEST_KILL"), ":")
	n, _ := strconv.Atoi(nStr)
	sig := syscall.SIGKILL
	ctx := context.Background()
	if os.Getenv("HAWIZ_TEST_SIGNAL") == "TERM" {
		// As in cmd/hawiz: SIGTERM/SIGINT cancel the run's context.
		sig = syscall.SIGTERM
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
		defer stop()
	}
	_, err = steps.Run(ctx, steps.RunConfig{
		Procedure: p, Answers: a, StatePath: os.Getenv("HAWIZ_TEST_STATE"), RunName: "t",
		Operator: steps.NonInteractive{Yes: true}, Yes: true,
		Remote: remote.Options{AgentSocket: "none"},
		Getenv: steptest.Getenv(map[string]string{"HAWIZ_APPDB_PASSWORD": steptest.Secret}),
		Hook: func(p string, i int) {
			if p == point && i == n {
				syscall.Kill(os.Getpid(), sig)
				if sig == syscall.SIGTERM {
					<-ctx.Done()
				}
			}
		},
	})
	return steps.ExitCode(err)
}

func TestRunThenResumeIsIdempotent(t *testing.T) {
	l := steptest.NewLab(t)
	state := filepath.Join(t.TempDir(), "s.json")
	cfg := l.Config(t, state, "use_secret: true\n")
	out, err := steps.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if out.Status != steps.StatusDone {
		t.Fatalf("status %s", out.Status)
	}
	want := map[string]string{"h1:conf.txt": "greeting=hello\n", "h2:conf.txt": "greeting=hello\n", "h1:counter": "1\n",
		"h1:marker.txt": "h1\n", "h2:marker.txt": "h2\n", "h2:secret.txt": steptest.Secret}
	if got := l.Files(t); steptest.MapString(got) != steptest.MapString(want) {
		t.Fatalf("files:\n%s\nwant:\n%s", steptest.MapString(got), steptest.MapString(want))
	}
	st, err := steps.ReadState(state)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Steps {
		if s.Status() != steps.StatusDone {
			t.Errorf("step %s: %s", s.ID, s.Status())
		}
	}
	// Resume a finished run: everything is re-checked, nothing re-applied.
	cfg2 := l.Config(t, state, "")
	cfg2.Answers, cfg2.Resume = nil, true
	rec := &steptest.Recorder{}
	cfg2.Renderer = rec
	if _, err := steps.Run(context.Background(), cfg2); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if n := len(rec.Kinds(steps.EventApply)); n != 0 {
		t.Errorf("resume of a finished run applied %d times", n)
	}
	if got := l.Files(t); steptest.MapString(got) != steptest.MapString(want) {
		t.Fatalf("after resume:\n%s", steptest.MapString(got))
	}
	// A new `run` on a finished state starts over: a fresh state without
	// the old run's facts (so the test procedure's counter moves again).
	if _, err := steps.Run(context.Background(), l.Config(t, state, "use_secret: true\n")); err != nil {
		t.Fatalf("second run: %v", err)
	}
	want["h1:counter"] = "2\n"
	if got := l.Files(t); steptest.MapString(got) != steptest.MapString(want) {
		t.Fatalf("after second run:\n%s", steptest.MapString(got))
	}
	for _, p := range []string{steps.TranscriptPath(state), steps.EvidencePath(state)} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
}

// TestSIGKILLAtEveryTransition kills a child run at every transition point
// (before and after every state write), resumes it in-process, and checks the
// hosts end as after an uninterrupted run.
func TestSIGKILLAtEveryTransition(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	l := steptest.NewLab(t)
	dir := t.TempDir()
	extra := "use_secret: true\n"
	answers := filepath.Join(dir, "answers.yaml")
	if err := os.WriteFile(answers, l.AnswersYAML(extra), 0o600); err != nil {
		t.Fatal(err)
	}
	// Reference run, counting the transitions.
	ref := filepath.Join(dir, "ref.json")
	cfg := l.Config(t, ref, extra)
	saves := 0
	cfg.Hook = func(p string, n int) {
		if p == "after-save" {
			saves = n
		}
	}
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	want := steptest.MapString(l.Files(t))
	if saves < 10 {
		t.Fatalf("only %d transitions", saves)
	}
	t.Logf("%d state writes per run", saves)
	for n := 1; n <= saves; n++ {
		for _, point := range []string{"before-save", "after-save"} {
			l.ResetRoots(t)
			state := filepath.Join(dir, point+strconv.Itoa(n)+".json")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "HAWIZ_TEST_CHILD=1", "HAWIZ_TEST_ANSWERS="+answers,
				"HAWIZ_TEST_STATE="+state, "HAWIZ_TEST_KILL="+point+":"+strconv.Itoa(n))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var xe *exec.ExitError
			if !errors.As(err, &xe) || xe.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("%s %d: child did not die of SIGKILL: %v %s", point, n, err, stderr.String())
			}
			c := l.Config(t, state, extra)
			if _, err := os.Stat(state); err == nil {
				c.Answers, c.Resume = nil, true
			}
			if _, err := steps.Run(context.Background(), c); err != nil {
				t.Fatalf("%s %d: resume: %v", point, n, err)
			}
			if got := steptest.MapString(l.Files(t)); got != want {
				t.Fatalf("%s %d: end state differs:\n%s\nwant:\n%s", point, n, got, want)
			}
			st, err := steps.ReadState(state)
			if err != nil || st.Status != steps.StatusDone {
				t.Fatalf("%s %d: state %v %v", point, n, st, err)
			}
			for _, p := range []string{state, steps.TranscriptPath(state), steps.EvidencePath(state)} {
				if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(steptest.Secret)) {
					t.Fatalf("%s %d: %s holds the secret", point, n, filepath.Base(p))
				}
			}
		}
	}
}

func TestCorruptStateIsRefusedAndKept(t *testing.T) {
	l := steptest.NewLab(t)
	state := filepath.Join(t.TempDir(), "s.json")
	if _, err := steps.Run(context.Background(), l.Config(t, state, "")); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(state)
	for name, data := range map[string][]byte{
		"truncated":  good[:len(good)/2],
		"empty":      nil,
		"garbage":    []byte("\x00\x01not json"),
		"no-steps":   []byte(`{"schema":1,"procedure":"test-files","fingerprint":"x","steps":[]}`),
		"bad-status": bytes.Replace(good, []byte(`"status": "done"`), []byte(`"status": "maybe"`), 1),
		"bad-host":   lastReplaced(good, `"status": "done"`, `"status": "maybe"`),
		"unknown":    bytes.Replace(good, []byte(`"schema": 1,`), []byte(`"schema": 1, "password": "x",`), 1),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(state, data, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, resume := range []bool{true, false} {
				c := l.Config(t, state, "")
				if resume {
					c.Answers, c.Resume = nil, true
				}
				_, err := steps.Run(context.Background(), c)
				if steps.ExitCode(err) != steps.ExitRefused || !strings.Contains(err.Error(), "is corrupt") || !strings.Contains(err.Error(), "kept") {
					t.Fatalf("resume=%t: err %v (exit %d)", resume, err, steps.ExitCode(err))
				}
				if now, _ := os.ReadFile(state); !bytes.Equal(now, data) {
					t.Fatal("state file was modified")
				}
			}
		})
	}
}

func TestLockHeldIsRefused(t *testing.T) {
	l := steptest.NewLab(t)
	state := filepath.Join(t.TempDir(), "s.json")
	fl := flock.New(steps.LockPath(state))
	if ok, err := fl.TryLock(); !ok || err != nil {
		t.Fatal(ok, err)
	}
	os.WriteFile(steps.LockPath(state), []byte("4242\n"), 0o600)
	if pid, locked := steps.LockedBy(state); !locked || pid != "4242" {
		t.Fatalf("LockedBy = %q, %t", pid, locked)
	}
	_, err := steps.Run(context.Background(), l.Config(t, state, ""))
	if steps.ExitCode(err) != steps.ExitRefused || !strings.Contains(err.Error(), "another hawiz run holds") || !strings.Contains(err.Error(), "pid 4242") {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatal("state written while the lock was held")
	}
	fl.Unlock()
	if _, locked := steps.LockedBy(state); locked {
		t.Fatal("LockedBy after unlock")
	}
	if _, err := steps.Run(context.Background(), l.Config(t, state, "")); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}

func TestSecretsNeverWritten(t *testing.T) {
	l := steptest.NewLab(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "s.json")
	logPath := filepath.Join(dir, "debug.log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	red := remote.NewRedactor()
	cfg := l.Config(t, state, "use_secret: true\n")
	cfg.Redactor = red
	cfg.Logger = steptest.SlogJSON(lf, red)
	rec := &steptest.Recorder{}
	cfg.Renderer = rec
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	// The secret did reach the host.
	if b, _ := os.ReadFile(filepath.Join(l.Roots[1], "secret.txt")); string(b) != steptest.Secret {
		t.Fatalf("secret.txt = %q", b)
	}
	forms := []string{steptest.Secret, base64.StdEncoding.EncodeToString([]byte(steptest.Secret))}
	for _, p := range []string{state, steps.TranscriptPath(state), steps.EvidencePath(state), logPath} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			t.Errorf("%s is empty", p)
		}
		for _, f := range forms {
			if bytes.Contains(b, []byte(f)) {
				t.Errorf("%s contains the secret", filepath.Base(p))
			}
		}
		if filepath.Base(p) != "s.json" && !bytes.Contains(b, []byte(remote.Redacted)) {
			t.Errorf("%s has no [REDACTED] marker: the secret path was not exercised", filepath.Base(p))
		}
	}
	evs, _ := json.Marshal(rec.Events)
	if bytes.Contains(evs, []byte(steptest.Secret)) {
		t.Error("an event carries the secret")
	}
}

func TestManualStepWaitsThenConfirm(t *testing.T) {
	l := steptest.NewLab(t)
	state := filepath.Join(t.TempDir(), "s.json")
	cfg := l.Config(t, state, "manual: true\n")
	rec := &steptest.Recorder{}
	cfg.Renderer = rec
	out, err := steps.Run(context.Background(), cfg)
	if steps.ExitCode(err) != steps.ExitStopped || out.Status != steps.StatusWaiting {
		t.Fatalf("err %v status %s", err, out.Status)
	}
	if !strings.Contains(err.Error(), "hawiz resume --state "+state+" --confirm confirm-by-hand") {
		t.Errorf("no resume command in %q", err)
	}
	mw := rec.Kinds(steps.EventManualWait)
	if len(mw) != 1 || mw[0].Manual == nil || mw[0].Manual.Values[0].Value != "manual.txt" {
		t.Fatalf("manual-wait events %+v", mw)
	}
	// --confirm without doing the work: Verify fails (exit 1).
	c := l.Config(t, state, "")
	c.Answers, c.Resume, c.Confirm = nil, true, []string{"confirm-by-hand"}
	if _, err := steps.Run(context.Background(), c); steps.ExitCode(err) != steps.ExitFailed || !strings.Contains(err.Error(), "manual.txt is missing") {
		t.Fatalf("confirm without work: %v", err)
	}
	// The operator does it; resume (confirmation already recorded).
	os.WriteFile(filepath.Join(l.Roots[0], "manual.txt"), []byte("x"), 0o644)
	c.Confirm = nil
	if _, err := steps.Run(context.Background(), c); err != nil {
		t.Fatalf("resume: %v", err)
	}
	st, _ := steps.ReadState(state)
	if h := st.Step("confirm-by-hand").Hosts[0]; h.Status != steps.StatusDone {
		t.Fatalf("manual step %+v", h)
	}
}

func TestIncompatibleDefinitionRefused(t *testing.T) {
	l := steptest.NewLab(t)
	state := filepath.Join(t.TempDir(), "s.json")
	cfg := l.Config(t, state, "manual: true\n")
	if _, err := steps.Run(context.Background(), cfg); steps.ExitCode(err) != steps.ExitStopped {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(state)
	c := l.Config(t, state, "")
	c.Answers, c.Resume = nil, true
	c.Procedure.Version = 2
	_, err := steps.Run(context.Background(), c)
	if steps.ExitCode(err) != steps.ExitRefused || !strings.Contains(err.Error(), "different definition") {
		t.Fatalf("err %v", err)
	}
	if after, _ := os.ReadFile(state); !bytes.Equal(before, after) {
		t.Fatal("state modified")
	}
	// A `run` over an unfinished state is refused too (exit 2), pointing at resume.
	_, err = steps.Run(context.Background(), l.Config(t, state, "manual: true\n"))
	if steps.ExitCode(err) != steps.ExitUsage || !strings.Contains(err.Error(), "hawiz resume --state") {
		t.Fatalf("run over unfinished state: %v", err)
	}
}

func TestFailureThenResume(t *testing.T) {
	l := steptest.NewLab(t)
	state := filepath.Join(t.TempDir(), "s.json")
	os.WriteFile(filepath.Join(l.Roots[1], "fail"), nil, 0o644)
	cfg := l.Config(t, state, "fail_on: write-config\n")
	rec := &steptest.Recorder{}
	cfg.Renderer = rec
	out, err := steps.Run(context.Background(), cfg)
	var se *steps.StepError
	if steps.ExitCode(err) != steps.ExitFailed || !errors.As(err, &se) {
		t.Fatalf("err %v", err)
	}
	if se.Step != "write-config" || se.Host != "h2" || se.Action != "apply" || se.ExitStatus != 7 || out.Host != "h2" {
		t.Fatalf("step error %+v outcome %+v", se, out)
	}
	if !strings.Contains(strings.Join(se.Output, "\n"), "about to fail") {
		t.Errorf("output tail %q", se.Output)
	}
	f := rec.Kinds(steps.EventStepFailed)
	if len(f) != 1 || f[0].ExitStatus != 7 {
		t.Fatalf("failed events %+v", f)
	}
	st, _ := steps.ReadState(state)
	if st.Status != steps.StatusFailed || st.Step("write-config").Hosts[1].Status != steps.StatusFailed ||
		st.Step("write-config").Hosts[0].Status != steps.StatusDone {
		t.Fatalf("state %+v", st.Step("write-config").Hosts)
	}
	os.Remove(filepath.Join(l.Roots[1], "fail"))
	c := l.Config(t, state, "")
	c.Answers, c.Resume = nil, true
	if _, err := steps.Run(context.Background(), c); err != nil {
		t.Fatalf("resume: %v", err)
	}
}

func TestInterruptStopsResumably(t *testing.T) {
	l := steptest.NewLab(t)
	state := filepath.Join(t.TempDir(), "s.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := l.Config(t, state, "")
	cfg.Hook = func(p string, n int) {
		if p == "after-save" && n == 4 {
			cancel()
		}
	}
	out, err := steps.Run(ctx, cfg)
	if steps.ExitCode(err) != steps.ExitStopped || out.Status != steps.StatusStopped || !strings.Contains(err.Error(), "hawiz resume --state") {
		t.Fatalf("err %v out %+v", err, out)
	}
	st, err := steps.ReadState(state)
	if err != nil || st.Status != steps.StatusStopped {
		t.Fatalf("state %v %v", st, err)
	}
	c := l.Config(t, state, "")
	c.Answers, c.Resume = nil, true
	if _, err := steps.Run(context.Background(), c); err != nil {
		t.Fatalf("resume: %v", err)
	}
}

func TestSelectionFlags(t *testing.T) {
	l := steptest.NewLab(t)
	state := filepath.Join(t.TempDir(), "s.json")
	cfg := l.Config(t, state, "")
	cfg.Only = "touch-markers"
	rec := &steptest.Recorder{}
	cfg.Renderer = rec
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	w := rec.Kinds(steps.EventWarning)
	if len(w) != 1 || !strings.Contains(w[0].Message, "unsafe order") || !strings.Contains(w[0].Message, "write-config") ||
		strings.Contains(w[0].Message, "bump-counter") {
		t.Fatalf("warnings %+v", w)
	}
	if got := l.Files(t); len(got) != 2 || got["h1:marker.txt"] != "h1\n" {
		t.Fatalf("--only ran more: %v", got)
	}
	// Unknown step: usage error, nothing touched.
	c := l.Config(t, state, "")
	c.Answers, c.Resume, c.From = nil, true, "no-such-step"
	if _, err := steps.Run(context.Background(), c); steps.ExitCode(err) != steps.ExitUsage {
		t.Fatalf("unknown step: %v", err)
	}
	// --skip then --from: the rest runs, with a warning about the skipped prerequisite.
	c.From, c.Skip = "bump-counter", []string{"write-config"}
	rec2 := &steptest.Recorder{}
	c.Renderer = rec2
	if _, err := steps.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if len(rec2.Kinds(steps.EventWarning)) == 0 {
		t.Error("no warning for --from past an unfinished step")
	}
	// --redo applies even though the check says done.
	c.From, c.Skip, c.Redo = "", nil, []string{"touch-markers"}
	rec3 := &steptest.Recorder{}
	c.Renderer = rec3
	if _, err := steps.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	applied := map[string]int{}
	for _, e := range rec3.Kinds(steps.EventApply) {
		applied[e.Step]++
	}
	if applied["touch-markers"] != 2 || applied["bump-counter"] != 0 || applied["write-config"] != 2 {
		t.Fatalf("applied %v", applied)
	}
}

func TestAudit(t *testing.T) {
	l := steptest.NewLab(t)
	state := filepath.Join(t.TempDir(), "s.json")
	if _, err := steps.Run(context.Background(), l.Config(t, state, "")); err != nil {
		t.Fatal(err)
	}
	before := steptest.MapString(l.Files(t))
	cfg := l.Config(t, "", "")
	// The audit has no facts: bump-counter's check cannot hold.
	_, err := steps.Audit(context.Background(), cfg)
	var de *steps.DriftError
	if !errors.As(err, &de) || len(de.Drift) != 1 || !strings.Contains(de.Drift[0], "bump-counter") {
		t.Fatalf("audit: %v", err)
	}
	os.WriteFile(filepath.Join(l.Roots[1], "marker.txt"), []byte("tampered\n"), 0o644)
	_, err = steps.Audit(context.Background(), cfg)
	if !errors.As(err, &de) || len(de.Drift) != 2 || !strings.Contains(de.Drift[1], "touch-markers on h2: not done") || steps.ExitCode(err) != 1 {
		t.Fatalf("audit after tampering: %v", err)
	}
	after := l.Files(t)
	after["h2:marker.txt"] = "h2\n"
	if steptest.MapString(after) != before {
		t.Fatal("audit changed files")
	}
}

func lastReplaced(b []byte, old, new string) []byte {
	i := bytes.LastIndex(b, []byte(old))
	return append(append(append([]byte{}, b[:i]...), new...), b[i+len(old):]...)
}

// TestSIGTERMStopsResumably sends SIGTERM to a child run at several points:
// it must exit 3 with the state saved as stopped, and resume to the end.
func TestSIGTERMStopsResumably(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	l := steptest.NewLab(t)
	dir := t.TempDir()
	answers := filepath.Join(dir, "answers.yaml")
	if err := os.WriteFile(answers, l.AnswersYAML(""), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 5, 9} {
		l.ResetRoots(t)
		state := filepath.Join(dir, "term"+strconv.Itoa(n)+".json")
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "HAWIZ_TEST_CHILD=1", "HAWIZ_TEST_ANSWERS="+answers,
			"HAWIZ_TEST_STATE="+state, "HAWIZ_TEST_KILL=after-save:"+strconv.Itoa(n), "HAWIZ_TEST_SIGNAL=TERM")
		err := cmd.Run()
		var xe *exec.ExitError
		if !errors.As(err, &xe) || xe.ExitCode() != steps.ExitStopped {
			t.Fatalf("at %d: child exit %v, want %d", n, err, steps.ExitStopped)
		}
		st, err := steps.ReadState(state)
		if err != nil || st.Status != steps.StatusStopped || !strings.Contains(st.Message, "interrupted") {
			t.Fatalf("at %d: state %+v %v", n, st, err)
		}
		c := l.Config(t, state, "")
		c.Answers, c.Resume = nil, true
		if _, err := steps.Run(context.Background(), c); err != nil {
			t.Fatalf("at %d: resume: %v", n, err)
		}
	}
}

// TestDurableSaves: the state write before every Apply (write-ahead) and the
// run's last one are fsynced; the others (a Check that held, a Verify, facts)
// are only atomic, as a resume checks those steps again.
func TestDurableSaves(t *testing.T) {
	l := steptest.NewLab(t)
	state := filepath.Join(t.TempDir(), "s.json")
	cfg := l.Config(t, state, "use_secret: true\n")
	var (
		last, lastSynced, synced, saves int
		applies                         int
	)
	cfg.Hook = func(p string, n int) {
		switch p {
		case "synced":
			lastSynced = n
			synced++
		case "after-save":
			last = n
			saves = n
		}
	}
	rec := &steptest.Recorder{}
	cfg.Renderer = steps.RendererFunc(func(ev steps.Event) {
		rec.Event(ev)
		if ev.Kind == steps.EventApply {
			applies++
			if lastSynced != last || last == 0 {
				t.Errorf("apply of %s on %s after save %d, but the last fsynced save is %d", ev.Step, ev.Host, last, lastSynced)
			}
		}
	})
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if applies == 0 {
		t.Fatal("no apply")
	}
	if lastSynced != saves {
		t.Errorf("the run's last save (%d) is not fsynced (last fsynced %d)", saves, lastSynced)
	}
	if synced >= saves {
		t.Errorf("every save (%d) was fsynced", saves)
	}
	t.Logf("%d saves, %d fsynced, %d applies", saves, synced, applies)
	// A second run: fewer fsyncs (the Checks that hold write none).
	state2 := filepath.Join(t.TempDir(), "s2.json")
	cfg2 := l.Config(t, state2, "use_secret: true\n")
	synced, saves = 0, 0
	cfg2.Hook = cfg.Hook
	if _, err := steps.Run(context.Background(), cfg2); err != nil {
		t.Fatal(err)
	}
	t.Logf("re-run: %d saves, %d fsynced", saves, synced)
}
