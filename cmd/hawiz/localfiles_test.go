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

// --log /dev/stderr (a link to a device, not a file someone could have
// planted) is accepted: the debug log goes there.
func TestLogFileDeviceLink(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "log")
	if err := os.Symlink(os.DevNull, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, "/dev/stderr"} {
		f, err := openLog(p)
		if err != nil {
			t.Fatalf("openLog(%s): %v", p, err)
		}
		f.Close()
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the link was replaced")
	}
}
