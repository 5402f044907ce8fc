package tui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/steps/steptest"
)

// colourSGR matches an SGR sequence that sets a colour (not 39/49, the defaults).
var colourSGR = regexp.MustCompile(`\x1b\[(?:[0-9;]*;)?(?:3[0-7]|4[0-7]|9[0-7]|10[0-7]|[34]8;[0-9;]+)m`)

// tmuxSession is a tmux server of its own (socket, config) with one 80x24 pane.
type tmuxSession struct {
	t    *testing.T
	sock string
}

func needTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is not installed (CI must install it: .ci/run)")
		}
		t.Skip("tmux is not installed")
	}
}

func startTmux(t *testing.T, dir string, env []string, argv ...string) *tmuxSession {
	t.Helper()
	conf := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g status off\nset -g default-size 80x24\nset -g remain-on-exit on\nset -g history-limit 5000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	socks, _ := filepath.Glob(filepath.Join(dir, "tmux-*.sock"))
	s := &tmuxSession{t: t, sock: filepath.Join(dir, fmt.Sprintf("tmux-%d.sock", len(socks)+1))}
	cmd := append([]string{"env"}, env...)
	cmd = append(cmd, argv...)
	// the shell reports the exit status (128+N for signal N) on the pane
	s.run("-f", conf, "new-session", "-d", "-x", "80", "-y", "24", "-s", "e2e", strings.Join(quoteAll(cmd), " ")+`; echo "wizard-exit=$?"`)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", s.sock, "kill-server").Run() })
	return s
}

