package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The resident shell runs every command of a host in one session, and what
// each command gets and gives is exactly what a session of its own would:
// argv, env, stdin, stdout and stderr byte for byte, the exit status.
func TestResidentShellRunsCommandsInOneSession(t *testing.T) {
	l := newLab(t)
	bin := filepath.Join(l.dir, "bin")
	writeExec(t, bin, "sudo", fakeSudo)
	s := fakeBinServer(l, bin)
	tr := &transcript{}
	o := l.opts()
	o.Transcript = tr.add
	f := l.connect(o, s)
	h := f.Host("web1")
	ctx := ctxT(t)
	before := s.Execs()

	tricky := []string{"a b", "it's", "$(touch pwned)", "`id`", "line1\nline2\n", "\\", "*", "--", ""}
	for i := 0; i < 3; i++ {
		res, err := h.Run(ctx, Cmd{Program: "printf", Args: append([]string{"[%s]"}, tricky...)})
		if err != nil || res.ExitStatus != 0 {
			t.Fatalf("printf: %v %+v", err, res)
		}
		want := "[a b][it's][$(touch pwned)][`id`][line1\nline2\n][\\][*][--][]"
		if string(res.Stdout) != want {
			t.Fatalf("stdout %q, want %q", res.Stdout, want)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "pwned")); err == nil {
		t.Fatal("an argument was run as a command")
	}
	// output without a final newline, on both streams, and an exit status
	res, err := h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", `printf 'out-no-nl'; printf 'err-no-nl' >&2; exit 7`}})
	if err != nil || res.ExitStatus != 7 || string(res.Stdout) != "out-no-nl" || string(res.Stderr) != "err-no-nl" {
		t.Fatalf("no newline: %v %d %q %q", err, res.ExitStatus, res.Stdout, res.Stderr)
	}
	// binary stdin of a known size, passed through and not a byte more
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	res, err = h.Run(ctx, Cmd{Program: "sha256sum", Stdin: bytes.NewReader(data)})
	if err != nil || !strings.HasPrefix(string(res.Stdout), sha256hex(data)) {
		t.Fatalf("stdin: %v %q", err, res.Stdout)
	}
	// a command that does not read its stdin leaves the stream in step
	res, err = h.Run(ctx, Cmd{Program: "true", Stdin: bytes.NewReader([]byte("unread\nlines\n"))})
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("unread stdin: %v %+v", err, res)
	}
	res, err = h.Run(ctx, Cmd{Program: "cat"})
	if err != nil || len(res.Stdout) != 0 {
		t.Fatalf("cat after unread stdin: %v %q (stdin leaked into the next command)", err, res.Stdout)
	}
	// env, sh -c with positional parameters run in the shell, and with $0
	res, err = h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", `printf '%s|%s|%s|%s' "$HAWIZ_T" "$#" "$1" "$2"`, "name", "x y", "it's"},
		Env: map[string]string{"HAWIZ_T": "v'1 $x"}})
	if err != nil || string(res.Stdout) != "v'1 $x|2|x y|it's" {
		t.Fatalf("sh -c: %v %q", err, res.Stdout)
	}
	res, err = h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", `printf '%s' "$0"`, "my-name"}})
	if err != nil || string(res.Stdout) != "my-name" {
		t.Fatalf("sh -c with $0: %v %q", err, res.Stdout)
	}
	// nothing one command sets survives into the next
	if _, err := h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", `cd /; HAWIZ_LEAK=1; export HAWIZ_LEAK2=1; exit 0`}}); err != nil {
		t.Fatal(err)
	}
	res, err = h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", `printf '%s|%s|%s' "$HAWIZ_LEAK" "$HAWIZ_LEAK2" "$(pwd)"`}})
	if err != nil || string(res.Stdout) != "||"+s.Root() {
		t.Fatalf("state leaked between commands: %v %q", err, res.Stdout)
	}
	// sudo: one root shell, so sudo ran once for many commands
	for i := 0; i < 4; i++ {
		res, err := h.Run(ctx, Cmd{Program: "echo", Args: []string{"root"}, Sudo: true})
		if err != nil || string(res.Stdout) != "root\n" {
			t.Fatalf("sudo echo: %v %q", err, res.Stdout)
		}
	}
	if _, err := h.WriteFile(ctx, filepath.Join(s.Root(), "f.txt"), []byte("content\n"), WriteOptions{Sudo: true, Backup: true}); err != nil {
		t.Fatal(err)
	}
	b, fi, err := h.ReadFile(ctx, filepath.Join(s.Root(), "f.txt"), true)
	if err != nil || string(b) != "content\n" || fi.SHA256 != sha256hex(b) {
		t.Fatalf("read back: %v %q", err, b)
	}
	if got := s.Execs() - before; got != 2 {
		t.Errorf("%d sessions ran commands, want 2 (the user's resident shell and root's)", got)
	}
	sudoLog, _ := os.ReadFile(filepath.Join(s.Root(), "sudo.log"))
	if sudoRuns(sudoLog) != 1 {
		t.Errorf("sudo ran %q, want once (the root shell)", sudoLog)
	}
	// the transcript still has every command, and says when a shell started
	var runs, shells int
	for _, a := range tr.all() {
		switch a.Kind {
		case "run":
			runs++
		case "shell":
			shells++
		}
	}
	if runs != 15 || shells != 2 {
		t.Errorf("transcript: %d runs, %d shells started", runs, shells)
	}
}

