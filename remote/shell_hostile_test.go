package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostileStdin is stdin made of blocks that the resident shell's loop would
// run as commands if a byte of them ever reached it: a well-formed token, no
// stdin, a script that creates marker, the token again.
func hostileStdin(size int, marker string) []byte {
	var b bytes.Buffer
	tok := shellTokenPrefix + strings.Repeat("ab", 16)
	block := tok + "\n-1\ntouch " + ShQuote(marker) + "\n" + tok + "\n"
	for b.Len() < size {
		b.WriteString(block)
	}
	return b.Bytes()[:size]
}

// shellTmpServer is a server whose commands get TMPDIR=tmp (where the
// resident shells make their private directories), with bin first in PATH.
func shellTmpServer(t *testing.T, l *lab, bin string, env ...string) (tmp string, _ *Fleet) {
	tmp = filepath.Join(l.dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	s := fakeBinServer(l, bin, append([]string{"TMPDIR=" + tmp}, env...)...)
	return tmp, l.connect(l.opts(), s)
}

// The two reproductions of issue 15 item 1: a command that exits before it
// reads its stdin, and one that reads only part of it (a write onto a full
// disk: `dd … || exit 4`). Neither may leave a byte of its stdin in the
// shell's input, where the loop would read it as protocol and run it.
func TestResidentShellUnreadStdinNeverRuns(t *testing.T) {
	l := newLab(t)
	tmp, f := shellTmpServer(t, l, filepath.Join(l.dir, "bin"))
	h := f.Host("web1")
	ctx := ctxT(t)
	marker := filepath.Join(l.dir, "pwned")
	for _, script := range []string{`exit 0`, `head -c 100 >/dev/null; exit 4`, `dd bs=1k count=64 of=/dev/null 2>/dev/null || exit 4; exit 4`} {
		res, err := h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", script}, Stdin: bytes.NewReader(hostileStdin(300<<10, marker)), Timeout: 20 * time.Second})
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		next, err := h.Run(ctx, Cmd{Program: "echo", Args: []string{"next"}, Timeout: 10 * time.Second})
		if err != nil || string(next.Stdout) != "next\n" {
			t.Fatalf("%s (exit %d): the next command: %v %q", script, res.ExitStatus, err, next.Stdout)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%s: a line of the command's stdin was run as a command", script)
		}
	}
	if n := shellRuns(t, f); n != 1 {
		t.Errorf("%d resident shells started, want 1 (none lost its framing)", n)
	}
	// Each shell's private directory: mode 0700, empty between commands.
	dirs, _ := filepath.Glob(filepath.Join(tmp, "hawiz-shell.*"))
	if len(dirs) != 1 {
		t.Fatalf("private directories %v, want one", dirs)
	}
	fi, err := os.Lstat(dirs[0])
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("private directory %s: %v %v, want a 0700 directory", dirs[0], fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dirs[0]); len(ents) != 0 {
		t.Fatalf("staged stdin left in %s: %v", dirs[0], ents)
	}
	f.Close()
	waitNoDirs(t, tmp)
}

// shellRuns counts the resident shells a fleet started (transcript-free:
// from the slots' counters is not enough after drops, so it asks the host).
func shellRuns(t *testing.T, f *Fleet) int {
	t.Helper()
	n := 0
	for _, h := range f.byName {
		h.mu.Lock()
		n += h.shells.started
		h.mu.Unlock()
	}
	return n
}

// waitNoDirs waits for every resident shell's private directory under tmp
// to be removed (a shell removes its own on exit; hawiz removes a killed
// one's).
func waitNoDirs(t *testing.T, tmp string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		dirs, _ := filepath.Glob(filepath.Join(tmp, "hawiz-shell.*"))
		if len(dirs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("resident shell directories left behind: %v", dirs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A property of the framing: whatever a command does with its stdin — exit
// at once, read part of it, read all, leave a background reader behind,
// print lines that look like a token — and whatever the stdin holds (random
// bytes, token-like lines, the protocol's own blocks), the command sees
// exactly its stdin, no byte of it is run, and the next command is in step.
// HAWIZ_SHELL_CASES sets the number of cases (default 2000; 300 with -short).
func TestResidentShellFramingProperty(t *testing.T) {
	cases := 2000
	if testing.Short() {
		cases = 300
	}
	if v := os.Getenv("HAWIZ_SHELL_CASES"); v != "" {
		cases, _ = strconv.Atoi(v)
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("HAWIZ_SHELL_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (HAWIZ_SHELL_SEED), %d cases", seed, cases)
	rng := rand.New(rand.NewPCG(seed, seed>>1|1))

	l := newLab(t)
	tmp, f := shellTmpServer(t, l, filepath.Join(l.dir, "bin"))
	h := f.Host("web1")
	// thousands of commands: not ctxT's 15 s, which a loaded machine exceeds
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	marker := filepath.Join(l.dir, "pwned")
	fakeTok := shellTokenPrefix + strings.Repeat("0", 32)

	for i := 0; i < cases; i++ {
		// stdin: nothing, empty, or random bytes with protocol-looking lines
		var stdin []byte
		hasStdin := rng.IntN(10) > 0
		if hasStdin {
			n := rng.IntN(3 << 10)
			if rng.IntN(20) == 0 {
				n = 64<<10 + rng.IntN(256<<10)
			}
			for len(stdin) < n {
				switch rng.IntN(5) {
				case 0:
					stdin = append(stdin, hostileStdin(40+rng.IntN(200), marker)...)
				case 1:
					stdin = append(stdin, fakeTok+" 0\n"+fakeTok+"+\n"...)
				case 2:
					stdin = append(stdin, "-1\n"...)
				default:
					b := make([]byte, 1+rng.IntN(512))
					for j := range b {
						b[j] = byte(rng.Uint32())
					}
					stdin = append(stdin, b...)
				}
			}
			stdin = stdin[:n]
		}
		// the command: reads k bytes (0..all, or more than there are), hashes
		// them, prints token-like lines, maybe leaves a background reader,
		// exits with a random status
		k := 0
		if len(stdin) > 0 {
			k = rng.IntN(len(stdin) + 2)
		}
		rc := rng.IntN(4)
		script := `head -c "$1" | sha256sum | cut -c1-64; printf '%s 0\n%s\n' "$2" "$2"; printf '%s+\n' "$2" >&2`
		switch rng.IntN(4) {
		case 0:
			script = `exit "$3"`
		case 1:
			script = `(head -c 1 >/dev/null; sleep 0.02) </dev/stdin >/dev/null 2>&1 & ` + script + `; exit "$3"`
		default:
			script += `; exit "$3"`
		}
		c := Cmd{Program: "sh", Args: []string{"-c", script, "case", strconv.Itoa(k), fakeTok, strconv.Itoa(rc)}, Timeout: 20 * time.Second}
		if hasStdin {
			c.Stdin = bytes.NewReader(stdin)
		}
		res, err := h.Run(ctx, c)
		if err != nil {
			t.Fatalf("case %d (seed %d): %v", i, seed, err)
		}
		if res.ExitStatus != rc {
			t.Fatalf("case %d (seed %d): exit %d, want %d; stderr %q", i, seed, res.ExitStatus, rc, res.Stderr)
		}
		if !strings.HasPrefix(script, "exit") {
			m := min(k, len(stdin))
			sum := sha256.Sum256(stdin[:m])
			want := hex.EncodeToString(sum[:]) + "\n" + fakeTok + " 0\n" + fakeTok + "\n"
			if string(res.Stdout) != want {
				t.Fatalf("case %d (seed %d): stdout %q, want %q (the command saw other stdin)", i, seed, res.Stdout, want)
			}
			if string(res.Stderr) != fakeTok+"+\n" {
				t.Fatalf("case %d (seed %d): stderr %q", i, seed, res.Stderr)
			}
		}
		if i%50 == 49 || i == cases-1 {
			next, err := h.Run(ctx, Cmd{Program: "echo", Args: []string{"in-step"}, Timeout: 10 * time.Second})
			if err != nil || string(next.Stdout) != "in-step\n" {
				t.Fatalf("after case %d (seed %d): %v %q", i, seed, err, next.Stdout)
			}
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("seed %d: a line of some command's stdin was run as a command", seed)
	}
	if n := shellRuns(t, f); n > maxShells {
		t.Errorf("seed %d: %d resident shells started: one lost its framing", seed, n)
	}
	f.Close()
	waitNoDirs(t, tmp)
}

// A shell that cannot stage a command's stdin in full (its temporary
// directory is full: here a head that copies 10 bytes and fails, as on
// ENOSPC) runs nothing, ends, and the command runs in a session of its own
// with its whole stdin; later commands with stdin take sessions too.
func TestResidentShellStagingFails(t *testing.T) {
	l := newLab(t)
	bin := filepath.Join(l.dir, "bin")
	writeExec(t, bin, "head", `#!/bin/sh
case "$1" in --version) PATH=${PATH#*:} exec head --version ;; esac
if [ "$1" = -c ] && [ -n "$HAWIZ_FULL" ]; then
	PATH=${PATH#*:} head -c 10
	echo "head: write error: No space left on device" >&2
	exit 1
fi
PATH=${PATH#*:} exec head "$@"
`)
	tmp, f := shellTmpServer(t, l, bin, "HAWIZ_FULL=1")
	h := f.Host("web1")
	ctx := ctxT(t)
	marker := filepath.Join(l.dir, "pwned")
	in := hostileStdin(200<<10, marker)
	for i := 0; i < 2; i++ {
		res, err := h.Run(ctx, Cmd{Program: "sha256sum", Stdin: bytes.NewReader(in), Timeout: 20 * time.Second})
		if err != nil || !strings.HasPrefix(string(res.Stdout), sha256hex(in)) {
			t.Fatalf("try %d: %v %q (the whole stdin, through a session of its own)", i, err, res.Stdout)
		}
		res, err = h.Run(ctx, Cmd{Program: "echo", Args: []string{"ok"}, Timeout: 10 * time.Second})
		if err != nil || string(res.Stdout) != "ok\n" {
			t.Fatalf("try %d: the next command: %v %q", i, err, res.Stdout)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a line of the command's stdin was run as a command")
	}
	if n := shellRuns(t, f); n != 2 {
		t.Errorf("%d resident shells started, want 2 (the one that failed to stage, then one for commands without stdin)", n)
	}
	f.Close()
	waitNoDirs(t, tmp)
}

// Where head is not GNU coreutils' (which reads no more than asked), the
// first command with stdin finds out before it reads a byte of it: the
// shell ends, the command runs in a session of its own with its whole
// stdin, and so do later ones with stdin; commands without stdin keep the
// resident shell.
func TestResidentShellNeedsGNUHead(t *testing.T) {
	l := newLab(t)
	bin := filepath.Join(l.dir, "bin")
	writeExec(t, bin, "head", `#!/bin/sh
case "$1" in --version) echo "head (BusyBox) v1.36"; exit 0 ;; esac
PATH=${PATH#*:} exec head "$@"
`)
	tmp, f := shellTmpServer(t, l, bin)
	h := f.Host("web1")
	ctx := ctxT(t)
	for i := 0; i < 3; i++ {
		res, err := h.Run(ctx, Cmd{Program: "cat", Stdin: bytes.NewReader([]byte("x")), Timeout: 10 * time.Second})
		if err != nil || string(res.Stdout) != "x" {
			t.Fatalf("%v %q", err, res.Stdout)
		}
		if res, err = h.Run(ctx, Cmd{Program: "echo", Args: []string{"ok"}, Timeout: 10 * time.Second}); err != nil || string(res.Stdout) != "ok\n" {
			t.Fatalf("%v %q", err, res.Stdout)
		}
	}
	if n := shellRuns(t, f); n != 2 {
		t.Errorf("%d resident shells started, want 2 (the one that found no GNU head, then one for commands without stdin)", n)
	}
	waitNoDirs(t, tmp)
}

// A killed shell (timeout) runs no trap: hawiz removes its private
// directory.
func TestResidentShellKilledDirRemoved(t *testing.T) {
	l := newLab(t)
	tmp, f := shellTmpServer(t, l, filepath.Join(l.dir, "bin"))
	h := f.Host("web1")
	ctx := ctxT(t)
	_, err := h.Run(ctx, Cmd{Program: "sleep", Args: []string{"30"}, Stdin: strings.NewReader("data"), Timeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("timeout: %v", err)
	}
	waitNoDirs(t, tmp)
	if res, err := h.Run(ctx, Cmd{Program: "echo", Args: []string{"next"}}); err != nil || string(res.Stdout) != "next\n" {
		t.Fatalf("after the kill: %v %q", err, res.Stdout)
	}
}

// A shell that answers out of protocol (another token before this
// command's start) is killed and the command's outcome is unknown; a
// resident shell's answers are never taken on trust.
func TestResidentShellOutOfStep(t *testing.T) {
	l := newLab(t)
	_, f := shellTmpServer(t, l, filepath.Join(l.dir, "bin"))
	h := f.Host("web1")
	ctx := ctxT(t)
	if _, err := h.Run(ctx, Cmd{Program: "true"}); err != nil {
		t.Fatal(err)
	}
	// A background process of the last command writes a stale token on the
	// shell's stderr just before the next command is taken.
	stale := shellTokenPrefix + strings.Repeat("c", 32)
	if _, err := h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", `printf '%s\n' "$1" >&2 &` + "\nwait", "x", stale}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Run(ctx, Cmd{Program: "echo", Args: []string{"ok"}}); err != nil {
		t.Fatalf("a token inside a command's own output is output: %v", err)
	}
	// Now a stale token reaches the shell's stderr between two commands.
	s := shellOf(t, h)
	fmt.Fprintf(s.in, "%s\n-1\nprintf '%%s\\n' %s >&2; sleep 0.2\n%s\n", shellTokenPrefix+strings.Repeat("d", 32), ShQuote(stale), shellTokenPrefix+strings.Repeat("d", 32))
	_, err := h.Run(ctx, Cmd{Program: "echo", Args: []string{"ok"}, Timeout: 10 * time.Second})
	if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "lost its framing") || !strings.Contains(err.Error(), "outcome is unknown") {
		t.Fatalf("out of step: %v", err)
	}
	if res, err := h.Run(ctx, Cmd{Program: "echo", Args: []string{"fresh"}}); err != nil || string(res.Stdout) != "fresh\n" {
		t.Fatalf("after the drop: %v %q", err, res.Stdout)
	}
}

// shellOf returns the host's idle resident shell (test helper: it stays in
// the pool).
func shellOf(t *testing.T, h *Host) *rshell {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ss := range h.shells.idle {
		if len(ss) > 0 {
			return ss[len(ss)-1]
		}
	}
	t.Fatal("no idle resident shell")
	return nil
}

// Every remote read has a timeout even when its caller gives none: a host
// whose stat never answers fails the read after Options.ReadTimeout.
func TestReadsHaveATimeout(t *testing.T) {
	l := newLab(t)
	bin := filepath.Join(l.dir, "bin")
	for _, p := range []string{"sha256sum", "cat", "systemctl"} {
		writeExec(t, bin, p, "#!/bin/sh\nexec sleep 60\n")
	}
	s := fakeBinServer(l, bin)
	o := l.opts()
	o.ReadTimeout = 500 * time.Millisecond
	h := l.connect(o, s).Host("web1")
	ctx := ctxT(t)
	path := filepath.Join(s.Root(), "f")
	os.WriteFile(path, []byte("x"), 0o600)
	for name, read := range map[string]func() error{
		"stat":      func() error { _, err := h.Stat(ctx, path, false); return err },
		"read":      func() error { _, _, err := h.ReadFile(ctx, path, false); return err },
		"is-active": func() error { _, err := h.Service(ctx, ServiceManager{}, "x", ServiceIsActive, false); return err },
	} {
		done := make(chan error, 1)
		go func() { done <- read() }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrTimeout) {
				t.Errorf("%s: %v, want a timeout", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no answer after 30 s (no timeout)", name)
		}
	}
}

// Commands in a resident shell run with the umask a session of their own
// gets (the shell's private directory is made under umask 077 in a
// subshell): files a command creates are no more private, nor more exposed,
// than with --session-per-command.
func TestResidentShellKeepsTheUmask(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	ctx := ctxT(t)
	umask := func(o Options) string {
		h := l.connect(o, s).Host("web1")
		var out string
		for i := 0; i < 2; i++ {
			res, err := h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", "umask"}})
			if err != nil {
				t.Fatal(err)
			}
			out = string(res.Stdout)
		}
		return out
	}
	o := l.opts()
	viaShell := umask(o)
	o.SessionPerCommand = true
	if own := umask(o); viaShell != own {
		t.Fatalf("umask %q in a resident shell, %q in a session of its own", viaShell, own)
	}
}

// A shell killed where no trap runs (SIGKILL of its process group by
// someone else, a crashed sshd) leaves its private directory, perhaps with a
// command's stdin in it. The next shell of the same user removes every such
// directory whose shell is gone — its own user's, a real directory, named
// with a PID that no longer runs — and nothing else: not a live shell's,
// not a symbolic link.
func TestResidentShellRemovesStaleDirs(t *testing.T) {
	l := newLab(t)
	tmp, f := shellTmpServer(t, l, filepath.Join(l.dir, "bin"))
	stale := filepath.Join(tmp, "hawiz-shell.999999999.abcdefghij") // above any pid_max
	live := filepath.Join(tmp, "hawiz-shell."+strconv.Itoa(os.Getpid())+".klmnopqrst")
	victim := filepath.Join(l.dir, "victim")
	link := filepath.Join(tmp, "hawiz-shell.999999998.zzzzzzzzzz")
	for _, d := range []string{stale, live, victim} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(stale, "in"), []byte("a staged secret"), 0o600)
	os.WriteFile(filepath.Join(victim, "keep"), []byte("x"), 0o600)
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	h := f.Host("web1")
	// The scan is a new shell's first act. A command whose shell could not
	// start (seen about once in 400 runs on a loaded machine: the exec request
	// answered EOF) takes a session of its own, as it should; the next
	// command starts the shell.
	for i := 0; ; i++ {
		if res, err := h.Run(ctxT(t), Cmd{Program: "true"}); err != nil || res.ExitStatus != 0 {
			t.Fatalf("%v %+v", err, res)
		}
		h.mu.Lock()
		started := h.shells.started
		h.mu.Unlock()
		if started > 0 {
			break
		}
		if i == 5 {
			t.Fatal("no resident shell started in 6 commands")
		}
	}
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Errorf("a dead shell's directory is still there: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live shell's directory was removed: %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symbolic link was removed or replaced: %v", err)
	}
	if _, err := os.Stat(filepath.Join(victim, "keep")); err != nil {
		t.Errorf("the link's target was touched: %v", err)
	}
}
