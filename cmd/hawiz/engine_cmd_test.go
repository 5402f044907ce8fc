package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

type engineCLI struct {
	t   *testing.T
	d   deps
	lab *steptest.Lab
	dir string
}

func newEngineCLI(t *testing.T) *engineCLI {
	dir := t.TempDir()
	e := map[string]string{"XDG_STATE_HOME": filepath.Join(dir, "xdg"), "HAWIZ_APPDB_PASSWORD": steptest.Secret}
	return &engineCLI{t: t, dir: dir, lab: steptest.NewLab(t), d: deps{
		catalog: func() []*steps.Procedure { return []*steps.Procedure{steptest.Procedure()} },
		getenv:  func(k string) string { return e[k] },
		remote:  remote.Options{AgentSocket: "none"},
		version: "test",
	}}
}

func (c *engineCLI) answers(name, extra string) string {
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, c.lab.AnswersYAML(extra), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

func (c *engineCLI) run(args ...string) (int, string) {
	c.t.Helper()
	root := &cobra.Command{Use: "hawiz", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newProceduresCmdWith(c.d), newAnswersCmdWith(c.d), newPlanCmdWith(c.d), newRunCmdWith(c.d),
		newResumeCmdWith(c.d), newStatusCmdWith(c.d), newCheckCmdWith(c.d))
	var out bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(""))
	err := root.ExecuteContext(context.Background())
	code := steps.ExitOK
	if err != nil {
		out.WriteString("ERROR: " + err.Error() + "\n")
		var ee *exitError
		code = steps.ExitUsage
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return code, out.String()
}

func (c *engineCLI) want(code int, contains []string, args ...string) string {
	c.t.Helper()
	got, out := c.run(args...)
	c.t.Logf("hawiz %s → %d\n%s", strings.Join(args, " "), got, out)
	if got != code {
		c.t.Fatalf("hawiz %s: exit %d, want %d\n%s", strings.Join(args, " "), got, code, out)
	}
	for _, s := range contains {
		if !strings.Contains(out, s) {
			c.t.Fatalf("hawiz %s: output lacks %q:\n%s", strings.Join(args, " "), s, out)
		}
	}
	return out
}

func TestCLIProceduresAnswersPlan(t *testing.T) {
	c := newEngineCLI(t)
	c.want(0, []string{"test-files", "writes files on two hosts"}, "procedures")
	c.want(0, []string{"greeting: hello"}, "answers", "test-files")
	c.want(2, []string{"unknown procedure"}, "answers", "nope")
	a := c.answers("ok.yaml", "")
	c.want(0, []string{"Plan: Test files", "[touch-markers]"}, "plan", "test-files", "-a", a)
	bad := filepath.Join(c.dir, "bad.yaml")
	os.WriteFile(bad, []byte("greeting: \"\"\nhosts: []\ncolor: x\n"), 0o600)
	c.want(2, []string{"is not valid (nothing was touched)", "unknown field color"}, "plan", "test-files", "-a", bad)
	os.WriteFile(bad, []byte("greeting: \"\"\nhosts: []\n"), 0o600)
	c.want(2, []string{"hosts: need exactly 2 hosts", "greeting: is required"}, "run", "test-files", "-a", bad, "--plain")
	c.want(2, []string{"needs an answers file"}, "run", "test-files")
}

func TestCLIRunManualResumeStatus(t *testing.T) {
	c := newEngineCLI(t)
	a := c.answers("prod.yaml", "manual: true\n")
	// Unknown host keys without --yes: refused, with the fingerprints.
	c.want(4, []string{"unknown host keys", "SHA256:"}, "run", "test-files", "-a", a)
	state := filepath.Join(c.dir, "xdg", "hawiz", "test-files-prod.json")
	out := c.want(3, []string{"MANUAL: Create manual.txt by hand", "File: manual.txt",
		"hawiz resume --state " + state + " --confirm confirm-by-hand"}, "run", "test-files", "-a", a, "--yes")
	if strings.Contains(out, steptest.Secret) {
		t.Fatal("secret on screen")
	}
	c.want(0, []string{"waiting", "confirm-by-hand", "steps done: 3 of 5"}, "status")
	c.want(2, []string{"no such step"}, "resume", "--confirm", "nope")
	c.want(2, []string{"not a manual step"}, "resume", "--confirm", "write-config")
	os.WriteFile(filepath.Join(c.lab.Roots[0], "manual.txt"), nil, 0o644)
	c.want(0, []string{"confirmed with --confirm", "hawiz: done"}, "resume", "--state", state, "--confirm", "confirm-by-hand", "--plain")
	c.want(0, []string{"done", "steps done: 5 of 5", "manual work confirmed"}, "status", "--state", state)
	ev, err := os.ReadFile(steps.EvidencePath(state))
	if err != nil || !strings.Contains(string(ev), "manual work confirmed by the operator") {
		t.Fatalf("evidence: %v\n%s", err, ev)
	}
	// Audit: everything but the fact-based counter check holds.
	c.want(1, []string{"bump-counter h1: DRIFT: not done", "1 check(s) do not hold"}, "check", "test-files", "-a", a)
	// With the run's state, its facts are known: everything holds.
	c.want(0, []string{"every check holds"}, "check", "--state", state, "--plain")
	c.want(0, []string{"every check holds"}, "check", "test-files", "-a", a, "--state", state)
	c.want(2, []string{"name a procedure"}, "check")
	os.WriteFile(state, []byte("{"), 0o600)
	c.want(4, []string{"is corrupt", "kept"}, "resume", "--state", state)
	c.want(4, []string{"is corrupt"}, "status", "--state", state)
}

func TestCLIJSONEvents(t *testing.T) {
	c := newEngineCLI(t)
	a := c.answers("j.yaml", "use_secret: true\n")
	state := filepath.Join(c.dir, "j.json")
	logFile := filepath.Join(c.dir, "debug.log")
	out := c.want(0, nil, "run", "test-files", "-a", a, "--json", "--yes", "--state", state, "--log", logFile)
	lg, err := os.ReadFile(logFile)
	if err != nil || !bytes.Contains(lg, []byte(`"msg":"event"`)) || bytes.Contains(lg, []byte(steptest.Secret)) ||
		!bytes.Contains(lg, []byte(remote.Redacted)) {
		t.Fatalf("debug log: %v\n%s", err, lg)
	}
	kinds := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev steps.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		kinds[string(ev.Kind)]++
	}
	if kinds["run-start"] != 1 || kinds["run-end"] != 1 || kinds["host-done"] != 7 || kinds["output"] != 3 {
		t.Fatalf("event kinds %v", kinds)
	}
	if strings.Contains(out, steptest.Secret) {
		t.Fatal("secret in JSON events")
	}
	c.want(2, []string{"cannot be combined"}, "run", "test-files", "-a", a, "--json", "--plain")
}

