package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// A resident shell is a long-lived `sh` on a host (the SSH user's, or root's
// through one sudo) that runs the host's commands one at a time; a host has
// up to maxShells of each, for commands that run at once. A command then costs a fork and its own programs on the server,
// instead of a new SSH session, a login shell and a sudo each time (about 3 ms
// instead of 50–100 ms on the lab; docs/design.md, "Resident shells").
//
// The protocol, hawiz → shell (stdin):
//
//	TOKEN\n N\n SCRIPT (lines) TOKEN\n [N bytes of the command's stdin, TOKEN=\n]
//
// TOKEN is "hawiz-end-" and 128 random bits, new for every command, so no
// script line, no stdin and no output can hold it by accident (hawiz checks
// the script and the stdin); N is -1 for no stdin. The script is rendered as
// for a session of its own: every argument quoted by ShQuote, data never
// interpolated. hawiz → shell framing is safe by construction:
//
//   - the shell reads TOKEN, N and the script with `read` (one byte at a
//     time: it never reads past a line) and checks that TOKEN and N have their
//     form; anything else ends the shell at once, before anything runs;
//   - the N bytes of stdin are copied whole by `head -c N` (GNU coreutils,
//     which reads no more than it was asked; checked at the shell's first
//     command with stdin) into a file of its private directory
//     ($TMPDIR/hawiz-shell.PID.SUFFIX, SUFFIX random from hawiz; made then by
//     `mkdir -m 0700`, which refuses a name that exists: owned by the shell's
//     user, root in a sudo shell; the commands keep the login's umask); then
//     the shell reads the line "TOKEN=" that hawiz sends right after them,
//     BEFORE the command starts: a short copy (a full disk, a broken stream)
//     or anything else there ends the shell with "TOKEN!" on stderr and
//     nothing runs;
//   - the command then runs in a subshell (nothing it sets survives it) with
//     that file, or /dev/null, as its stdin. Whatever it does — exit at once,
//     read part, never read, leave a background process behind, print
//     token-like lines — no byte of its stdin is left in the shell's own
//     input, because the shell already consumed exactly N bytes.
//
// shell → hawiz: "TOKEN+" on stderr when the command starts, then the
// command's output, then "TOKEN STATUS\n" on stdout and "TOKEN\n" on stderr.
// hawiz reads each stream up to its TOKEN: what comes before is the
// command's output.
//
// A shell that misbehaves in any way — a timeout, a cancelled context, a
// broken stream, a dead connection, an answer out of protocol (another
// token, a bad status line) — is killed (its process group, as for a
// session's command; its private directory removed) and never used again;
// the next command starts a new one. A shell that cannot start (sudo
// refused) is not tried again on that host: its commands take sessions of
// their own, which report sudo's error. One that cannot stage stdin (no GNU
// head, a full disk, its directory's name taken) ends before running
// anything; commands with stdin on that host and privilege then take
// sessions of their own. A shell starts with no program of its own: only
// builtins (and rm for a dead shell's directory) run before its ready line.
const shellLoop = `hawiz_d=${TMPDIR:-/tmp}/hawiz-shell.$$.$1
hawiz_made=
trap '[ -z "$hawiz_made" ] || rm -rf -- "$hawiz_d"' EXIT
trap 'exit 129' HUP
trap 'exit 141' PIPE
trap 'exit 143' TERM
for hawiz_o in "${TMPDIR:-/tmp}"/hawiz-shell.*.*; do
	[ -d "$hawiz_o" ] && [ ! -L "$hawiz_o" ] && [ -O "$hawiz_o" ] && [ "$hawiz_o" != "$hawiz_d" ] || continue
	hawiz_p=${hawiz_o##*/hawiz-shell.}
	hawiz_p=${hawiz_p%%.*}
	case $hawiz_p in '' | *[!0-9]*) continue ;; esac
	kill -0 "$hawiz_p" 2>/dev/null && continue
	rm -rf -- "$hawiz_o"
done
echo "hawiz-shell-ready $hawiz_d"; echo hawiz-shell-ready >&2
while IFS= read -r hawiz_tok && IFS= read -r hawiz_n; do
	case $hawiz_tok in hawiz-end-????????????????????????????????) ;; *) echo hawiz-shell-framing >&2; exit 97 ;; esac
	case $hawiz_n in -1) ;; '' | *[!0-9]*) echo hawiz-shell-framing >&2; exit 97 ;; esac
	hawiz_s=
	while :; do
		IFS= read -r hawiz_l || { echo hawiz-shell-framing >&2; exit 97; }
		if [ "$hawiz_l" = "$hawiz_tok" ]; then break; fi
		hawiz_s="$hawiz_s$hawiz_l
"
	done
	if [ "$hawiz_n" = -1 ]; then
		printf '%s+\n' "$hawiz_tok" >&2
		( eval "$hawiz_s" ) </dev/null
		hawiz_rc=$?
	else
		if [ -z "$hawiz_made" ]; then
			case $(head --version 2>/dev/null) in
			*coreutils*) ;;
			*) printf '%s!\nhawiz-shell-no: head is not GNU coreutils\n' "$hawiz_tok" >&2; exit 98 ;;
			esac
			mkdir -m 0700 -- "$hawiz_d" || { printf '%s!\n' "$hawiz_tok" >&2; exit 98; }
			hawiz_made=1
		fi
		if ! head -c "$hawiz_n" >"$hawiz_d/in" || ! IFS= read -r hawiz_m || [ "$hawiz_m" != "$hawiz_tok=" ]; then
			printf '%s!\n' "$hawiz_tok" >&2
			exit 98
		fi
		printf '%s+\n' "$hawiz_tok" >&2
		( eval "$hawiz_s" ) <"$hawiz_d/in"
		hawiz_rc=$?
		rm -f -- "$hawiz_d/in"
	fi
	printf '%s %d\n' "$hawiz_tok" "$hawiz_rc"
	printf '%s\n' "$hawiz_tok" >&2
done`

