package main

import (
	"encoding/json"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

// Issue 17 item 7: run, resume and status say where the state, transcript
// and evidence report are (plain and JSON); status --all lists the runs of
// the state directory; the evidence names the operator and the answers.
func TestCLIRunFilesAndStatusAll(t *testing.T) {
	c := newEngineCLI(t)
	a := c.answers("ev.yaml", "manual: true\nuse_secret: true\n")
	state := filepath.Join(c.dir, "xdg", "hawiz", "test-files-ev.json")
	c.want(3, []string{"state: " + state + "\n", "transcript: " + steps.TranscriptPath(state) + "\n",
		"evidence: " + steps.EvidencePath(state) + "\n"}, "run", "test-files", "-a", a, "--yes", "--plain")
	os.WriteFile(filepath.Join(c.lab.Roots[0], "manual.txt"), nil, 0o644)
	out := c.want(0, nil, "resume", "--confirm", "confirm-by-hand", "--json")
	var files struct {
		Kind  string
		Files runFiles
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &files); err != nil || files.Kind != "files" ||
		files.Files.Evidence != steps.EvidencePath(state) || files.Files.Transcript != steps.TranscriptPath(state) || files.Files.State != state {
		t.Fatalf("resume --json's last line: %v %+v\n%s", err, files, out)
	}
	c.want(0, []string{"evidence: " + steps.EvidencePath(state)}, "status")
	out = c.want(0, []string{`"evidence": "` + steps.EvidencePath(state)}, "status", "--json")
	// a second run: both listed, newest first
	b := c.answers("second.yaml", "")
	c.want(0, nil, "run", "test-files", "-a", b, "--yes", "--plain")
	out = c.want(0, []string{"runs in " + filepath.Join(c.dir, "xdg", "hawiz"), "test-files  second", "test-files  ev", "done", state}, "status", "--all")
	if strings.Index(out, "second") > strings.Index(out, "  ev ") {
		t.Fatalf("not newest first:\n%s", out)
	}
	out = c.want(0, []string{`"run_name": "ev"`, `"state_dir"`}, "status", "--all", "--json")
	c.want(2, []string{"cannot be combined"}, "status", "--all", "--state", state)
	// the evidence report
	ev, err := os.ReadFile(steps.EvidencePath(state))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := user.Current()
	host, _ := os.Hostname()
	for _, want := range []string{"| Operator | `" + u.Username + "@" + host + "`", "## Answers", "greeting: hello"} {
		if !strings.Contains(string(ev), want) {
			t.Fatalf("evidence lacks %q:\n%s", want, ev)
		}
	}
	if strings.Contains(string(ev), steptest.Secret) {
		t.Fatal("secret in the evidence")
	}
	// no runs
	empty := newEngineCLI(t)
	empty.want(0, []string{"no runs in"}, "status", "--all")
}
