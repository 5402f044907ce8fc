package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/lab/fleet/tape"
)

// TestDemoTapeShape keeps demo.tape short and its waits specific: no key
// held down for pages of a form (the demo's answers are reviewed on one
// screen), no two waits in a row for the same text (the second would
// match the screen the first one saw), and under a minute of pauses.
func TestDemoTapeShape(t *testing.T) {
	f, err := os.Open("../../demo.tape")
	if err != nil {
		t.Fatal(err)
	}
	tp, err := tape.Parse(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var keys int
	var sleep time.Duration
	prev := ""
	for _, c := range tp.Cmds {
		switch c.Name {
		case "Key":
			keys += c.Count
			if c.Text == "Enter" && c.Count > 1 {
				t.Errorf("line %d: Enter %d: a wizard screen per Enter, wait for each", c.Line, c.Count)
			}
		case "Sleep":
			sleep += c.Delay
		case "Wait":
			if c.Pattern.String() == prev {
				t.Errorf("line %d: waits for /%s/ again: it matches the screen the previous wait saw", c.Line, prev)
			}
			prev = c.Pattern.String()
		}
	}
	if keys > 40 {
		t.Errorf("%d key presses", keys)
	}
	if sleep > 45*time.Second {
		t.Errorf("%v of pauses: the recording would run over a minute with the run itself", sleep)
	}
	t.Logf("%d key presses, %v of pauses", keys, sleep)
}

// TestDemoTapeReplay replays demo.tape's keystrokes into the built binary
// in a tmux pane of the tape's size and checks that the run finishes, then
// that the demo leaves nothing behind.
func TestDemoTapeReplay(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is not installed")
		}
		t.Skip("tmux is not installed")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	f, err := os.Open("../../demo.tape")
	if err != nil {
		t.Fatal(err)
	}
	tp, err := tape.Parse(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "hawiz"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o700)
	sock := filepath.Join(dir, "tmux.sock")
	conf := filepath.Join(dir, "tmux.conf")
	os.WriteFile(conf, []byte("set -g status off\nset -g remain-on-exit on\n"), 0o644)
	shell := fmt.Sprintf("cd %s && env -i HOME=%s TMPDIR=%s TERM=xterm-256color NO_COLOR=1 USER=demo HISTFILE=/dev/null PATH=%s bash --norc --noprofile",
		dir, dir, tmp, os.Getenv("PATH"))
	if out, err := exec.Command("tmux", "-S", sock, "-f", conf, "new-session", "-d", "-s", "demo",
		"-x", fmt.Sprint(tp.Cols), "-y", fmt.Sprint(tp.Rows), shell).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("tmux", "-S", sock, "kill-server").Run()
		time.Sleep(200 * time.Millisecond) // the shell's exit
	})
	pane := tape.Tmux{Socket: sock, Target: "demo"}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	t0 := time.Now()
	if err := tp.Play(ctx, pane, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("tape replayed in %v", time.Since(t0))
	scr, _ := pane.Screen()
	if !strings.Contains(scr, "Done: every step verified") {
		t.Fatalf("the final screen is not the finished run:\n%s", scr)
	}
	pane.Keys("Enter")
	deadline := time.Now().Add(20 * time.Second)
	for {
		scr, _ = pane.Screen()
		if strings.HasSuffix(strings.TrimRight(scr, "\n "), "$") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hawiz demo did not exit:\n%s", scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "hawiz-demo-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