const shellReady = "hawiz-shell-ready"

// maxShellStdin bounds the stdin a command may bring through a resident
// shell; larger input (uploads) takes a session of its own, where it streams.
const maxShellStdin = 8 << 20

// rshell is one resident shell.
type rshell struct {
	mode sudoMode
	c    *conn
	sess *ssh.Session
	in   io.WriteCloser
	out  *bufio.Reader
	err  *bufio.Reader
	pgid atomic.Int64 // the login shell's process group (its stderr marker)
	dir  string       // its private staging directory (made at its first stdin, 0700)
	// suffix: the random end of dir's name, chosen by hawiz (the ready
	// line must name a directory that ends with it).
	suffix string
}

// maxShells bounds a host's resident shells of one privilege: the engine
// runs a step's checks on a host at once (typically 2–3 commands), and each
// live shell holds one of the host's session slots.
const maxShells = 3

// shellSlots is a host's resident shells, per sudo mode.
type shellSlots struct {
	idle [3][]*rshell
	live [3]int  // idle + in use
	off  [3]bool // could not start: every command takes a session of its own
	// noStdin: staging a command's stdin failed (the host's temporary
	// directory is full): commands with stdin take sessions of their own.
	noStdin [3]bool
	started int // resident shells started on the host, in all
}

// shellFor returns a resident shell for r, starting one when none is idle
// (up to maxShells), or nil when r takes a session of its own: Windows,
// streaming output, stdin of unknown or large size, every shell busy, no
// free session slot for a new one, or resident shells switched off.
func (h *Host) shellFor(ctx context.Context, r *execReq) *rshell {
	if h.cfg.OS == Windows || h.f.opts.SessionPerCommand || r.noSem || r.onLine != nil || r.ps != "" || cap(h.sem) < 2*maxShells+1 {
		return nil
	}
	if r.stdin != nil {
		br, ok := r.stdin.(*bytes.Reader)
		if !ok || br.Len() > maxShellStdin {
			return nil
		}
	}
	mode := h.sudoMode(r.sudo)
	for {
		h.mu.Lock()
		if h.closed || h.shells.off[mode] || (r.stdin != nil && h.shells.noStdin[mode]) {
			h.mu.Unlock()
			return nil
		}
		if n := len(h.shells.idle[mode]); n > 0 {
			s := h.shells.idle[mode][n-1]
			h.shells.idle[mode] = h.shells.idle[mode][:n-1]
			h.mu.Unlock()
			if s.c.isDead() {
				h.dropShell(s, false, "")
				continue
			}
			return s
		}
		if h.shells.live[mode] >= maxShells {
			h.mu.Unlock()
			return nil
		}
		h.shells.live[mode]++
		h.mu.Unlock()
		s := h.startShell(ctx, mode, r.timeout)
		if s == nil {
			h.mu.Lock()
			h.shells.live[mode]--
			h.mu.Unlock()
		}
		return s
	}
}

