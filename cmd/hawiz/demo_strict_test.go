//go:build !windows

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 17 item 8: --fail with an unknown step and --members 0 are usage
// errors, before anything runs, and leave nothing behind.
func TestDemoStrictFlags(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--plain", "--fail", "start-centrl2"}, `--fail "start-centrl2": micetro-central-ha has no such step; did you mean start-central2?`},
		{[]string{"--plain", "--members", "0"}, "--members 0: the demo needs 2 to 9 hosts"},
		{[]string{"--plain", "--members", "-1"}, "--members -1"},
	} {
		c := newDemoCmd()
		var out bytes.Buffer
		c.SetArgs(tc.args)
		c.SetOut(&out)
		c.SetErr(&out)
		err := c.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitOf(err) != 2 {
			t.Fatalf("hawiz demo %v: %v (exit %d), want %q\n%s", tc.args, err, exitOf(err), tc.want, out.String())
		}
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// The built binary: `hawiz demo --plain | head` removes the demo root (the
// closed pipe used to kill it with SIGPIPE first), and an interrupted demo
// does not suggest `hawiz resume --state` into a root that is gone.
func TestDemoPipeAndInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "hawiz")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o700)
	env := append(os.Environ(), "TMPDIR="+tmp)
	sh := exec.Command("sh", "-c", `"$0" demo --plain --seed 5 --speed 50ms | head -n 2`, bin)
	sh.Env = env
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("demo | head: %v\n%s", err, out)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
		t.Fatalf("hawiz demo --plain | head left %v\n%s", left, out)
	}
	// interrupted: the suggestion is to run the demo again
	cmd := exec.Command(bin, "demo", "--plain", "--seed", "6", "--speed", "300ms")
	cmd.Env = env
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("interrupted demo: %v\n%s", err, buf.String())
	}
	if s := buf.String(); strings.Contains(s, "hawiz resume") || !strings.Contains(s, "run `hawiz demo` again") {
		t.Fatalf("interrupted demo suggests:\n%s", s)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
		t.Fatalf("interrupted demo left %v", left)
	}
}