// run --confirm STEP: the manual step is recorded up front and one run goes
// to the end (automation); its verification still runs, and a step that is
// not manual or does not exist is refused before anything connects.
func TestCLIRunConfirm(t *testing.T) {
	c := newEngineCLI(t)
	a := c.answers("auto.yaml", "manual: true\n")
	c.want(2, []string{"not a manual step"}, "run", "test-files", "-a", a, "--yes", "--confirm", "write-config")
	c.want(2, []string{"no such step"}, "run", "test-files", "-a", a, "--yes", "--confirm", "nope")
	state := filepath.Join(c.dir, "xdg", "hawiz", "test-files-auto.json")
	if _, err := os.Stat(state); err == nil {
		t.Fatal("a refused --confirm wrote a state file")
	}
	// Confirmed but not done: its verification fails (the file is not there).
	c.want(1, []string{"confirmed with --confirm", "confirm-by-hand"}, "run", "test-files", "-a", a, "--yes", "--plain", "--confirm", "confirm-by-hand")
	os.WriteFile(filepath.Join(c.lab.Roots[0], "manual.txt"), nil, 0o644)
	os.Remove(state)
	c.want(0, []string{"confirmed with --confirm", "hawiz: done"}, "run", "test-files", "-a", a, "--yes", "--plain", "--confirm", "confirm-by-hand")
	c.want(0, []string{"done", "steps done: 5 of 5", "manual work confirmed"}, "status", "--state", state)
}