// putShell gives a healthy shell back after a command.
func (h *Host) putShell(s *rshell) {
	h.mu.Lock()
	if !h.closed {
		h.shells.idle[s.mode] = append(h.shells.idle[s.mode], s)
		h.mu.Unlock()
		return
	}
	h.shells.live[s.mode]--
	h.mu.Unlock()
	s.sess.Close()
	<-h.sem
}

// dropShell ends s for good: its session closed, with kill its process
// group killed too (a command still running) and its private directory
// removed (a killed shell runs no trap), its slot freed.
func (h *Host) dropShell(s *rshell, kill bool, why string) string {
	how := "session closed"
	if kill {
		how = h.kill(s.sess, int(s.pgid.Load()), s.mode != sudoNone)
		h.removeShellDir(s)
	} else {
		s.sess.Close()
	}
	if why != "" {
		h.f.debug("resident shell dropped", "host", h.cfg.Name, "why", why, "how", how)
	}
	<-h.sem
	h.mu.Lock()
	h.shells.live[s.mode]--
	h.mu.Unlock()
	return how
}

// closeShells ends every idle resident shell of the fleet the way it
// expects to end: its input closed, so its loop ends and its EXIT trap
// removes its private directory. It waits for them, 2 s at most (a host that
// does not answer keeps its shell until the connection closes).
func (f *Fleet) closeShells() {
	var all []*rshell
	for _, h := range f.hosts {
		h.mu.Lock()
		for m := range h.shells.idle {
			all = append(all, h.shells.idle[m]...)
			h.shells.idle[m] = nil
		}
		h.mu.Unlock()
	}
	if len(all) == 0 {
		return
	}
	ended := make(chan struct{}, len(all))
	for _, s := range all {
		go func() {
			s.in.Close()
			s.sess.Wait()
			ended <- struct{}{}
		}()
	}
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	for range all {
		select {
		case <-ended:
		case <-t.C:
			return
		}
	}
}

// removeShellDir removes a killed shell's private directory, in a session
// of its own (the shell is gone). The path is the one the shell reported,
// checked to be what its mktemp makes; rm gets it as an argument.
func (h *Host) removeShellDir(s *rshell) {
	if s.dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := execReq{kind: "shell", detail: "rm -rf -- " + s.dir, argv: []string{"rm", "-rf", "--", s.dir}, sudo: s.mode != sudoNone, noSem: true}
	if res, err := h.execRaw(ctx, &r); err != nil || res.ExitStatus != 0 {
		h.f.debug("remove a killed resident shell's directory", "host", h.cfg.Name, "dir", s.dir, "err", errors.Join(err, res.ExitError()))
	}
}

// shellDirSuffix is the random end of a new shell's directory name: ten
// letters and digits from crypto/rand, so no local user can guess the name
// before the shell makes it (mkdir, which refuses a name that exists).
func shellDirSuffix() string {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [10]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b[:])
}

