package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

// buildTestHawiz builds the real hawiz binary with -tags hawiztest, which
// adds the engine's test procedure (test-files) to its catalog and nothing
// else (steps/catalog/testonly_on.go).
func buildTestHawiz(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "hawiz")
	out, err := exec.Command("go", "build", "-tags", "hawiztest", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// hawizProc is the binary running one command, its stdout read line by line.
type hawizProc struct {
	cmd    *exec.Cmd
	lines  chan string
	stdout strings.Builder // every line read so far (only the reading goroutine writes; read after wait)
	stderr bytes.Buffer
	done   chan struct{}
}

func startHawiz(t *testing.T, bin, xdg string, args ...string) *hawizProc {
	t.Helper()
	p := &hawizProc{cmd: exec.Command(bin, args...), lines: make(chan string, 256), done: make(chan struct{})}
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + xdg, "XDG_STATE_HOME=" + xdg, "SSH_AUTH_SOCK=", "NO_COLOR=1"}
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill() })
	go func() {
		defer close(p.done)
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.stdout.WriteString(sc.Text() + "\n")
			p.lines <- sc.Text()
		}
	}()
	return p
}

// waitLine returns once a stdout line contains want (or fails at EOF or
// after a minute).
func (p *hawizProc) waitLine(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				p.cmd.Wait()
				t.Fatalf("hawiz ended without printing %q:\n%s%s", want, p.stdout.String(), p.stderr.String())
			}
			if strings.Contains(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no line %q within a minute", want)
		}
	}
}

// wait drains stdout and returns the exit code with stdout and stderr.
func (p *hawizProc) wait(t *testing.T) (int, string, string) {
	t.Helper()
	go func() {
		for range p.lines {
		}
	}()
	<-p.done
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return p.cmd.ProcessState.ExitCode(), p.stdout.String(), p.stderr.String()
}

func runHawiz(t *testing.T, bin, xdg string, args ...string) (int, string, string) {
	t.Helper()
	return startHawiz(t, bin, xdg, args...).wait(t)
}

// hostFiles are the lab's files without the hold mechanism's own.
func hostFiles(t *testing.T, l *steptest.Lab) string {
	t.Helper()
	m := l.Files(t)
	for k := range m {
		if strings.HasSuffix(k, ":release") || strings.HasSuffix(k, ":holding.pid") {
			delete(m, k)
		}
	}
	return steptest.MapString(m)
}

