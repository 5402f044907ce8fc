package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// execReq is one remote command as the primitives build it.
type execReq struct {
	kind    string   // transcript kind
	detail  string   // transcript detail (redacted on output)
	argv    []string // POSIX argv (Linux)
	ps      string   // PowerShell script (Windows); "" = render argv
	env     map[string]string
	sudo    bool
	stdin   io.Reader
	timeout time.Duration
	onLine  func(stream, line string)
	// noOutput keeps stdout out of the transcript (file contents).
	noOutput bool
	noSem    bool // the kill command must not wait for a session slot
	// read: the command only reads (a stat, a file, a state check); without
	// a timeout of its own it gets Options.ReadTimeout.
	read bool
}

func (h *Host) sudoMode(sudo bool) sudoMode {
	switch {
	case !sudo:
		return sudoNone
	case h.cfg.SudoPassword != "":
		return sudoPassword
	default:
		return sudoNoPass
	}
}

// commandLine renders r for h's flavour.
func (h *Host) commandLine(r *execReq) (string, error) {
	if h.cfg.OS == Windows {
		s := r.ps
		if s == "" {
			var err error
			if s, err = psRunScript(r.argv, r.env, r.stdin != nil); err != nil {
				return "", err
			}
		}
		return psCommandLine(s), nil
	}
	return renderPOSIX(r.argv, r.env, h.sudoMode(r.sudo))
}

// Run runs c and waits for it. The error is only for transport problems,
// timeouts and cancellation (and a refused sudo password); a non-zero exit is
// Result.ExitStatus (see Result.ExitError). On Windows, Sudo is ignored: the
// SSH user must already be an administrator.
func (h *Host) Run(ctx context.Context, c Cmd) (Result, error) {
	r := execReq{kind: "run", argv: append([]string{c.Program}, c.Args...), env: c.Env, sudo: c.Sudo,
		stdin: c.Stdin, timeout: c.Timeout, onLine: c.OnLine}
	if h.f.opts.Transcript != nil {
		r.detail = ShJoin(r.argv)
		if c.Sudo {
			r.detail = "sudo " + r.detail
		}
	}
	return h.exec(ctx, &r)
}

// exec runs r, records it in the transcript, and maps sudo failures.
func (h *Host) exec(ctx context.Context, r *execReq) (Result, error) {
	if r.timeout <= 0 && (r.read || r.kind == "stat" || r.kind == "read") {
		r.timeout = h.f.opts.ReadTimeout
		if r.timeout <= 0 {
			r.timeout = DefaultReadTimeout
		}
	}
	start := time.Now()
	var res Result
	var err error
	viaShell := false
	if s := h.shellFor(ctx, r); s != nil {
		res, err, viaShell = h.execShell(ctx, s, r)
	}
	if !viaShell {
		res, err = h.execRaw(ctx, r)
	}
	res.Duration = time.Since(start)
	if err == nil && r.sudo && h.cfg.OS != Windows && !viaShell { // a resident root shell runs no sudo per command
		err = h.sudoError(res)
	}
	err = h.f.redactErr(err)
	if h.f.opts.Transcript != nil {
		a := Action{Time: start, Host: h.cfg.Name, Kind: r.kind, Detail: r.detail, ExitStatus: res.ExitStatus,
			Duration: res.Duration, Err: h.f.errString(err)}
		if !r.noOutput {
			a.Output = transcriptOutput(h.f.red, res.Stdout, res.Stderr)
		} else if len(res.Stderr) > 0 {
			a.Output = transcriptOutput(h.f.red, nil, res.Stderr)
		}
		h.f.record(a)
	}
	if h.f.log != nil && h.f.log.Enabled(ctx, slog.LevelDebug) {
		h.f.log.Debug("remote", "host", h.cfg.Name, "kind", r.kind, "detail", h.f.red.Redact(r.detail),
			"exit", res.ExitStatus, "duration", res.Duration, "err", h.f.red.Redact(h.f.errString(err)))
	}
	return res, err
}

const maxTranscriptOutput = 8 << 10

