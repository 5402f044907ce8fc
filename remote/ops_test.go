package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote/sshtest"
)

const fakeSudo = `#!/bin/sh
# fake sudo: -n runs the command or fails; -S prints the -p prompt on stderr
# and reads the password from stdin (3 tries), unless FAKE_SUDO_NOPASSWD.
mode=none k= prompt="Password: "
while [ $# -gt 0 ]; do
  case "$1" in
    -n) mode=n; shift;;
    -S) mode=S; shift;;
    -p) prompt=$2; shift 2;;
    -k) k=1; shift;;
    --) shift; break;;
    *) break;;
  esac
done
printf '%s %s\n' "$mode" "$*" >> "$HAWIZ_ROOT/sudo.log"
case "$mode" in
  n) if [ -n "$FAKE_SUDO_NEEDS_PASSWORD" ]; then echo "sudo: a password is required" >&2; exit 1; fi
     exec "$@";;
  S) [ -n "$k" ] || { echo "fake sudo: -k missing" >&2; exit 99; }
     [ -n "$FAKE_SUDO_NOPASSWD" ] && exec "$@"
     for try in 1 2 3; do
       printf '%s' "$prompt" >&2
       if ! IFS= read -r pw; then echo "sudo: no password was provided" >&2; echo "sudo: $((try-1)) incorrect password attempts" >&2; exit 1; fi
       [ "$pw" = "$FAKE_SUDO_PASSWORD" ] && exec "$@"
       echo "Sorry, try again." >&2
     done
     echo "sudo: 3 incorrect password attempts" >&2; exit 1;;
esac
echo "fake sudo: neither -n nor -S" >&2
exit 98
`

func fakeBinServer(l *lab, bin string, env ...string) *sshtest.Server {
	return l.server(func(c *sshtest.Config) {
		c.Env = append([]string{"PATH=" + bin + ":" + os.Getenv("PATH")}, env...)
	})
}