// shellDir returns the staging directory a ready line reports, or "" when
// the line is not a ready line of the form the shell loop prints.
func shellDir(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, shellReady+" /")
	if !ok {
		return "", false
	}
	dir := "/" + rest
	base := dir[strings.LastIndexByte(dir, '/')+1:]
	tail, ok := strings.CutPrefix(base, "hawiz-shell.")
	pid, tail, ok2 := strings.Cut(tail, ".")
	if !ok || !ok2 || pid == "" || strings.Trim(pid, "0123456789") != "" || len(tail) != 10 ||
		strings.ContainsAny(dir, "\x00\n\r") || strings.Contains(dir, "/../") {
		return "", false
	}
	for _, c := range tail {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return "", false
		}
	}
	return dir, true
}

// startShell opens a session and starts a resident shell in it. It returns
// nil when it cannot (no free session slot, the connection is gone, sudo
// refused); after a refusal on the host's side resident shells of that mode
// are off for the host.
func (h *Host) startShell(ctx context.Context, mode sudoMode, timeout time.Duration) *rshell {
	select {
	case h.sem <- struct{}{}:
	default:
		return nil
	}
	ok := false
	defer func() {
		if !ok {
			<-h.sem
		}
	}()
	if timeout <= 0 || timeout > 30*time.Second {
		timeout = 30 * time.Second
	}
	octx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := h.current(octx)
	if err != nil {
		return nil
	}
	suffix := shellDirSuffix()
	cmdline, err := renderPOSIX([]string{"sh", "-c", shellLoop, "hawiz", suffix}, nil, mode)
	if err != nil {
		return nil
	}
	sess, err := openSession(octx, c)
	if err != nil {
		return nil
	}
	s := &rshell{mode: mode, c: c, sess: sess, suffix: suffix}
	in, err1 := sess.StdinPipe()
	out, err2 := sess.StdoutPipe()
	eout, err3 := sess.StderrPipe()
	if err := errors.Join(err1, err2, err3); err != nil {
		sess.Close()
		return nil
	}
	s.in, s.out, s.err = in, bufio.NewReader(out), bufio.NewReader(eout)
	start := time.Now()
	if err := sess.Start(cmdline); err != nil {
		sess.Close()
		return nil
	}
	done := make(chan shellUp, 2)
	go s.readyOut(done)
	go s.readyErr(h.cfg.SudoPassword, done)
	var fail string
	for range 2 {
		select {
		case u := <-done:
			if u.refused && fail == "" {
				fail = strings.TrimSpace(h.f.red.Redact(u.msg))
				if fail == "" {
					fail = "the shell ended before it was ready"
				}
			}
		case <-octx.Done():
			h.kill(sess, int(s.pgid.Load()), mode != sudoNone)
			return nil
		}
		if fail != "" {
			break
		}
	}
	if fail != "" {
		sess.Close()
		if !c.isDead() && octx.Err() == nil {
			h.mu.Lock()
			h.shells.off[mode] = true
			h.mu.Unlock()
		}
		h.f.debug("resident shell did not start", "host", h.cfg.Name, "sudo", mode != sudoNone, "err", fail)
		return nil
	}
	detail := "start a resident shell"
	if mode != sudoNone {
		detail = "start a resident root shell (sudo sh)"
	}
	h.f.record(Action{Time: start, Host: h.cfg.Name, Kind: "shell", Detail: detail, Duration: time.Since(start)})
	h.mu.Lock()
	h.shells.started++
	h.mu.Unlock()
	ok = true
	return s
}

// shellUp is how one stream of a starting shell ended: at the ready line,
// or refused (the stream ended first; msg is what stderr said).
type shellUp struct {
	refused bool
	msg     string
}