// transcriptOutput joins a command's output for the transcript, redacted
// whole BEFORE a long output is cut (a secret across the cut would leave
// its ends in clear otherwise).
func transcriptOutput(red *Redactor, stdout, stderr []byte) string {
	if len(stdout) == 0 && len(stderr) == 0 {
		return ""
	}
	var b strings.Builder
	b.Write(stdout)
	if len(stderr) > 0 {
		if len(stdout) > 0 && stdout[len(stdout)-1] != '\n' {
			b.WriteByte('\n')
		}
		b.Write(stderr)
	}
	s := red.Redact(b.String())
	if len(s) > maxTranscriptOutput {
		s = s[:maxTranscriptOutput/2] + "\n[… " + strconv.Itoa(len(s)-maxTranscriptOutput) + " bytes elided …]\n" + s[len(s)-maxTranscriptOutput/2:]
	}
	return s
}

// sudoError turns sudo's own failures into errors naming the host.
func (h *Host) sudoError(res Result) error {
	if res.ExitStatus != 1 {
		return nil
	}
	se := string(res.Stderr)
	switch {
	case strings.Contains(se, "incorrect password") || strings.Contains(se, "Sorry, try again") ||
		strings.Contains(se, "no password was provided"):
		return fmt.Errorf("host %s: %w", h.cfg.Name, ErrSudoPassword)
	case strings.Contains(se, "a password is required"):
		return fmt.Errorf("host %s: sudo: a password is required (no sudo password was given)", h.cfg.Name)
	case strings.Contains(se, "is not in the sudoers file") || strings.Contains(se, "is not allowed to execute"):
		return fmt.Errorf("host %s: sudo: %s", h.cfg.Name, strings.TrimSpace(lastLines(se, 1)))
	}
	return nil
}

// execRaw opens a session (re-dialling a dead connection once), runs the
// command and collects its output.
func (h *Host) execRaw(ctx context.Context, r *execReq) (Result, error) {
	var res Result
	cmdline, err := h.commandLine(r)
	if err != nil {
		return res, fmt.Errorf("host %s: %w", h.cfg.Name, err)
	}
	var gate *sudoGate
	if h.cfg.OS != Windows && h.sudoMode(r.sudo) == sudoPassword {
		gate = &sudoGate{pw: h.cfg.SudoPassword, stdin: r.stdin, events: make(chan string, 8), done: make(chan struct{})}
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("host %s: %w", h.cfg.Name, err)
	}
	if !r.noSem {
		select {
		case h.sem <- struct{}{}:
		case <-ctx.Done():
			return res, fmt.Errorf("host %s: %w", h.cfg.Name, ctx.Err())
		}
		defer func() { <-h.sem }()
	}

	octx := ctx
	if r.timeout > 0 { // the Timeout also bounds opening the session
		var cancel context.CancelFunc
		octx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	sess, err := h.newSession(octx)
	if err != nil {
		if ctx.Err() == nil && octx.Err() != nil {
			return res, fmt.Errorf("host %s: %w after %s (opening a session)", h.cfg.Name, ErrTimeout, r.timeout)
		}
		return res, err
	}
	defer sess.Close()

	var outBuf, errBuf bytes.Buffer
	var lines *lineSink
	if r.onLine != nil {
		lines = &lineSink{fn: r.onLine, red: h.f.red}
	}
	stdout := &streamWriter{buf: &outBuf, sink: lines, stream: "stdout"}
	stderr := &streamWriter{buf: &errBuf, sink: lines, stream: "stderr", wantPID: h.cfg.OS != Windows}
	if stderr.wantPID {
		stderr.pidReady = make(chan struct{})
	}
	sess.Stdout = stdout
	sess.Stderr = stderr
	if gate != nil {
		stderr.gate = gate
		if gate.pipe, err = sess.StdinPipe(); err != nil {
			return res, fmt.Errorf("host %s: %w", h.cfg.Name, err)
		}
		defer close(gate.done)
	} else if r.stdin != nil {
		sess.Stdin = r.stdin
	}
	if err := sess.Start(cmdline); err != nil {
		return res, h.lostErr(err, "starting the command")
	}
	if gate != nil {
		go gate.feed()
	}

	timeout := r.timeout
	if ctx.Done() == nil && timeout <= 0 {
		err = sess.Wait()
	} else {
		wait := make(chan error, 1)
		go func() { wait <- sess.Wait() }()
		var tc <-chan time.Time
		if timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			tc = t.C
		}
		select {
		case err = <-wait:
		case <-ctx.Done():
			how := h.kill(sess, stderr.pid(2*time.Second), r.sudo)
			<-wait
			stdout.flush()
			stderr.flush()
			lines.flush()
			res.Stdout, res.Stderr = outBuf.Bytes(), errBuf.Bytes()
			return res, fmt.Errorf("host %s: %w (%s)", h.cfg.Name, ctx.Err(), how)
		case <-tc:
			how := h.kill(sess, stderr.pid(2*time.Second), r.sudo)
			<-wait
			stdout.flush()
			stderr.flush()
			lines.flush()
			res.Stdout, res.Stderr = outBuf.Bytes(), errBuf.Bytes()
			return res, fmt.Errorf("host %s: %w after %s (%s)", h.cfg.Name, ErrTimeout, timeout, how)
		}
	}
	stdout.flush()
	stderr.flush()
	lines.flush()
	res.Stdout, res.Stderr = outBuf.Bytes(), errBuf.Bytes()
	var ee *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitStatus = ee.ExitStatus()
	default:
		return res, h.lostErr(err, "while the command ran; its outcome is unknown")
	}
	return res, nil
}