func quoteAll(a []string) []string {
	out := make([]string, len(a))
	for i, s := range a {
		out[i] = "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return out
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", s.sock}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.run("capture-pane", "-p", "-t", "e2e") }

// wait waits until every text is on screen; it fails with the screen.
func (s *tmuxSession) wait(texts ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var scr string
	for time.Now().Before(deadline) {
		scr = s.screen()
		if hasAll(scr, texts) {
			return scr
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("waiting for %q; the screen is:\n%s", texts, scr)
	return ""
}

func (s *tmuxSession) keys(k ...string) { s.run(append([]string{"send-keys", "-t", "e2e"}, k...)...) }
func (s *tmuxSession) text(x string)    { s.run("send-keys", "-t", "e2e", "-l", x) }

// fill waits for the focused field titled title, types text and goes on.
func (s *tmuxSession) fill(title, text string) {
	s.t.Helper()
	s.wait("┃ " + title)
	if text != "" {
		s.text(text)
	}
	s.keys("Enter")
}

// exitStatus waits for the program to end and returns its exit status.
func (s *tmuxSession) exitStatus() int {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out := s.run("capture-pane", "-p", "-J", "-S", "-", "-t", "e2e")
		if i := strings.LastIndex(out, "wizard-exit="); i >= 0 {
			var status int
			if _, err := fmt.Sscan(out[i+len("wizard-exit="):], &status); err == nil {
				return status
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("the program did not end; the screen is:\n%s", s.screen())
	return -1
}

func buildBinary(t *testing.T, dir, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// TestTmuxWizardEndToEnd runs the built wizard in an 80x24 tmux pane
// against two in-process SSH hosts: answers typed, host keys accepted, plan
// confirmed, quit at the manual step, started again, resumed to the end.
func TestTmuxWizardEndToEnd(t *testing.T) {
	needTmux(t)
	if testing.Short() {
		t.Skip("-short")
	}
	lab := steptest.NewLab(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir, "./testdata/e2ehawiz")
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	save := filepath.Join(dir, "answers.yaml")
	env := []string{"HOME=" + home, "XDG_STATE_HOME=" + filepath.Join(dir, "state"), "TERM=xterm-256color",
		"NO_COLOR=1", "SSH_AUTH_SOCK=", "PAGER=cat", "USER=tester"}

	s := startTmux(t, dir, env, bin)
	s.wait("Start a procedure", "Test files", "writes files on two hosts")
	// NO_COLOR: attributes (bold) only, no foreground/background colours
	if c := colourSGR.FindString(s.run("capture-pane", "-e", "-p", "-t", "e2e")); c != "" {
		t.Errorf("NO_COLOR=1 but the screen has a colour: %q", c)
	}
	s.keys("Enter")
	// General: greeting, manual (y = yes), use secret, fail on.
	s.fill("Greeting", "hello from tmux")
	s.wait("┃ Manual")
	s.keys("y")
	s.wait("┃ Use secret")
	s.keys("n")
	s.fill("Fail on", "")
	s.fill("Hold", "")
	// SSH
	s.fill("User", "tester")
	s.fill("Identity file", lab.KeyPath)
	s.fill("Proxy jump", "")
	// a fixed set is a select: the third of nopasswd (default), password, none
	s.wait("┃ Sudo", "nopasswd (default)")
	s.keys("Down", "Down", "Enter")
	s.wait("┃ Password auth")
	s.keys("n")
	s.fill("How many hosts?", "2")
	for i := range lab.Servers {
		s.wait(fmt.Sprintf("Host %d", i+1))
		s.fill("Name", fmt.Sprintf("h%d", i+1))
		s.fill("Address", "127.0.0.1")
		s.fill("OS", "")
	}
	// the ports, known_hosts and ssh_config are overrides: advanced pages
	s.wait("┃ Change advanced settings?")
	s.keys("y")
	s.fill("Port", "")
	s.fill("Known hosts", lab.KnownHosts)
	s.fill("SSH config", "none")
	for i, srv := range lab.Servers {
		s.wait(fmt.Sprintf("Host %d · advanced", i+1))
		s.fill("Port", fmt.Sprint(srv.Port()))
		s.fill("User", "")
	}
	s.fill("Save these answers", save)
	s.wait("Plan — confirm to start", "Write conf.txt")
	s.keys("Enter")
	// host keys: both new
	s.wait("New hosts: check these SSH host keys", "h1 (127.0.0.1", "h2 (127.0.0.1", "SHA256:")
	s.keys("a")
	// the manual step: quit here (mid-run: three steps done)
	s.wait("By hand: Create manual.txt by hand", "manual.txt")
	s.keys("q")
	s.wait("Quit now?")
	s.keys("y")
	scr := s.wait("Stopped", "hawiz resume")
	if !strings.Contains(scr, "Evidence report:") {
		t.Errorf("no evidence path on the stopped screen:\n%s", scr)
	}
	s.keys("q")
	if st := s.exitStatus(); st != 3 {
		t.Fatalf("exit status %d after stopping, want 3", st)
	}
	if _, err := os.Stat(save); err != nil {
		t.Fatalf("answers not saved: %v", err)
	}
	for i, root := range lab.Roots {
		b, err := os.ReadFile(filepath.Join(root, "conf.txt"))
		if err != nil || string(b) != "greeting=hello from tmux\n" {
			t.Fatalf("host %d conf.txt = %q, %v", i+1, b, err)
		}
	}

	// start again: the run is listed under Resume, at the manual step.
	s.run("kill-server")
	s = startTmux(t, dir, env, bin)
	s.wait("Resume an unfinished run", "test-files", "Create manual.txt by hand")
	s.keys("Enter")
	s.wait("By hand: Create manual.txt by hand")
	if err := os.WriteFile(filepath.Join(lab.Roots[0], "manual.txt"), []byte("done\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.keys("Enter")
	s.wait("Done: every step verified", "Evidence report:")
	s.keys("Enter")
	if st := s.exitStatus(); st != 0 {
		t.Fatalf("exit status %d after resuming, want 0", st)
	}
	if b, err := os.ReadFile(filepath.Join(lab.Roots[0], "marker.txt")); err != nil || string(b) != "h1\n" {
		t.Fatalf("marker.txt = %q, %v", b, err)
	}
}

// lastLine is the last non-empty line of the pane (history included).
func (s *tmuxSession) lastLine() string {
	lines := strings.Split(strings.TrimRight(s.run("capture-pane", "-p", "-J", "-S", "-", "-t", "e2e"), "\n "), "\n")
	return lines[len(lines)-1]
}

// answer waits until the prompt on the last line contains prompt, then
// types line and Enter.
func (s *tmuxSession) answer(prompt, line string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(s.lastLine(), prompt) {
			if line != "" {
				s.text(line)
			}
			s.keys("Enter")
			// wait for the answer to be taken (the last line changes)
			for time.Now().Before(deadline) && strings.Contains(s.lastLine(), prompt) && strings.HasSuffix(strings.TrimSpace(s.lastLine()), strings.TrimSpace(prompt+" "+line)) {
				time.Sleep(20 * time.Millisecond)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("waiting for the prompt %q; the pane ends:\n%s", prompt, s.run("capture-pane", "-p", "-J", "-S", "-40", "-t", "e2e"))
}

// TestTmuxAccessible runs the same flow with TERM=dumb: huh's accessible
// prompts for the answers (validated the same way), the plan, then the
// plain renderer and line prompts, to the end.
func TestTmuxAccessible(t *testing.T) {
	needTmux(t)
	if testing.Short() {
		t.Skip("-short")
	}
	lab := steptest.NewLab(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir, "./testdata/e2ehawiz")
	env := []string{"HOME=" + dir, "XDG_STATE_HOME=" + filepath.Join(dir, "state"), "TERM=dumb", "SSH_AUTH_SOCK=", "USER=tester"}
	s := startTmux(t, dir, env, bin)
	s.answer("enter the number 1", "1")
	// the full-screen form's order: General, SSH, the count, the hosts
	s.answer("Greeting", "hello")
	s.answer("Manual", "n")
	s.answer("Use secret", "n")
	s.answer("Fail on", "")
	s.answer("Hold", "")
	s.answer("SSH · User", "tester")
	s.answer("Identity file", lab.KeyPath)
	s.answer("Proxy jump", "")
	// a select: its description first, then its choices by number
	s.wait("SSH · Sudo: Nopasswd: sudo -n", "1. nopasswd (default)", "3. none")
	s.answer("Enter a number between 1 and 3", "3")
	s.answer("Password auth", "n")
	s.answer("How many hosts?", "2")
	for i := range lab.Servers {
		s.answer(fmt.Sprintf("Host %d · Name", i+1), fmt.Sprintf("h%d", i+1))
		s.answer(fmt.Sprintf("Host %d · Address", i+1), "127.0.0.1")
		s.answer("Enter a number between 1 and 2", "")
	}
	s.answer("Change advanced settings?", "y")
	s.answer("SSH · Port", "99999")
	s.wait("SSH · Port: 99999 is not a TCP port")
	s.answer("SSH · Port", "")
	s.answer("Known hosts", lab.KnownHosts)
	s.answer("SSH config", "none")
	for i, srv := range lab.Servers {
		s.answer(fmt.Sprintf("Host %d · Port", i+1), fmt.Sprint(srv.Port()))
		s.answer(fmt.Sprintf("Host %d · User", i+1), "")
	}
	s.answer("Save these answers", "")
	s.answer("Run this plan now?", "y")
	s.answer("Accept and record them all?", "y")
	if st := s.exitStatus(); st != 0 {
		t.Fatalf("exit status %d, want 0; the pane ends:\n%s", st, s.run("capture-pane", "-p", "-J", "-S", "-40", "-t", "e2e"))
	}
	if b, err := os.ReadFile(filepath.Join(lab.Roots[1], "conf.txt")); err != nil || string(b) != "greeting=hello\n" {
		t.Fatalf("conf.txt = %q, %v", b, err)
	}
}