// readyOut reads a starting shell's stdout: anything a login script
// printed, then the ready line with the shell's private directory.
func (s *rshell) readyOut(done chan<- shellUp) {
	for {
		l, err := s.out.ReadString('\n')
		if err != nil {
			done <- shellUp{refused: true}
			return
		}
		if dir, ok := shellDir(strings.TrimRight(l, "\r\n")); ok && strings.HasSuffix(dir, "."+s.suffix) {
			s.dir = dir
			done <- shellUp{}
			return
		}
	}
}

// readyErr reads a starting shell's stderr: its process group, sudo's
// password exchange (the password given once, for a password mode), then
// the ready line.
func (s *rshell) readyErr(password string, done chan<- shellUp) {
	prompts := 0
	var noise strings.Builder
	for {
		l, err := s.err.ReadString('\n')
		if err != nil {
			done <- shellUp{refused: true, msg: noise.String()}
			return
		}
		line := strings.TrimRight(l, "\r\n")
		switch {
		case strings.HasPrefix(line, pidMarker):
			n, _ := strconv.Atoi(line[len(pidMarker):])
			s.pgid.Store(int64(n))
		case line == sudoPrompt:
			prompts++
			if prompts > 1 || s.mode != sudoPassword {
				s.in.Close() // refused: sudo gives up at once
				continue
			}
			io.WriteString(s.in, password+"\n")
		case line == sudoOK:
		case line == shellReady:
			done <- shellUp{}
			return
		default:
			noise.WriteString(l)
		}
	}
}

// shellScript renders argv (with env) as the script a resident shell runs
// in a subshell. `sh -c SCRIPT NAME ARGS...` runs SCRIPT there directly with
// ARGS as its positional parameters (one program less), unless SCRIPT uses
// $0 or $$, which would differ.
func shellScript(argv []string, env map[string]string) (string, error) {
	if len(argv) == 0 || argv[0] == "" {
		return "", fmt.Errorf("empty program")
	}
	keys, err := envKeys(env)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("export " + k + "=" + ShQuote(env[k]) + "\n")
	}
	if len(argv) >= 3 && argv[0] == "sh" && argv[1] == "-c" && !strings.Contains(argv[2], "$$") &&
		!strings.Contains(argv[2], "$0") && !strings.Contains(argv[2], "${0") {
		b.WriteString("set --")
		if len(argv) > 4 {
			b.WriteString(" " + ShJoin(argv[4:]))
		}
		b.WriteString("\n" + argv[2] + "\n")
	} else {
		b.WriteString(ShJoin(argv) + "\n")
	}
	return b.String(), nil
}

// execShell runs r in s. handled is false when r cannot go through a
// resident shell after all (nothing was sent; s is still usable and given
// back): the caller runs it in a session of its own.
func (h *Host) execShell(ctx context.Context, s *rshell, r *execReq) (res Result, err error, handled bool) {
	script, err := shellScript(r.argv, r.env)
	if err != nil {
		h.putShell(s)
		return res, fmt.Errorf("host %s: %w", h.cfg.Name, err), true
	}
	if strings.IndexByte(script, 0) >= 0 {
		h.putShell(s)
		return res, nil, false
	}
	var stdin []byte
	if r.stdin != nil { // read without consuming: a fallback session sends it again
		br := r.stdin.(*bytes.Reader)
		stdin = make([]byte, br.Len())
		br.ReadAt(stdin, br.Size()-int64(br.Len()))
		defer func() {
			if handled {
				br.Seek(0, io.SeekEnd)
			}
		}()
	}
	tok, req := shellRequest(script, stdin, r.stdin != nil)

	outc, errc := make(chan shellOut, 1), make(chan shellOut, 1)
	go readShellStream(s.out, tok, false, outc)
	go readShellStream(s.err, tok, true, errc)
	wrote := make(chan error, 1)
	go func() {
		_, err := s.in.Write(req)
		wrote <- err
	}()
	o, e, err := h.awaitShell(ctx, s, r.timeout, outc, errc)
	if err != nil { // cancelled or timed out: the shell is killed
		res.Stdout, res.Stderr = o.b, e.b
		return res, err, true
	}
	return h.shellVerdict(s, o, e, wrote)
}

