package steps_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

// TestRunAgainAfterPreflightFailure: a run that failed in a Check, having
// changed nothing, is started again by the same command (it used to exit 2
// with "already holds a run"); a run whose Apply started is still refused.
func TestRunAgainAfterPreflightFailure(t *testing.T) {
	l := steptest.NewLab(t)
	state := filepath.Join(t.TempDir(), "s.json")
	// conf.txt is a regular file the host cannot read (a write-only proc
	// file: EACCES, or EINVAL for root): write-config's Check fails on h1.
	const unreadable = "/proc/self/clear_refs"
	if _, err := os.Lstat(unreadable); err != nil {
		t.Skip("no", unreadable)
	}
	if err := os.Symlink(unreadable, filepath.Join(l.Roots[0], "conf.txt")); err != nil {
		t.Fatal(err)
	}
	cfg := l.Config(t, state, "")
	if _, err := steps.Run(context.Background(), cfg); steps.ExitCode(err) != steps.ExitFailed {
		t.Fatalf("first run: exit %d: %v", steps.ExitCode(err), err)
	}
	st, err := steps.ReadState(state)
	if err != nil {
		t.Fatal(err)
	}
	if h := st.Step("write-config").Hosts[0]; h.Status != steps.StatusFailed || h.Attempts != 0 {
		t.Fatalf("write-config on h1: %+v", h)
	}
	for _, r := range l.Roots {
		if ents, _ := os.ReadDir(r); len(ents) > 1 || len(ents) == 1 && ents[0].Name() != "conf.txt" {
			t.Fatalf("the failed check changed %s: %v", r, ents)
		}
	}

	// The operator fixes the host and runs the same command again.
	os.Remove(filepath.Join(l.Roots[0], "conf.txt"))
	cfg = l.Config(t, state, "")
	rec := &steptest.Recorder{}
	cfg.Renderer = rec
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatalf("the same command again: exit %d: %v", steps.ExitCode(err), err)
	}
	said := false
	for _, e := range rec.Kinds(steps.EventInfo) {
		said = said || strings.Contains(e.Message, "changed nothing")
	}
	if !said {
		t.Error("no event says the earlier run changed nothing and is replaced")
	}
	if st, _ := steps.ReadState(state); st.Status != steps.StatusDone {
		t.Fatalf("state %s", st.Status)
	}

	// An Apply that started (and failed) changed something: still refused.
	l.ResetRoots(t)
	state2 := filepath.Join(t.TempDir(), "s2.json")
	os.WriteFile(filepath.Join(l.Roots[1], "fail"), nil, 0o644)
	cfg = l.Config(t, state2, "fail_on: write-config\n")
	if _, err := steps.Run(context.Background(), cfg); steps.ExitCode(err) != steps.ExitFailed {
		t.Fatalf("failing run: %v", err)
	}
	cfg = l.Config(t, state2, "fail_on: write-config\n")
	_, err = steps.Run(context.Background(), cfg)
	if steps.ExitCode(err) != steps.ExitUsage || !strings.Contains(err.Error(), "already holds a run") {
		t.Fatalf("a run that applied something: exit %d: %v", steps.ExitCode(err), err)
	}
}

// TestMissingUserRefusedBeforeConnecting: no ssh.user and no User in
// ssh_config is an error naming ssh.user and the host (exit 2), before any
// connection and before the state is written; a User from ssh_config for
// the host's address counts.
func TestMissingUserRefusedBeforeConnecting(t *testing.T) {
	l := steptest.NewLab(t)
	t.Setenv("USER", "tester") // the local user the old code fell back to
	state := filepath.Join(t.TempDir(), "s.json")
	noUser := strings.Replace(string(l.AnswersYAML("")), "  user: tester\n", "", 1)
	p := steptest.Procedure()
	a, err := steps.LoadAnswers(p, []byte(noUser))
	if err != nil {
		t.Fatal(err)
	}
	cfg := l.Config(t, state, "")
	cfg.Answers = a
	_, err = steps.Run(context.Background(), cfg)
	var fe steps.FieldErrors
	if steps.ExitCode(err) != steps.ExitUsage || !errors.As(err, &fe) || fe[0].Field != "ssh.user" ||
		!strings.Contains(err.Error(), "host h1") || !strings.Contains(err.Error(), "host h2") {
		t.Fatalf("exit %d: %v", steps.ExitCode(err), err)
	}
	for i, s := range l.Servers {
		if s.Accepted() != 0 {
			t.Fatalf("h%d: %d connections", i+1, s.Accepted())
		}
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("state written: %v", err)
	}
	// hawiz check (Audit) refuses the same way, before connecting.
	audit := cfg
	audit.StatePath = ""
	if _, err := steps.Audit(context.Background(), audit); steps.ExitCode(err) != steps.ExitUsage || !strings.Contains(err.Error(), "ssh.user") {
		t.Fatalf("audit: exit %d: %v", steps.ExitCode(err), err)
	}

	// A User in ssh_config for the hosts' address (Host 127.0.0.*) counts.
	sc := filepath.Join(t.TempDir(), "ssh_config")
	os.WriteFile(sc, []byte("Host 127.0.0.*\n  User tester\n"), 0o600)
	withConfig := strings.Replace(noUser, "ssh_config: none", "ssh_config: "+sc, 1)
	if a, err = steps.LoadAnswers(p, []byte(withConfig)); err != nil {
		t.Fatal(err)
	}
	cfg.Answers = a
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatalf("with a User in ssh_config: %v", err)
	}
}
