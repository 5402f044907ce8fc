//go:build !windows

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/steps"
)

// exitPane is the built binary in a tmux pane of its own server (100x30);
// the shell prints the exit status when the binary ends.
type exitPane struct {
	t    *testing.T
	sock string
}

func startExitPane(t *testing.T, env []string, argv ...string) *exitPane {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is not installed")
		}
		t.Skip("tmux is not installed")
	}
	dir := t.TempDir()
	p := &exitPane{t: t, sock: filepath.Join(dir, "tmux.sock")}
	conf := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g status off\nset -g remain-on-exit on\nset -g history-limit 5000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var cmd []string
	for _, a := range append(append([]string{"env", "-i"}, env...), argv...) {
		cmd = append(cmd, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	p.tmux("-f", conf, "new-session", "-d", "-x", "100", "-y", "30", "-s", "x", strings.Join(cmd, " ")+`; echo "hawiz-exit=$?"`)
	t.Cleanup(func() { exec.Command("tmux", "-S", p.sock, "kill-server").Run() })
	return p
}

func (p *exitPane) tmux(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", p.sock}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (p *exitPane) all() string { return p.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "x") }

func (p *exitPane) lastLine() string {
	lines := strings.Split(strings.TrimRight(p.all(), "\n "), "\n")
	return lines[len(lines)-1]
}

// waitFor waits until the pane (history included) shows s; atPrompt: on its
// last line, as a prompt waiting for an answer.
func (p *exitPane) waitFor(s string, atPrompt bool) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if atPrompt && strings.Contains(p.lastLine(), s) || !atPrompt && strings.Contains(p.all(), s) {
			return
		}
		time.Sleep(30 * time.Millisecond)
	}
	p.t.Fatalf("waiting for %q; the pane ends:\n%s", s, p.tail())
}

func (p *exitPane) tail() string {
	lines := strings.Split(strings.TrimRight(p.all(), "\n "), "\n")
	return strings.Join(lines[max(0, len(lines)-25):], "\n")
}

// answer waits for prompt on the last line and types line and Enter.
func (p *exitPane) answer(prompt, line string) {
	p.t.Helper()
	p.waitFor(prompt, true)
	p.tmux("send-keys", "-t", "x", "-l", line)
	p.tmux("send-keys", "-t", "x", "Enter")
}

func (p *exitPane) keys(k ...string) { p.tmux(append([]string{"send-keys", "-t", "x"}, k...)...) }

// exitStatus waits for the binary to end and returns its exit status.
func (p *exitPane) exitStatus() int {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out := p.all()
		if i := strings.LastIndex(out, "hawiz-exit="); i >= 0 {
			var st int
			if _, err := fmt.Sscan(out[i+len("hawiz-exit="):], &st); err == nil {
				return st
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("hawiz did not end; the pane ends:\n%s", p.tail())
	return -1
}

// TestAccessibleCtrlCAndCtrlDExit: the built binary's accessible wizard
// (hawiz --accessible, hawiz demo --accessible, TERM=dumb hawiz demo) ends
// with exit 3 on Ctrl-C or Ctrl-D at any of its prompts — huh's (what to
// do, review, the plan's question) and the run's own line prompts (host
// keys) — and Ctrl-C in the full-screen wizard's form exits 3, not 0.
func TestAccessibleCtrlCAndCtrlDExit(t *testing.T) {
	bin := buildTestHawiz(t)
	type step struct{ prompt, line string }
	tests := []struct {
		name  string
		term  string
		args  []string
		steps []step // answered before the key
		at    string // the prompt (last line) where key is pressed
		key   string
		says  string // on the pane after
	}{
		{name: "hawiz --accessible, Ctrl-C at the first prompt", term: "xterm-256color", args: []string{"--accessible"},
			at: "Enter a number between", key: "C-c", says: "interrupted (Ctrl-C)"},
		{name: "hawiz --accessible, Ctrl-D at the first prompt", term: "xterm-256color", args: []string{"--accessible"},
			at: "Enter a number between", key: "C-d", says: "input ended (Ctrl-D)"},
		{name: "hawiz demo --accessible, Ctrl-C at the review's question", term: "xterm-256color", args: []string{"demo", "--accessible"},
			steps: []step{{"Enter a number between", "1"}}, at: "Enter a number between 1 and 2", key: "C-c", says: "interrupted (Ctrl-C)"},
		{name: "TERM=dumb hawiz demo, Ctrl-D at the plan's question", term: "dumb", args: []string{"demo"},
			steps: []step{{"Enter a number between", "1"}, {"Enter a number between 1 and 2", "1"}}, at: "Run this plan now?", key: "C-d", says: "input ended (Ctrl-D)"},
		{name: "hawiz demo --accessible, Ctrl-C at the host keys", term: "xterm-256color", args: []string{"demo", "--accessible"},
			steps: []step{{"Enter a number between", "1"}, {"Enter a number between 1 and 2", "1"}, {"Run this plan now?", "y"}},
			at:    "Accept and record them all?", key: "C-c", says: "interrupted"},
		{name: "TERM=dumb hawiz demo, Ctrl-D at the host keys", term: "dumb", args: []string{"demo"},
			steps: []step{{"Enter a number between", "1"}, {"Enter a number between 1 and 2", "1"}, {"Run this plan now?", "y"}},
			at:    "Accept and record them all?", key: "C-d", says: "input closed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_STATE_HOME=" + filepath.Join(home, "state"),
				"TMPDIR=" + home, "TERM=" + tc.term, "NO_COLOR=1", "SSH_AUTH_SOCK=", "USER=tester"}
			p := startExitPane(t, env, append([]string{bin}, tc.args...)...)
			for _, s := range tc.steps {
				p.answer(s.prompt, s.line)
			}
			p.waitFor(tc.at, true)
			p.keys(tc.key)
			if st := p.exitStatus(); st != steps.ExitStopped {
				t.Fatalf("exit status %d after %s, want %d; the pane ends:\n%s", st, tc.key, steps.ExitStopped, p.tail())
			}
			p.waitFor(tc.says, false)
		})
	}
	t.Run("hawiz full-screen, Ctrl-C in the form", func(t *testing.T) {
		home := t.TempDir()
		env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_STATE_HOME=" + filepath.Join(home, "state"),
			"TMPDIR=" + home, "TERM=xterm-256color", "NO_COLOR=1", "SSH_AUTH_SOCK=", "USER=tester"}
		p := startExitPane(t, env, bin)
		p.waitFor("Start a procedure", false)
		p.keys("Enter")
		p.waitFor("┃", false) // the form's focused field
		p.keys("C-c")
		if st := p.exitStatus(); st != steps.ExitStopped {
			t.Fatalf("exit status %d after ctrl+c in the form, want %d; the pane ends:\n%s", st, steps.ExitStopped, p.tail())
		}
		p.waitFor("interrupted (ctrl+c)", false)
	})
}