// shellRequest renders one command for a resident shell: a token new for
// this command, found in neither the script nor the stdin, then the
// request as the shell loop reads it (TOKEN, N, the script, TOKEN, the N
// bytes, "TOKEN=").
func shellRequest(script string, stdin []byte, hasStdin bool) (tok string, req []byte) {
	for {
		var b [16]byte
		rand.Read(b[:])
		tok = shellTokenPrefix + hex.EncodeToString(b[:])
		if !strings.Contains(script, tok) && !bytes.Contains(stdin, []byte(tok)) {
			break
		}
	}
	n := -1
	if hasStdin {
		n = len(stdin)
	}
	req = make([]byte, 0, len(script)+3*len(tok)+len(stdin)+32)
	req = append(req, tok+"\n"+strconv.Itoa(n)+"\n"+script+tok+"\n"...)
	if hasStdin {
		req = append(req, stdin...)
		req = append(req, tok+"=\n"...) // the shell reads it right after the N bytes: they were all there
	}
	return tok, req
}

// readShellStream reads one of a resident shell's streams up to tok and
// sends what came before it. On stderr (ack) it first waits for the
// shell's "TOKEN+" (the command starts) and takes "TOKEN!" (its stdin could
// not be staged: nothing ran) and another command's token (the shell is out
// of step: errShellFraming) as their own answers.
func readShellStream(rd *bufio.Reader, tok string, ack bool, ch chan<- shellOut) {
	var buf []byte
	acked := false
	for {
		l, err := rd.ReadBytes('\n') // the token ends the last line
		if ack && !acked {
			switch {
			case string(l) == tok+"+\n":
				acked = true
				continue
			case string(l) == tok+"!\n":
				ch <- shellOut{b: buf, staging: true}
				return
			case bytes.Contains(l, []byte(shellTokenPrefix)) && !bytes.Contains(l, []byte(tok)):
				ch <- shellOut{b: append(buf, l...), err: errShellFraming}
				return
			}
		}
		if i := bytes.Index(l, []byte(tok)); i >= 0 {
			buf = append(buf, l[:i]...)
			ch <- shellOut{b: buf, rest: strings.TrimSpace(string(l[i+len(tok):])), acked: acked}
			return
		}
		buf = append(buf, l...)
		if err != nil {
			ch <- shellOut{b: buf, err: err, acked: acked}
			return
		}
	}
}

// awaitShell waits for both streams of a command, or for one of them to
// break (then briefly for the other). A cancelled context or the timeout
// kills the shell and returns what the streams had, with the error.
func (h *Host) awaitShell(ctx context.Context, s *rshell, timeout time.Duration, outc, errc chan shellOut) (o, e shellOut, err error) {
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	haveO, haveE := false, false
	for !haveO || !haveE {
		select {
		case o = <-outc:
			haveO = true
		case e = <-errc:
			haveE = true
		case <-ctx.Done():
			how := h.dropShell(s, true, "cancelled")
			o.b, e.b = drainGot(outc, o, haveO), drainGot(errc, e, haveE)
			return o, e, fmt.Errorf("host %s: %w (%s)", h.cfg.Name, ctx.Err(), how)
		case <-tc:
			how := h.dropShell(s, true, "timeout")
			o.b, e.b = drainGot(outc, o, haveO), drainGot(errc, e, haveE)
			return o, e, fmt.Errorf("host %s: %w after %s (%s)", h.cfg.Name, ErrTimeout, timeout, how)
		}
		if (haveO && o.err != nil) || (haveE && e.err != nil) {
			break
		}
	}
	if !haveO { // one stream broke: the other one ends with it
		if o, haveO = awaitOut(outc); !haveO {
			o.err = errStreamSilent
		}
	}
	if !haveE {
		if e, haveE = awaitOut(errc); !haveE {
			e.err = errStreamSilent
		}
	}
	return o, e, nil
}