// ErrTimeout is wrapped by errors of commands that reached their Timeout.
var ErrTimeout = errors.New("timed out")

func (h *Host) lostErr(err error, when string) error {
	return fmt.Errorf("host %s: %w %s: %v", h.cfg.Name, ErrConnectionLost, when, err)
}

// kill ends a remote command: SSH "signal" KILL, close the session, and —
// on POSIX hosts, where sshd may not deliver signals and a signal to sudo
// does not reach its child — kill the process group on a fresh session.
func (h *Host) kill(sess *ssh.Session, pgid int, sudo bool) string {
	sess.Signal(ssh.SIGKILL)
	sess.Close()
	if h.cfg.OS == Windows {
		return "session closed"
	}
	if pgid <= 1 {
		return "session closed; the remote process group was not reported, only signalled"
	}
	kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := execReq{kind: "kill", argv: []string{"kill", "-s", "KILL", "--", "-" + strconv.Itoa(pgid)}, sudo: sudo, noSem: true}
	res, err := h.execRaw(kctx, &r)
	if err == nil && res.ExitStatus != 0 && !bytes.Contains(res.Stderr, []byte("No such process")) {
		err = res.ExitError()
	}
	if err != nil {
		h.f.debug("kill remote process group", "host", h.cfg.Name, "pgid", pgid, "err", err)
		return "killing remote process group " + strconv.Itoa(pgid) + " failed: " + err.Error()
	}
	return "remote process killed"
}

// newSession opens a session, re-dialling once when the connection is dead.
// Nothing has been sent for the command yet, so retrying is safe.
func (h *Host) newSession(ctx context.Context) (*ssh.Session, error) {
	c, err := h.current(ctx)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		s, err := openSession(ctx, c)
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("host %s: %w (opening a session)", h.cfg.Name, ctx.Err())
		}
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) && !c.isDead() {
			// The server refused another channel (MaxSessions): back off.
			if attempt >= 50 {
				return nil, fmt.Errorf("host %s: opening a session: %w", h.cfg.Name, err)
			}
			select {
			case <-time.After(time.Duration(attempt+1) * 10 * time.Millisecond):
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("host %s: %w", h.cfg.Name, ctx.Err())
			}
		}
		if attempt > 0 {
			return nil, h.lostErr(err, "(re-dialled once)")
		}
		if c, err = h.redial(ctx, c); err != nil {
			return nil, err
		}
	}
}

// current returns the live connection, re-dialling once when it is known dead.
func (h *Host) current(ctx context.Context) (*conn, error) {
	h.mu.Lock()
	c, closed := h.conn, h.closed
	h.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("host %s: fleet closed", h.cfg.Name)
	}
	if c == nil || c.isDead() {
		return h.redial(ctx, c)
	}
	return c, nil
}