// Options.SessionPerCommand: every command in a session of its own, each
// with its own sudo.
func TestSessionPerCommand(t *testing.T) {
	l := newLab(t)
	bin := filepath.Join(l.dir, "bin")
	writeExec(t, bin, "sudo", fakeSudo)
	s := fakeBinServer(l, bin)
	o := l.opts()
	o.SessionPerCommand = true
	h := l.connect(o, s).Host("web1")
	ctx := ctxT(t)
	before := s.Execs()
	for i := 0; i < 3; i++ {
		if _, err := h.Run(ctx, Cmd{Program: "true", Sudo: true}); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Execs() - before; got != 3 {
		t.Errorf("%d sessions for 3 commands", got)
	}
	sudoLog, _ := os.ReadFile(filepath.Join(s.Root(), "sudo.log"))
	if strings.Count(string(sudoLog), "n true\n") != 3 {
		t.Errorf("sudo log %q, want 3 × true", sudoLog)
	}
}

// A sudo password is given once, to the root shell; a refused one switches
// root shells off for the host, and every sudo command reports sudo's error
// from a session of its own, naming the host.
func TestResidentShellSudoPassword(t *testing.T) {
	l := newLab(t)
	bin := filepath.Join(l.dir, "bin")
	writeExec(t, bin, "sudo", fakeSudo)
	const pw = "pa'ss $(w) \"rd\""
	good := fakeBinServer(l, bin, "FAKE_SUDO_PASSWORD="+pw)
	bad := fakeBinServer(l, bin, "FAKE_SUDO_PASSWORD="+pw)
	tr := &transcript{}
	o := l.opts()
	o.Transcript = tr.add
	hcs := []HostConfig{l.hostConfig("web1", good), l.hostConfig("web2", bad)}
	hcs[0].SudoPassword, hcs[1].SudoPassword = pw, "not it"
	l.trust(good)
	l.trust(bad)
	f, err := Connect(ctxT(t), o, hcs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := ctxT(t)
	g, b := f.Host("web1"), f.Host("web2")
	for i := 0; i < 3; i++ {
		res, err := g.Run(ctx, Cmd{Program: "cat", Stdin: strings.NewReader("x"), Sudo: true}) // a strings.Reader: a session of its own
		if err != nil || string(res.Stdout) != "x" {
			t.Fatalf("sudo cat: %v %q", err, res.Stdout)
		}
		res, err = g.Run(ctx, Cmd{Program: "cat", Stdin: bytes.NewReader([]byte("y")), Sudo: true})
		if err != nil || string(res.Stdout) != "y" {
			t.Fatalf("sudo cat in the root shell: %v %q", err, res.Stdout)
		}
	}
	log, _ := os.ReadFile(filepath.Join(good.Root(), "sudo.log"))
	if n := strings.Count(string(log), "S sh -c"); n != 4 { // the shell, and 3 sessions of their own
		t.Errorf("sudo -S ran %d times: %q", n, log)
	}
	for i := 0; i < 2; i++ {
		_, err := b.Run(ctx, Cmd{Program: "true", Sudo: true})
		if !errors.Is(err, ErrSudoPassword) || !strings.Contains(err.Error(), "host web2") {
			t.Fatalf("refused password, try %d: %v", i, err)
		}
	}
	log, _ = os.ReadFile(filepath.Join(bad.Root(), "sudo.log"))
	if n := sudoRuns(log); n != 3 { // one shell that never started, then 2 sessions
		t.Errorf("sudo ran %d times on the refusing host: %q", n, log)
	}
	for _, a := range tr.all() {
		if strings.Contains(a.Detail+a.Output+a.Err, "pa'ss") || strings.Contains(a.Detail+a.Output+a.Err, "not it") {
			t.Errorf("password in transcript: %+v", a)
		}
	}
}

// A command that reaches its Timeout, or whose context ends, is killed with
// its whole resident shell; the next command gets a new shell.
func TestResidentShellTimeoutAndCancel(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	h := l.connect(l.opts(), s).Host("web1")
	ctx := ctxT(t)
	if _, err := h.Run(ctx, Cmd{Program: "true"}); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(s.Root(), "slow.pid")
	_, err := h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", `sh -c 'echo $$ > "$1"; exec sleep 30' x "$1"`, "x", pidFile}, Timeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "host web1") {
		t.Fatalf("timeout: %v", err)
	}
	waitGone(t, readPID(t, pidFile))
	res, err := h.Run(ctx, Cmd{Program: "echo", Args: []string{"next"}})
	if err != nil || string(res.Stdout) != "next\n" {
		t.Fatalf("after timeout: %v %q", err, res.Stdout)
	}

	os.Remove(pidFile)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := h.Run(cctx, Cmd{Program: "sh", Args: []string{"-c", `sh -c 'echo $$ > "$1"; exec sleep 30' x "$1"`, "x", pidFile}})
		done <- err
	}()
	pid := readPID(t, pidFile)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
	waitGone(t, pid)
	if res, err := h.Run(ctx, Cmd{Program: "echo", Args: []string{"again"}}); err != nil || string(res.Stdout) != "again\n" {
		t.Fatalf("after cancel: %v %q", err, res.Stdout)
	}
}