func TestSudo(t *testing.T) {
	l := newLab(t)
	bin := filepath.Join(l.dir, "bin")
	writeExec(t, bin, "sudo", fakeSudo)
	const pw = "pa'ss $(w) \"rd\""
	withPW := fakeBinServer(l, bin, "FAKE_SUDO_PASSWORD="+pw)
	noPW := fakeBinServer(l, bin, "FAKE_SUDO_PASSWORD="+pw)
	needsPW := fakeBinServer(l, bin, "FAKE_SUDO_NEEDS_PASSWORD=1")
	wrongPW := fakeBinServer(l, bin, "FAKE_SUDO_PASSWORD="+pw)
	nopasswd := fakeBinServer(l, bin, "FAKE_SUDO_NOPASSWD=1")
	tr := &transcript{}
	o := l.opts()
	o.Transcript = tr.add
	var hcs []HostConfig
	for i, s := range []*sshtest.Server{withPW, noPW, needsPW, wrongPW, nopasswd} {
		l.trust(s)
		hc := l.hostConfig("web"+itoa(i+1), s)
		switch i {
		case 0:
			hc.SudoPassword = pw
		case 3:
			hc.SudoPassword = "not it"
		case 4:
			hc.SudoPassword = pw // a NOPASSWD rule: sudo never asks
		}
		hcs = append(hcs, hc)
	}
	f, err := Connect(ctxT(t), o, hcs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := ctxT(t)

	err = f.CheckSudo(ctx)
	if err == nil {
		t.Fatal("CheckSudo passed with a refused password")
	}
	msg := err.Error()
	if !strings.Contains(msg, "host web4: sudo: the password was refused") || !errors.Is(err, ErrSudoPassword) {
		t.Errorf("wrong password: %v", err)
	}
	if !strings.Contains(msg, "host web3: sudo: a password is required") {
		t.Errorf("password required: %v", err)
	}
	if strings.Contains(msg, "web1") || strings.Contains(msg, "web2") {
		t.Errorf("working hosts reported: %v", err)
	}
	if err := f.Host("web1").CheckSudo(ctx); err != nil {
		t.Fatal(err)
	}

	// the password goes to sudo, the command's stdin stays the command's
	res, err := f.Host("web1").Run(ctx, Cmd{Program: "cat", Sudo: true, Stdin: strings.NewReader("payload\n")})
	if err != nil || string(res.Stdout) != "payload\n" {
		t.Fatalf("sudo -S: %v %q %q", err, res.Stdout, res.Stderr)
	}
	// no prompt (NOPASSWD or cached): the password must not reach the command
	res, err = f.Host("web5").Run(ctx, Cmd{Program: "cat", Sudo: true, Stdin: strings.NewReader("only this\n")})
	if err != nil || string(res.Stdout) != "only this\n" {
		t.Fatalf("NOPASSWD: %v %q %q", err, res.Stdout, res.Stderr)
	}
	// a refused password: the command's stdin is never tried as a password
	res, err = f.Host("web4").Run(ctx, Cmd{Program: "cat", Sudo: true, Stdin: strings.NewReader(pw + "\n")})
	if !errors.Is(err, ErrSudoPassword) || len(res.Stdout) != 0 {
		t.Fatalf("refused: %v %q %q", err, res.Stdout, res.Stderr)
	}
	res, err = f.Host("web2").Run(ctx, Cmd{Program: "echo", Args: []string{"hi"}, Sudo: true})
	if err != nil || string(res.Stdout) != "hi\n" {
		t.Fatalf("sudo -n: %v %q %q", err, res.Stdout, res.Stderr)
	}
	// file primitives through sudo with a password
	p := filepath.Join(withPW.Root(), "secret.conf")
	if _, err := f.Host("web1").WriteFile(ctx, p, []byte("k=v\n"), WriteOptions{Sudo: true, Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "k=v\n" {
		t.Fatalf("file %q", b)
	}
	if fi, err := f.Host("web1").Stat(ctx, p, true); err != nil || fi.Mode.Perm() != 0o600 {
		t.Fatalf("stat %+v %v", fi, err)
	}
	if _, err := f.Host("web4").WriteFile(ctx, p, []byte("evil\n"), WriteOptions{Sudo: true}); !errors.Is(err, ErrSudoPassword) {
		t.Fatalf("write with refused password: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "k=v\n" {
		t.Fatalf("file changed by refused sudo: %q", b)
	}

	logS, _ := os.ReadFile(filepath.Join(withPW.Root(), "sudo.log"))
	logN, _ := os.ReadFile(filepath.Join(noPW.Root(), "sudo.log"))
	if !strings.HasPrefix(string(logS), "S ") || strings.Contains(string(logS), "\nn ") || !strings.HasPrefix(string(logN), "n ") || strings.Contains(string(logN), "\nS ") {
		t.Errorf("sudo modes: with password %q, without %q", logS, logN)
	}
	if strings.Contains(string(logS), "pa'ss") {
		t.Error("password on a command line")
	}
	for _, a := range tr.all() {
		if strings.Contains(fmt.Sprintf("%+v", a), "pa'ss") {
			t.Errorf("password in transcript: %+v", a)
		}
	}
}

func TestService(t *testing.T) {
	l := newLab(t)
	bin := filepath.Join(l.dir, "bin")
	writeExec(t, bin, "systemctl", `#!/bin/sh
printf '%s\n' "$*" >> "$HAWIZ_ROOT/systemctl.log"
state="$HAWIZ_ROOT/state-$(eval echo \${$#})"
case "$1" in
  start|restart) echo active > "$state";;
  stop) echo inactive > "$state";;
  status) [ "$(eval echo \${$#})" = gone ] && exit 4; [ "$(cat "$state" 2>/dev/null)" = active ] || exit 3;;
  *) exit 2;;
esac
`)
	writeExec(t, bin, "svcctl", `#!/bin/sh
printf '%s\n' "$*" >> "$HAWIZ_ROOT/svcctl.log"
case "$1" in -is-active) exit 3;; esac
`)
	s := fakeBinServer(l, bin)
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)
	sd := ServiceManager{Kind: "systemctl"}
	steps := []struct {
		a    ServiceAction
		want bool
	}{{ServiceIsActive, false}, {ServiceStart, true}, {ServiceIsActive, true}, {ServiceStop, false}, {ServiceRestart, true}}
	for _, st := range steps {
		got, err := h.Service(ctx, sd, "mongod", st.a, false)
		if err != nil || got != st.want {
			t.Fatalf("%s: %v %v, want %v", st.a, got, err, st.want)
		}
	}
	log, _ := os.ReadFile(filepath.Join(s.Root(), "systemctl.log"))
	st := "status --no-pager --lines=0 -- mongod\n"
	want := st + "start -- mongod\n" + st + st + "stop -- mongod\n" + st + "restart -- mongod\n" + st
	if string(log) != want {
		t.Fatalf("systemctl calls:\n%s\nwant:\n%s", log, want)
	}
	if _, err := h.Service(ctx, sd, "x", "reload", false); err == nil {
		t.Fatal("unknown action accepted")
	}
	// A unit that does not exist is not "not active" (issue 16 item 3):
	// systemctl status exits 4 for it, and Service says so, naming the
	// host and the unit.
	if active, err := h.Service(ctx, sd, "gone", ServiceIsActive, false); !errors.Is(err, ErrNoSuchService) || active ||
		!strings.Contains(err.Error(), `host web1: service "gone"`) {
		t.Fatalf("unknown unit: %v %v", active, err)
	}
	if _, err := h.Service(ctx, sd, "gone", ServiceStop, false); !errors.Is(err, ErrNoSuchService) {
		t.Fatalf("unknown unit after stop: %v", err)
	}
	cm := ServiceManager{Kind: "command", Command: []string{"svcctl", "-{action}", "{service}"}}
	if active, err := h.Service(ctx, cm, "mmcentral", ServiceStop, false); err != nil || active {
		t.Fatalf("command stop: %v %v", active, err)
	}
	log, _ = os.ReadFile(filepath.Join(s.Root(), "svcctl.log"))
	if string(log) != "-stop mmcentral\n-is-active mmcentral\n" {
		t.Fatalf("svcctl calls %q", log)
	}
	// IsActive asks the state its own way; StopStart restarts as stop + start.
	cm.IsActive = []string{"svcctl", "status={service}"}
	cm.StopStart = true
	if active, err := h.Service(ctx, cm, "mmcentral", ServiceRestart, false); err != nil || !active {
		t.Fatalf("command restart: %v %v", active, err)
	}
	if active, err := h.Service(ctx, cm, "mmcentral", ServiceIsActive, false); err != nil || !active {
		t.Fatalf("command is-active: %v %v", active, err)
	}
	log, _ = os.ReadFile(filepath.Join(s.Root(), "svcctl.log"))
	if want := "-stop mmcentral\n-is-active mmcentral\n-stop mmcentral\n-start mmcentral\nstatus=mmcentral\nstatus=mmcentral\n"; string(log) != want {
		t.Fatalf("svcctl calls %q, want %q", log, want)
	}
	if _, err := h.Service(ctx, ServiceManager{Kind: "systemctl", IsActive: []string{"x"}}, "x", ServiceIsActive, false); err == nil {
		t.Fatal("IsActive accepted for kind systemctl")
	}
}

// Service on Linux: the action(s) and the state check in one session; a
// failing action names itself, keeps its stderr and ends the call before the
// next; systemctl's state query alone runs without sudo.
func TestServiceOneRoundTrip(t *testing.T) {
	l := newLab(t)
	bin := filepath.Join(l.dir, "bin")
	writeExec(t, bin, "sudo", fakeSudo)
	writeExec(t, bin, "systemctl", `#!/bin/sh
printf '%s\n' "$*" >> "$HAWIZ_ROOT/systemctl.log"
case "$1" in
  start) echo active > "$HAWIZ_ROOT/state";;
  stop) rm -f "$HAWIZ_ROOT/state";;
  status) [ -f "$HAWIZ_ROOT/state" ] || exit 3;;
esac
`)
	writeExec(t, bin, "svcctl", `#!/bin/sh
printf '%s\n' "$*" >> "$HAWIZ_ROOT/svcctl.log"
case "$1" in -stop) echo "svcctl: access denied" >&2; exit 5;; esac
`)
	s := fakeBinServer(l, bin)
	tr := &transcript{}
	o := l.opts()
	o.Transcript = tr.add
	o.SessionPerCommand = true // what one session of its own does; shell_test.go has the resident shell's
	f := l.connect(o, s)
	h := f.Host("web1")
	ctx := ctxT(t)
	sd := ServiceManager{Kind: "systemctl"}
	n := s.Execs()
	if active, err := h.Service(ctx, sd, "mongod", ServiceStart, true); err != nil || !active {
		t.Fatalf("start: %v %v", active, err)
	}
	if got := s.Execs() - n; got != 1 {
		t.Fatalf("start + is-active took %d sessions, want 1", got)
	}
	if active, err := h.Service(ctx, sd, "mongod", ServiceIsActive, true); err != nil || !active {
		t.Fatalf("is-active: %v %v", active, err)
	}
	sudoLog, _ := os.ReadFile(filepath.Join(s.Root(), "sudo.log"))
	if strings.Count(string(sudoLog), "n sh -c") != 1 || strings.Contains(string(sudoLog), "status --no-pager --lines=0 -- mongod\n") {
		t.Fatalf("sudo calls %q: want one, for the start (is-active needs no sudo)", sudoLog)
	}
	log, _ := os.ReadFile(filepath.Join(s.Root(), "systemctl.log"))
	if want := "start -- mongod\nstatus --no-pager --lines=0 -- mongod\nstatus --no-pager --lines=0 -- mongod\n"; string(log) != want {
		t.Fatalf("systemctl calls %q, want %q", log, want)
	}
	acts := tr.all()
	if d := acts[len(acts)-2].Detail; d != "sudo 'systemctl' 'start' '--' 'mongod' && sudo 'systemctl' 'status' '--no-pager' '--lines=0' '--' 'mongod' (one session)" {
		t.Fatalf("transcript detail %q", d)
	}
	if d := acts[len(acts)-1].Detail; d != "'systemctl' 'status' '--no-pager' '--lines=0' '--' 'mongod'" {
		t.Fatalf("transcript detail %q", d)
	}
	cm := ServiceManager{Kind: "command", Command: []string{"svcctl", "-{action}"}, StopStart: true}
	_, err := h.Service(ctx, cm, "mmcentral", ServiceRestart, false)
	if err == nil || !strings.Contains(err.Error(), "service mmcentral stop: exit status 5: svcctl: access denied") || strings.Contains(err.Error(), "hawiz-") {
		t.Fatalf("failing stop: %v", err)
	}
	log, _ = os.ReadFile(filepath.Join(s.Root(), "svcctl.log"))
	if string(log) != "-stop\n" {
		t.Fatalf("svcctl calls %q: a failing stop must end the restart", log)
	}

	// With a sudo password: one session, the password fed once, the state
	// right.
	const pw = "svc pw"
	sp := fakeBinServer(l, bin, "FAKE_SUDO_PASSWORD="+pw)
	l.trust(sp)
	hc := l.hostConfig("web9", sp)
	hc.SudoPassword = pw
	fp, err := Connect(ctx, o, []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	defer fp.Close()
	n = sp.Execs()
	if active, err := fp.Host("web9").Service(ctx, sd, "mongod", ServiceStart, true); err != nil || !active {
		t.Fatalf("start with a sudo password: %v %v", active, err)
	}
	if got := sp.Execs() - n; got != 1 {
		t.Fatalf("start with a sudo password took %d sessions", got)
	}
	if active, err := fp.Host("web9").Service(ctx, sd, "mongod", ServiceStop, true); err != nil || active {
		t.Fatalf("stop with a sudo password: %v %v", active, err)
	}
	sudoLog, _ = os.ReadFile(filepath.Join(sp.Root(), "sudo.log"))
	if strings.Count(string(sudoLog), "S sh -c") != 2 {
		t.Fatalf("sudo calls %q", sudoLog)
	}
}

func pidGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// a zombie no one reaped yet is gone as far as we care
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !pidGone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(-pid, syscall.SIGKILL)
			t.Fatalf("remote process %d still running", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readPID(t *testing.T, p string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(p)
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid file %s", p)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTimeoutKillsRemoteProcess(t *testing.T) {
	l := newLab(t)
	// An sshd that ignores "signal" requests: the package must still end
	// the remote process (and its children).
	s := l.server(func(c *sshtest.Config) { c.IgnoreSignals = true })
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	start := time.Now()
	res, err := h.Run(ctxT(t), Cmd{Program: "sh", Args: []string{"-c", "echo started; echo $$ > pid; sleep 30 & echo $! > child; wait"},
		Timeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "host web1") || !strings.Contains(err.Error(), "remote process killed") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("timeout took %v", time.Since(start))
	}
	if string(res.Stdout) != "started\n" {
		t.Errorf("partial output %q", res.Stdout)
	}
	waitGone(t, readPID(t, filepath.Join(s.Root(), "pid")))
	waitGone(t, readPID(t, filepath.Join(s.Root(), "child")))

	// context cancellation ends it too
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", "echo $$ > pid2; exec sleep 30"}})
		done <- err
	}()
	pid := readPID(t, filepath.Join(s.Root(), "pid2"))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
	waitGone(t, pid)
	// the connection is still usable
	if _, err := h.Run(ctxT(t), Cmd{Program: "true"}); err != nil {
		t.Fatal(err)
	}
}

func TestStatAndUpload(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)
	p := filepath.Join(s.Root(), "gen.key")
	content := []byte("0123456789abcdef secret bytes\n")
	os.WriteFile(p, content, 0o600)
	fi, err := h.Stat(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	me, _ := user.Current()
	st, _ := os.Stat(p)
	if !fi.Exists || fi.Size != int64(len(content)) || fi.SHA256 != hex.EncodeToString(sum[:]) || fi.Mode != 0o600 ||
		fi.Owner != me.Username || !fi.ModTime.Equal(st.ModTime()) || fi.ModTimePrecision != time.Nanosecond {
		t.Fatalf("stat %+v, local mtime %v", fi, st.ModTime())
	}
	// Sub-second: a modification time set to .25 s is told as such.
	mt := time.Date(2026, 1, 2, 3, 4, 5, 250_000_000, time.UTC)
	os.Chtimes(p, mt, mt)
	if fi, err := h.Stat(ctx, p, false); err != nil || !fi.ModTime.Equal(mt) || fi.ModTimePrecision != time.Nanosecond {
		t.Fatalf("stat %+v %v", fi, err)
	}
	if _, fi, err := h.ReadFile(ctx, p, false); err != nil || !fi.ModTime.Equal(mt) || fi.ModTimePrecision != time.Nanosecond {
		t.Fatalf("read %+v %v", fi, err)
	}
	// Whole seconds (a file system that keeps no fraction) are not taken
	// for a precise time.
	os.Chtimes(p, mt.Truncate(time.Second), mt.Truncate(time.Second))
	if fi, err := h.Stat(ctx, p, false); err != nil || !fi.ModTime.Equal(mt.Truncate(time.Second)) || fi.ModTimePrecision != time.Second {
		t.Fatalf("stat %+v %v", fi, err)
	}
	if fi, err := h.Stat(ctx, s.Root(), false); err != nil || !fi.Mode.IsDir() || fi.SHA256 != "" {
		t.Fatalf("stat dir %+v %v", fi, err)
	}

	local := filepath.Join(l.dir, "payload.bin")
	big := bytes.Repeat([]byte("hawiz upload\x00\xff"), 100000)
	os.WriteFile(local, big, 0o644)
	var last, calls int64
	dst := filepath.Join(s.Root(), "opt", "payload.bin")
	os.MkdirAll(filepath.Dir(dst), 0o755)
	got, err := h.Upload(ctx, local, dst, WriteOptions{Mode: 0o755}, func(done, total int64) {
		if total != int64(len(big)) || done < last {
			t.Errorf("progress %d/%d after %d", done, total, last)
		}
		last = done
		calls++
	})
	if err != nil {
		t.Fatal(err)
	}
	bsum := sha256.Sum256(big)
	if got != hex.EncodeToString(bsum[:]) || last != int64(len(big)) || calls < 3 {
		t.Fatalf("upload sha %s progress %d (%d calls)", got, last, calls)
	}
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, big) {
		t.Fatal("uploaded content differs")
	}
	if st, _ := os.Stat(dst); st.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v", st.Mode())
	}
}

func TestRedaction(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	tr := &transcript{}
	o := l.opts()
	o.Transcript = tr.add
	o.Redactor = NewRedactor()
	const secret = "hunter2-Sup3r"
	o.Redactor.Add(secret)
	f := l.connect(o, s)
	h := f.Host("web1")
	ctx := ctxT(t)
	b64 := base64.StdEncoding.EncodeToString([]byte(secret))
	hx := hex.EncodeToString([]byte(secret))
	var lines []string
	res, err := h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", `echo "pw=$1"; echo "b64=$2" >&2; echo "hex=$3"; exit 3`, "sh", secret, b64, hx},
		OnLine: func(_, l string) { lines = append(lines, l) }})
	if err != nil || res.ExitStatus != 3 {
		t.Fatal(err, res.ExitStatus)
	}
	if !strings.Contains(string(res.Stdout), secret) {
		t.Fatal("Result.Stdout is the caller's own data and must not be altered")
	}
	for _, l := range lines {
		if strings.Contains(l, secret) || strings.Contains(l, b64) || strings.Contains(l, hx) || !strings.Contains(l, Redacted) {
			t.Errorf("streamed line not redacted: %q", l)
		}
	}
	// a secret file: only path, size, sha256 in the transcript
	p := filepath.Join(s.Root(), "gen.key")
	if _, err := h.WriteFile(ctx, p, []byte("TOPSECRETKEYBYTES"), WriteOptions{Secret: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteFile(ctx, filepath.Join(s.Root(), "plain.conf"), []byte("visible=1\n"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	// an error message carrying a secret is redacted, errors.Is still works
	_, err = h.WriteFile(ctx, p, []byte("x"), WriteOptions{IfSHA256: "absent"})
	if !errors.Is(err, ErrChanged) {
		t.Fatal(err)
	}
	_, err = h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", "sleep 5", "sh", secret}, Timeout: 100 * time.Millisecond})
	if err == nil || !errors.Is(err, ErrTimeout) {
		t.Fatal(err)
	}
	_, err = h.WriteFile(ctx, "/nonexistent-dir-"+secret+"/x", []byte("x"), WriteOptions{})
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), Redacted) {
		t.Errorf("error not redacted: %v", err)
	}
	var sawRun, sawSecretWrite, sawPlain bool
	for _, a := range tr.all() {
		all := fmt.Sprintf("%+v", a)
		if strings.Contains(all, secret) || strings.Contains(all, b64) || strings.Contains(all, hx) || strings.Contains(all, "TOPSECRET") {
			t.Errorf("secret in transcript: %s", all)
		}
		if a.Kind == "run" && strings.Contains(a.Output, "pw="+Redacted) && strings.Contains(a.Detail, Redacted) {
			sawRun = true
		}
		if a.Kind == "write" && strings.Contains(a.Detail, "gen.key (17 bytes, sha256 ") {
			sawSecretWrite = true
		}
		if a.Kind == "write" && strings.Contains(a.Detail, "visible=1") {
			sawPlain = true
		}
	}
	if !sawRun || !sawSecretWrite || !sawPlain {
		t.Errorf("transcript incomplete (run %v secret write %v plain write %v): %+v", sawRun, sawSecretWrite, sawPlain, tr.all())
	}
}

func TestDroppedConnection(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)
	if _, err := h.Run(ctx, Cmd{Program: "true"}); err != nil {
		t.Fatal(err)
	}
	s.KillConnections()
	res, err := h.Run(ctx, Cmd{Program: "echo", Args: []string{"again"}})
	if err != nil || string(res.Stdout) != "again\n" {
		t.Fatalf("after drop: %v %q", err, res.Stdout)
	}
	if s.Accepted() != 2 {
		t.Fatalf("accepted %d, want 2 (one re-dial)", s.Accepted())
	}

	// a connection that dies while a command runs: not re-run, outcome unknown
	done := make(chan error, 1)
	go func() {
		_, err := h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", "echo x >> runs; echo $$ > busy; exec sleep 30"}})
		done <- err
	}()
	readPID(t, filepath.Join(s.Root(), "busy"))
	s.KillConnections()
	err = <-done
	if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "host web1") || !strings.Contains(err.Error(), "outcome is unknown") {
		t.Fatalf("mid-command drop: %v", err)
	}
	if runs, _ := os.ReadFile(filepath.Join(s.Root(), "runs")); string(runs) != "x\n" {
		t.Fatalf("command re-run after the connection died (runs %q)", runs)
	}

	// the host is gone for good: one re-dial, then an error naming it
	s.Close()
	_, err = h.Run(ctx, Cmd{Program: "true"})
	if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "host web1") {
		t.Fatalf("dead host: %v", err)
	}
}