// errStreamSilent: a stream that said nothing more after its twin broke.
var errStreamSilent = errors.New("the stream did not end with its twin")

// shellVerdict turns what a command's streams said into its result, and
// decides the shell's fate: given back when all is in step, dropped (and
// killed when it may still run something) otherwise. handled is false when
// nothing ran and a session of its own must run the command.
func (h *Host) shellVerdict(s *rshell, o, e shellOut, wrote <-chan error) (res Result, err error, handled bool) {
	res.Stdout, res.Stderr = o.b, e.b
	unknown := "while the command ran; its outcome is unknown"
	switch {
	case e.staging:
		// The shell copied fewer than N bytes of stdin (its temporary
		// directory is full, say) and ended before running anything: the
		// command takes a session of its own, as do later ones with stdin.
		h.dropShell(s, false, "stdin could not be staged")
		<-wrote
		h.mu.Lock()
		h.shells.noStdin[s.mode] = true
		h.mu.Unlock()
		h.f.debug("resident shell could not stage stdin", "host", h.cfg.Name, "stderr", h.f.red.Redact(string(e.b)))
		return Result{}, nil, false
	case errors.Is(o.err, errShellFraming) || errors.Is(e.err, errShellFraming):
		how := h.dropShell(s, true, "framing lost")
		return res, h.lostErr(fmt.Errorf("%w (%s)", errShellFraming, how), unknown), true
	case o.err != nil || e.err != nil:
		h.dropShell(s, false, "stream ended")
		werr := <-wrote
		if !errors.Is(e.err, errStreamSilent) && !e.acked && len(o.b) == 0 && len(e.b) == 0 {
			// The shell never took the command (it ended before, e.g. with its
			// connection): nothing ran, so a session of its own runs it.
			h.f.debug("resident shell gone before the command", "host", h.cfg.Name, "err", errors.Join(o.err, e.err, werr))
			return Result{}, nil, false
		}
		when := unknown
		if werr == nil && !s.c.isDead() {
			when = "(its resident shell ended) " + when
		}
		return res, h.lostErr(errors.Join(o.err, e.err, werr), when), true
	}
	if err := <-wrote; err != nil {
		h.dropShell(s, false, "write failed")
		return res, h.lostErr(err, unknown), true
	}
	st, perr := strconv.Atoi(o.rest)
	if perr != nil || !e.acked {
		how := h.dropShell(s, true, "bad status line")
		return res, h.lostErr(fmt.Errorf("%w: it answered %q instead of an exit status (%s)", errShellFraming, o.rest, how), unknown), true
	}
	res.ExitStatus = st
	h.putShell(s)
	return res, nil, true
}

// shellOut is one stream of a command run by a resident shell.
type shellOut struct {
	b       []byte
	rest    string // after the token: the exit status on stdout
	err     error
	acked   bool // stderr: the shell took the command ("TOKEN+")
	staging bool // stderr: the shell could not stage the stdin ("TOKEN!")
}

// shellTokenPrefix begins every command's token.
const shellTokenPrefix = "hawiz-end-"

// errShellFraming: a resident shell answered out of protocol.
var errShellFraming = errors.New("the resident shell lost its framing")

// awaitOut waits briefly for a reader that is ending with its stream.
func awaitOut(ch chan shellOut) (shellOut, bool) {
	select {
	case g := <-ch:
		return g, true
	case <-time.After(2 * time.Second):
		return shellOut{}, false
	}
}

// drainGot returns what a reader collected, waiting briefly (awaitOut) for
// a reader that is ending now that its shell was killed.
func drainGot(ch chan shellOut, g shellOut, have bool) []byte {
	if !have {
		g, _ = awaitOut(ch)
	}
	return g.b
}