// TestCtrlCStopsResumably runs the built binary (`hawiz run … --plain`)
// and sends it SIGINT while a remote command of write-config runs on h2
// (the test procedure's hold: a command that waits for a file). The engine
// contract: Ctrl-C finishes the current remote action's bookkeeping (the
// remote command is ended and recorded), saves the state and exits 3 with
// the resume command; the state file parses, with write-config done on h1
// and started, not done, on h2; `hawiz resume` then finishes with exit 0 and
// the hosts hold what an uninterrupted run leaves.
func TestCtrlCStopsResumably(t *testing.T) {
	bin := buildTestHawiz(t)
	dir := t.TempDir()
	xdg := filepath.Join(dir, "xdg")
	l := steptest.NewLab(t)
	answers := filepath.Join(dir, "ctrl-c.yaml")
	os.WriteFile(answers, l.AnswersYAML("hold: write-config\n"), 0o600)
	state := filepath.Join(dir, "ctrl-c.json")
	os.WriteFile(filepath.Join(l.Roots[0], "release"), nil, 0o644) // h1 passes, h2 holds

	p := startHawiz(t, bin, xdg, "run", "test-files", "-a", answers, "--plain", "--yes", "--state", state)
	p.waitLine(t, "h2| holding until release exists")
	pid := readHoldPID(t, l.Roots[1])
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := p.wait(t)
	t.Logf("run → %d\n%s%s", code, stdout, stderr)
	if code != steps.ExitStopped {
		t.Fatalf("exit %d after Ctrl-C, want %d", code, steps.ExitStopped)
	}
	resume := "hawiz resume --state " + state
	if !strings.Contains(stderr, "stopped: interrupted during step write-config; resume with: "+resume) {
		t.Errorf("stderr lacks the resume command %q:\n%s", resume, stderr)
	}
	if !strings.Contains(stdout, "hawiz: stopped after") {
		t.Errorf("no run-end line:\n%s", stdout)
	}

	// The state: parsed, stopped, write-config done on h1, started on h2.
	st, err := steps.ReadState(state)
	if err != nil {
		t.Fatalf("state after Ctrl-C: %v", err)
	}
	wc := st.Step("write-config")
	if st.Status != steps.StatusStopped || wc == nil || wc.Host("h1").Status != steps.StatusDone ||
		wc.Host("h2").Status != steps.StatusStarted || wc.Host("h2").Finished != nil {
		b, _ := os.ReadFile(state)
		t.Fatalf("state after Ctrl-C:\n%s", b)
	}
	for _, id := range []string{"bump-counter", "touch-markers"} {
		if s := st.Step(id).Status(); s != steps.StatusPending {
			t.Errorf("%s is %s after an interruption before it", id, s)
		}
	}
	// The remote action was ended, and recorded in the transcript.
	if !processGone(pid) {
		t.Errorf("the interrupted remote command (pid %d) still runs", pid)
	}
	if a := holdAction(t, state); a == nil || a.Step != "write-config" || a.Error == "" {
		t.Errorf("transcript: the interrupted command is not recorded with its error: %+v", a)
	}
	if _, err := os.Stat(filepath.Join(l.Roots[1], "conf.txt")); err == nil {
		t.Error("h2's conf.txt was written although its step was interrupted before the write")
	}

	// Resume finishes the run.
	os.WriteFile(filepath.Join(l.Roots[1], "release"), nil, 0o644)
	code, stdout, stderr = runHawiz(t, bin, xdg, "resume", "--state", state, "--plain")
	t.Logf("resume → %d\n%s%s", code, stdout, stderr)
	if code != steps.ExitOK || !strings.Contains(stdout, "write-config h2: check: not done") {
		t.Fatalf("resume: exit %d", code)
	}
	if st, err := steps.ReadState(state); err != nil || st.Status != steps.StatusDone {
		t.Fatalf("state after resume: %v %v", st.Status, err)
	}

	// The same files as an uninterrupted run on a fresh lab.
	l2 := steptest.NewLab(t)
	answers2 := filepath.Join(dir, "straight.yaml")
	os.WriteFile(answers2, l2.AnswersYAML("hold: write-config\n"), 0o600)
	for _, r := range l2.Roots {
		os.WriteFile(filepath.Join(r, "release"), nil, 0o644)
	}
	if code, stdout, stderr := runHawiz(t, bin, xdg, "run", "test-files", "-a", answers2, "--plain", "--yes", "--state", filepath.Join(dir, "straight.json")); code != steps.ExitOK {
		t.Fatalf("uninterrupted run: exit %d\n%s%s", code, stdout, stderr)
	}
	if got, want := hostFiles(t, l), hostFiles(t, l2); got != want {
		t.Fatalf("files after Ctrl-C and resume:\n%s\nafter an uninterrupted run:\n%s", got, want)
	}
}

func readHoldPID(t *testing.T, root string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "holding.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// processGone reports whether pid has exited (or is a zombie), waiting up
// to 10 s for it: the kill travels over a fresh SSH session.
func processGone(pid int) bool {
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return true
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// transcriptAction is one remote action of the transcript.
type transcriptAction struct {
	Step   string `json:"step"`
	Host   string `json:"host"`
	Action string `json:"action"`
	Detail string `json:"detail"`
	Error  string `json:"error"`
}

// holdAction returns the transcript's record of the hold command on h2.
func holdAction(t *testing.T, state string) *transcriptAction {
	t.Helper()
	f, err := os.Open(steps.TranscriptPath(state))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	for {
		var a transcriptAction
		if err := dec.Decode(&a); err == io.EOF {
			return nil
		} else if err != nil {
			t.Fatalf("transcript: %v", err)
		}
		if a.Host == "h2" && a.Action == "run" && strings.Contains(a.Detail, "holding until release exists") {
			return &a
		}
	}
}