func TestInterruptedWriteLeavesFileIntact(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)
	p := filepath.Join(s.Root(), "data.bin")
	os.WriteFile(p, []byte("original\n"), 0o644)
	local := filepath.Join(l.dir, "big")
	os.WriteFile(local, bytes.Repeat([]byte("x"), 8<<20), 0o644)
	var once sync.Once
	_, err := h.Upload(ctx, local, p, WriteOptions{Backup: true}, func(done, total int64) {
		if done > total/4 {
			once.Do(s.KillConnections)
		}
	})
	if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "host web1") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "original\n" {
		t.Fatalf("target changed: %d bytes", len(b))
	}
	if baks, _ := filepath.Glob(p + ".hawiz-*"); len(baks) != 0 {
		t.Fatalf("backup of an unfinished write: %q", baks)
	}
	// the next write succeeds (re-dial) and sweeps the stale temp file
	if _, err := h.WriteFile(ctx, p, []byte("new\n"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(s.Root(), ".data.bin.hawiz-tmp.*"))
	if b, _ := os.ReadFile(p); string(b) != "new\n" || len(left) != 0 {
		t.Fatalf("after rewrite: %q, temp files %q", b, left)
	}
}

func TestConcurrentCommandsOneConnection(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make([]error, 30)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", "sleep 0.05; echo $1", "sh", itoa(i)}})
			if err == nil && string(res.Stdout) != itoa(i)+"\n" {
				err = fmt.Errorf("got %q", res.Stdout)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if s.Accepted() != 1 {
		t.Fatalf("%d connections, want 1", s.Accepted())
	}
}

// TestStatWithoutSubSecond: a remote stat without %.9Y (refused, ignored as
// an integer precision, or printed back as garbage) falls back to %Y: whole
// seconds, precision 1s, everything else as usual.
func TestStatWithoutSubSecond(t *testing.T) {
	l := newLab(t)
	mt := time.Date(2026, 1, 2, 3, 4, 5, 750_000_000, time.UTC)
	for name, body := range map[string]string{
		"refuses": `case "$*" in *%.9Y*) echo "stat: '%.9Y': invalid directive" >&2; exit 1;; esac; exec /usr/bin/stat "$@"`,
		"integer": `case "$*" in *%.9Y*) set -- "$1" "$2" "$(echo "$3" | sed 's/%.9Y/%Y/')" "$4" "$5";; esac; exec /usr/bin/stat "$@"`,
		"garbage": `case "$*" in *%.9Y*) set -- "$1" "$2" "$(echo "$3" | sed 's/%.9Y/?/')" "$4" "$5";; esac; exec /usr/bin/stat "$@"`,
	} {
		t.Run(name, func(t *testing.T) {
			bin := filepath.Join(l.dir, "bin-"+name)
			writeExec(t, bin, "stat", "#!/bin/sh\n"+body+"\n")
			s := fakeBinServer(l, bin)
			f := l.connect(l.opts(), s)
			h := f.Host("web1")
			p := filepath.Join(s.Root(), "prefs.cfg")
			os.WriteFile(p, []byte("x\n"), 0o640)
			os.Chtimes(p, mt, mt)
			fi, err := h.Stat(ctxT(t), p, false)
			if err != nil || !fi.Exists || fi.Size != 2 || fi.Mode != 0o640 || !fi.ModTime.Equal(mt.Truncate(time.Second)) || fi.ModTimePrecision != time.Second {
				t.Fatalf("stat %+v %v", fi, err)
			}
			if _, fi, err := h.ReadFile(ctxT(t), p, false); err != nil || !fi.ModTime.Equal(mt.Truncate(time.Second)) || fi.ModTimePrecision != time.Second {
				t.Fatalf("read %+v %v", fi, err)
			}
		})
	}
}

func TestParseUnixTime(t *testing.T) {
	for in, want := range map[string]struct {
		t    time.Time
		prec time.Duration
	}{
		"1700000000":           {time.Unix(1700000000, 0), time.Second},
		"1700000000.000000000": {time.Unix(1700000000, 0), time.Second},
		"1700000000.123456789": {time.Unix(1700000000, 123456789), time.Nanosecond},
		"1700000000.1234567":   {time.Unix(1700000000, 123456700), 100 * time.Nanosecond},
		"1700000000.5":         {time.Unix(1700000000, 500000000), 100 * time.Millisecond},
		"-1.25":                {time.Unix(-1, -250000000), 10 * time.Millisecond},
	} {
		got, prec, err := parseUnixTime(in)
		if err != nil || !got.Equal(want.t) || prec != want.prec {
			t.Errorf("%s: %v %v %v, want %v %v", in, got, prec, err, want.t, want.prec)
		}
	}
	for _, in := range []string{"", ".5", "1.", "1.2.3", "1.1234567890", "+1", "1.-5", "1.5e3", "?", "1.%N", "1.N"} {
		if _, _, err := parseUnixTime(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
