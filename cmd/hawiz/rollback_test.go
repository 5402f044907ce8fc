package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/steps"
)

func (c *engineCLI) rollback(args ...string) (int, string) {
	c.t.Helper()
	root := &cobra.Command{Use: "hawiz", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newRollbackCmdWith(c.d))
	var out bytes.Buffer
	root.SetArgs(append([]string{"rollback"}, args...))
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
	c.t.Logf("hawiz rollback %s → %d\n%s", strings.Join(args, " "), code, out.String())
	return code, out.String()
}

// hawiz rollback shows the plan, asks (without --yes and no terminal: exit
// 3, nothing changed), and with --yes removes every file the run created.
func TestRollbackCommand(t *testing.T) {
	c := newEngineCLI(t)
	state := filepath.Join(c.dir, "run.json")
	c.want(steps.ExitOK, nil, "run", "test-files", "-a", c.answers("t.yaml", ""), "--state", state, "--yes")
	if code, out := c.rollback(); code != steps.ExitUsage || !strings.Contains(out, "--state") {
		t.Fatalf("no --state: %d", code)
	}
	code, out := c.rollback("--state", state)
	if code != steps.ExitStopped || !strings.Contains(out, "remove conf.txt on h1") || !strings.Contains(out, "--yes") {
		t.Fatalf("without --yes: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(c.lab.Roots[0], "conf.txt")); err != nil {
		t.Fatal("changed before the confirmation")
	}
	if code, _ := c.rollback("--state", state, "--yes"); code != steps.ExitOK {
		t.Fatalf("--yes: exit %d", code)
	}
	for _, r := range c.lab.Roots {
		for _, f := range []string{"conf.txt", "marker.txt"} {
			if _, err := os.Stat(filepath.Join(r, f)); err == nil {
				t.Errorf("%s/%s still there", r, f)
			}
		}
	}
	if _, err := os.Stat(steps.EvidencePath(steps.RollbackStatePath(state))); err != nil {
		t.Error(err)
	}
}