// Commands on one host at once: one runs in the resident shell, the others
// in sessions of their own; all get their own results.
func TestResidentShellConcurrent(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	h := l.connect(l.opts(), s).Host("web1")
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := "n" + itoa(i)
			res, err := h.Run(ctx, Cmd{Program: "echo", Args: []string{want}})
			if err == nil && string(res.Stdout) != want+"\n" {
				err = errors.New("got " + string(res.Stdout) + " want " + want)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A resident shell killed on the server (not by hawiz) is not trusted with
// the command: it reports the outcome as unknown and a new shell takes the
// next command.
func TestResidentShellKilledOnServer(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	h := l.connect(l.opts(), s).Host("web1")
	ctx := ctxT(t)
	if _, err := h.Run(ctx, Cmd{Program: "true"}); err != nil {
		t.Fatal(err)
	}
	// the whole process group of the session: the resident shell with it
	_, err := h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", `kill -9 0; sleep 1; echo late`}})
	if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "outcome is unknown") || !strings.Contains(err.Error(), "host web1") {
		t.Fatalf("shell killed mid-command: %v", err)
	}
	if res, err := h.Run(ctx, Cmd{Program: "echo", Args: []string{"fresh"}}); err != nil || string(res.Stdout) != "fresh\n" {
		t.Fatalf("after the shell died: %v %q", err, res.Stdout)
	}
}

// sudoRuns counts the fake sudo's log entries (a resident shell's script
// spans many lines).
func sudoRuns(log []byte) int {
	return len(regexp.MustCompile(`(?m)^(n|S|none) `).FindAll(log, -1))
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