// redial replaces old (if still current) by a new connection. Concurrent
// callers that saw the same dead connection share one re-dial.
func (h *Host) redial(ctx context.Context, old *conn) (*conn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, fmt.Errorf("host %s: fleet closed", h.cfg.Name)
	}
	if h.conn != old && h.conn != nil && !h.conn.isDead() {
		return h.conn, nil
	}
	if old != nil {
		old.close()
	}
	h.conn = nil
	start := time.Now()
	c, err := h.f.dial(ctx, h.cfg.Name, h.t, nil)
	h.f.record(Action{Time: start, Host: h.cfg.Name, Kind: "dial", Detail: "re-dial " + h.t.user + "@" + h.t.hostport(),
		Duration: time.Since(start), Err: h.f.errString(err)})
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", err, ErrConnectionLost)
	}
	h.conn = c
	return c, nil
}

// lineSink delivers complete lines to the caller's callback, one at a time.
type lineSink struct {
	mu      sync.Mutex
	fn      func(stream, line string)
	red     *Redactor
	streams [2]*LineStream // stdout, stderr: a secret the output wraps over lines is caught
}

func (l *lineSink) emit(stream string, line []byte) {
	s := strings.TrimSuffix(string(line), "\r")
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	if stream == "stderr" {
		i = 1
	}
	if l.streams[i] == nil {
		l.streams[i] = l.red.NewLineStream(func(s string) { l.fn(stream, s) })
	}
	l.streams[i].Line(s)
}

// flush emits the lines the streams still hold back (the command ended).
func (l *lineSink) flush() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ls := range l.streams {
		if ls != nil {
			ls.Flush()
		}
	}
}

// sudoGate writes the sudo password when sudo prompts for it, and the
// command's stdin once sudo has started the command.
type sudoGate struct {
	pw     string
	stdin  io.Reader
	pipe   io.WriteCloser
	events chan string // "prompt" / "ok", from the stderr filter
	done   chan struct{}
}

func (g *sudoGate) event(e string) {
	select {
	case g.events <- e:
	default:
	}
}

func (g *sudoGate) feed() {
	defer g.pipe.Close()
	prompts := 0
	for {
		select {
		case <-g.done:
			return
		case e := <-g.events:
			switch e {
			case "prompt":
				prompts++
				if prompts > 1 { // refused: end stdin so sudo gives up now
					return
				}
				io.WriteString(g.pipe, g.pw+"\n")
			case "ok":
				if g.stdin != nil {
					io.Copy(g.pipe, g.stdin)
				}
				return
			}
		}
	}
}

// streamWriter collects a stream, splits it into lines for the sink, and on
// stderr consumes the shell's "hawiz-pid:N" line.
type streamWriter struct {
	buf     *bytes.Buffer
	sink    *lineSink
	stream  string
	partial []byte

	gate     *sudoGate // sudo password exchange markers (stderr), until sudoOK
	gateDone bool
	wantPID  bool
	pre      []byte // stderr bytes held while markers are expected
	mu       sync.Mutex
	pgid     int
	pidReady chan struct{} // closed once the pid line was seen (wantPID only)
}

func (w *streamWriter) filtering() bool { return w.wantPID || (w.gate != nil && !w.gateDone) }

func (w *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	if !w.filtering() {
		w.write(p)
		return n, nil
	}
	w.pre = append(w.pre, p...)
	for w.filtering() {
		i := bytes.IndexByte(w.pre, '\n')
		if i < 0 {
			return n, nil
		}
		line := w.pre[:i]
		switch {
		case w.wantPID && bytes.HasPrefix(line, []byte(pidMarker)):
			pid, _ := strconv.Atoi(string(line[len(pidMarker):]))
			w.mu.Lock()
			w.pgid = pid
			w.mu.Unlock()
			w.wantPID = false
			close(w.pidReady)
		case w.gate != nil && !w.gateDone && string(line) == sudoPrompt:
			w.gate.event("prompt")
		case w.gate != nil && !w.gateDone && string(line) == sudoOK:
			w.gateDone = true
			w.gate.event("ok")
		default:
			w.write(w.pre[:i+1]) // e.g. "Sorry, try again.", or noise from a shell rc file
		}
		w.pre = w.pre[i+1:]
	}
	rest := w.pre
	w.pre = nil
	w.write(rest)
	return n, nil
}

