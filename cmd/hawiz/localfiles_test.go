package main

import (
	"os"
	"path/filepath"
	"testing"
)

// --log FILE that is a symbolic link is refused (exit 2) with an error naming
// it; the file it points to is neither written nor created, and nothing runs.
func TestLogFileLinkRefused(t *testing.T) {
	c := newEngineCLI(t)
	a := c.answers("l.yaml", "")
	state := filepath.Join(c.dir, "l.json")
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("victim\n"), 0o644)
	dangling := filepath.Join(t.TempDir(), "created-through-the-link")
	for _, target := range []string{victim, dangling} {
		logFile := filepath.Join(c.dir, "debug.log")
		os.Remove(logFile)
		if err := os.Symlink(target, logFile); err != nil {
			t.Fatal(err)
		}
		c.want(2, []string{"--log: " + logFile + " is a symbolic link"}, "run", "test-files", "-a", a, "--yes", "--plain", "--state", state, "--log", logFile)
		if b, _ := os.ReadFile(victim); string(b) != "victim\n" {
			t.Fatalf("victim written: %q", b)
		}
		if _, err := os.Lstat(dangling); !os.IsNotExist(err) {
			t.Fatal("a file was created through the --log link")
		}
		if _, err := os.Stat(state); !os.IsNotExist(err) {
			t.Fatal("the run started")
		}
	}
}