func (w *streamWriter) write(p []byte) {
	if len(p) == 0 {
		return
	}
	w.buf.Write(p)
	if w.sink == nil {
		return
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			return
		}
		if len(w.partial) > 0 {
			w.partial = append(w.partial, p[:i]...)
			w.sink.emit(w.stream, w.partial)
			w.partial = w.partial[:0]
		} else {
			w.sink.emit(w.stream, p[:i])
		}
		p = p[i+1:]
	}
}

func (w *streamWriter) flush() {
	if len(w.pre) > 0 {
		pre := w.pre
		w.pre = nil
		w.wantPID = false
		w.write(pre)
	}
	if w.sink != nil && len(w.partial) > 0 {
		w.sink.emit(w.stream, w.partial)
		w.partial = nil
	}
}

// pid returns the remote process group, waiting up to wait for the shell's
// report (a command cancelled right after it started may not have reported
// it yet).
func (w *streamWriter) pid(wait time.Duration) int {
	if w.pidReady == nil {
		return 0
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-w.pidReady:
	case <-t.C:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pgid
}

// CheckSudo proves on every host, in parallel, that sudo works (with the
// host's SudoPassword when set, else sudo -n). It returns one error per
// failing host, joined. On Windows it checks that the user is an
// administrator.
func (f *Fleet) CheckSudo(ctx context.Context) error {
	errs := make([]error, len(f.hosts))
	var wg sync.WaitGroup
	for i, h := range f.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = h.CheckSudo(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// CheckSudo proves that sudo works on h.
func (h *Host) CheckSudo(ctx context.Context) error {
	r := execReq{kind: "run", detail: "sudo true", argv: []string{"true"}, sudo: true, timeout: 30 * time.Second}
	if h.cfg.OS == Windows {
		r.detail = "check administrator"
		r.ps = psPrelude + "if (([Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) { exit 0 } else { exit 1 }\n"
	}
	res, err := h.exec(ctx, &r)
	if err != nil {
		return err
	}
	if res.ExitStatus != 0 {
		if h.cfg.OS == Windows {
			return fmt.Errorf("host %s: user %s is not an administrator", h.cfg.Name, h.t.user)
		}
		return fmt.Errorf("host %s: sudo: %w", h.cfg.Name, h.exitErr(res))
	}
	return nil
}

// redactedError carries a redacted message and keeps errors.Is/As working.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func (f *Fleet) redactErr(err error) error {
	if err == nil || f.red.Empty() {
		return err
	}
	m := err.Error()
	if r := f.red.Redact(m); r != m {
		return &redactedError{msg: r, err: err}
	}
	return err
}

// exitErr is res.ExitError() with secrets redacted from the stderr tail.
func (h *Host) exitErr(res Result) error {
	err := res.ExitError()
	var ee *ExitError
	if errors.As(err, &ee) {
		ee.Stderr = h.f.red.Redact(ee.Stderr)
	}
	return err
}

// openSession is NewSession that gives up when ctx ends or c dies.
func openSession(ctx context.Context, c *conn) (*ssh.Session, error) {
	return openOn(ctx, c, c.client.NewSession, func(s *ssh.Session) { s.Close() })
}

// errConnDead: the connection died while a channel was being opened on it.
var errConnDead = errors.New("the connection ended while a channel was being opened")

// openOn opens a channel on c with open, giving up when ctx ends (a server
// that stopped answering would block it forever) or when c dies first:
// x/crypto/ssh registers a new channel without checking whether its reader
// has already closed every channel of a dropped connection, so an open sent
// in that window waits for an answer that never comes (seen in CI: a command
// right after the server killed the connection hung until its deadline). The
// abandoned open's goroutine closes what it gets, if it ever gets it.
func openOn[T any](ctx context.Context, c *conn, open func() (T, error), closeIt func(T)) (T, error) {
	type opened struct {
		v   T
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		v, err := open()
		ch <- opened{v, err}
	}()
	abandon := func() {
		go func() {
			if o := <-ch; o.err == nil {
				closeIt(o.v)
			}
		}()
	}
	var zero T
	select {
	case o := <-ch:
		return o.v, o.err
	case <-ctx.Done():
		abandon()
		return zero, ctx.Err()
	case <-c.dead:
		select { // it may have failed on its own just now: that error says more
		case o := <-ch:
			if o.err != nil {
				return zero, o.err
			}
			closeIt(o.v)
		default:
			abandon()
		}
		return zero, errConnDead
	}
}
