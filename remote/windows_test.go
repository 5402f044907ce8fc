package remote

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote/sshtest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// winResponder plays a Windows OpenSSH server: it records each command
// line and answers with the canned response queued by the test.
type winResponder struct {
	mu    sync.Mutex
	cmds  []string
	stdin [][]byte
	next  []winReply
}

type winReply struct {
	stdout, stderr string
	code           int
}

func (w *winResponder) exec(_ context.Context, req sshtest.ExecRequest) int {
	in, _ := io.ReadAll(req.Stdin)
	w.mu.Lock()
	w.cmds = append(w.cmds, req.Command)
	w.stdin = append(w.stdin, in)
	r := winReply{}
	if len(w.next) > 0 {
		r, w.next = w.next[0], w.next[1:]
	}
	w.mu.Unlock()
	io.WriteString(req.Stdout, r.stdout)
	io.WriteString(req.Stderr, r.stderr)
	return r.code
}

func (w *winResponder) reply(rs ...winReply) {
	w.mu.Lock()
	w.next = append(w.next, rs...)
	w.mu.Unlock()
}

func (w *winResponder) last(t *testing.T, n int) []string {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.cmds) < n {
		t.Fatalf("%d commands sent, want at least %d", len(w.cmds), n)
	}
	out := w.cmds[len(w.cmds)-n:]
	w.cmds = nil
	return out
}

var tsLiteral = regexp.MustCompile(`\$ts = '\d{8}T\d{6}Z( \d{8}T\d{6}Z)*'`)

// golden compares the PowerShell script of cmdline with testdata/windows/name.golden.
func golden(t *testing.T, name, cmdline string) {
	t.Helper()
	const prefix = "powershell -NoProfile -NonInteractive -EncodedCommand "
	if !strings.HasPrefix(cmdline, prefix) || strings.ContainsAny(cmdline[len(prefix):], " '\"") {
		t.Fatalf("%s: not an encoded PowerShell command: %q", name, cmdline)
	}
	script, err := DecodePowerShell(cmdline)
	if err != nil {
		t.Fatal(err)
	}
	if psCommandLine(script) != cmdline {
		t.Fatalf("%s: encoding does not round-trip", name)
	}
	script = tsLiteral.ReplaceAllString(script, "$$ts = 'YYYYMMDDTHHMMSSZ …'")
	p := filepath.Join("testdata", "windows", name+".golden")
	if *update {
		if err := os.WriteFile(p, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -run Windows ./remote/ -update)", err)
	}
	if string(want) != script {
		t.Errorf("%s: script differs from %s:\n--- got\n%s\n--- want\n%s", name, p, script, want)
	}
}

func TestWindowsFlavour(t *testing.T) {
	l := newLab(t)
	w := &winResponder{}
	s := l.server(func(c *sshtest.Config) { c.Exec = w.exec })
	l.trust(s)
	hc := l.hostConfig("mm-central2", s)
	hc.OS = Windows
	hc.SudoPassword = "ignored on windows"
	f, err := Connect(ctxT(t), l.opts(), []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := f.Host("mm-central2")
	ctx := ctxT(t)

	// Run: program + args, PowerShell-quoted; exit status passed through
	w.reply(winReply{stdout: "stopped\r\n", code: 0})
	res, err := h.Run(ctx, Cmd{Program: `C:\Program Files\Men and Mice\Central\mmcentral.exe`, Args: []string{"-stop"}, Sudo: true})
	if err != nil || res.ExitStatus != 0 || string(res.Stdout) != "stopped\r\n" {
		t.Fatalf("%v %+v", err, res)
	}
	cmd := w.last(t, 1)[0]
	golden(t, "run-mmcentral-stop", cmd)
	if sc, _ := DecodePowerShell(cmd); !strings.Contains(sc, "'-stop'") {
		t.Errorf("hyphen not ASCII in %q", sc)
	}

	w.reply(winReply{code: 3})
	res, err = h.Run(ctx, Cmd{Program: "cmd.exe", Args: []string{"/c", "it's ‘quoted’ $(x) `n"}, Env: map[string]string{"HAWIZ_MODE": "o'k"},
		Stdin: strings.NewReader("input")})
	if err != nil || res.ExitStatus != 3 {
		t.Fatalf("%v %+v", err, res)
	}
	golden(t, "run-env-stdin", w.last(t, 1)[0])

	// Stat: owner with a space; hash from the server
	const sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	w.reply(winReply{stdout: "exists\t" + sum + "\t4\t81a4\t1700000000.1234567\tNT AUTHORITY\\SYSTEM\tNT AUTHORITY\\SYSTEM\r\n"})
	fi, err := h.Stat(ctx, `C:\ProgramData\Men and Mice\Central\preferences.cfg`, false)
	if err != nil || !fi.Exists || fi.SHA256 != sum || fi.Size != 4 || fi.Owner != `NT AUTHORITY\SYSTEM` ||
		!fi.ModTime.Equal(time.Unix(1700000000, 123456700)) || fi.ModTimePrecision != 100*time.Nanosecond {
		t.Fatalf("%v %+v", err, fi)
	}
	golden(t, "stat", w.last(t, 1)[0])
	w.reply(winReply{stdout: "absent"})
	if fi, err := h.Stat(ctx, `C:\nope`, false); err != nil || fi.Exists {
		t.Fatalf("%v %+v", err, fi)
	}
	w.last(t, 1)

	// ReadFile: stat line on stderr, bytes on stdout
	w.reply(winReply{stdout: "test", stderr: "hawiz-stat:exists\t-\t4\t81a4\t1700000000.0000001\tBUILTIN\\Administrators\tBUILTIN\\Administrators\r\n"})
	data, fi, err := h.ReadFile(ctx, `C:\ProgramData\Men and Mice\Central\preferences.cfg`, false)
	if err != nil || string(data) != "test" || fi.SHA256 != sum || fi.Owner != `BUILTIN\Administrators` ||
		!fi.ModTime.Equal(time.Unix(1700000000, 100)) || fi.ModTimePrecision != 100*time.Nanosecond {
		t.Fatalf("%v %q %+v", err, data, fi)
	}
	golden(t, "read", w.last(t, 1)[0])

	// WriteFile: content on stdin, CAS and backup in the script
	w.reply(winReply{stdout: "hawiz-write:changed:C:\\ProgramData\\x.cfg.hawiz-20260101T000000Z.bak\r\n"})
	wr, err := h.WriteFile(ctx, `C:\ProgramData\x.cfg`, []byte("new content"), WriteOptions{IfSHA256: sum, Backup: true})
	if err != nil || !wr.Changed || wr.Backup != `C:\ProgramData\x.cfg.hawiz-20260101T000000Z.bak` {
		t.Fatalf("%v %+v", err, wr)
	}
	golden(t, "write", w.last(t, 1)[0])
	w.mu.Lock()
	if got := string(w.stdin[len(w.stdin)-1]); got != "new content" {
		t.Errorf("stdin %q", got)
	}
	w.mu.Unlock()
	w.reply(winReply{stderr: "hawiz-cas:" + strings.Repeat("0", 64) + "\r\n", code: 3})
	if _, err := h.WriteFile(ctx, `C:\ProgramData\x.cfg`, []byte("x"), WriteOptions{IfSHA256: sum}); err == nil || !strings.Contains(err.Error(), ErrChanged.Error()) {
		t.Fatalf("CAS: %v", err)
	}
	w.last(t, 1)
	// the file changed after its backup was taken: refused, the backup kept and named
	w.reply(winReply{stderr: "hawiz-cas:" + strings.Repeat("1", 64) + "\r\nhawiz-backup:C:\\ProgramData\\x.cfg.hawiz-20260101T000001Z.bak\r\n", code: 3})
	_, err = h.WriteFile(ctx, `C:\ProgramData\x.cfg`, []byte("x"), WriteOptions{IfSHA256: sum, Backup: true})
	if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), `kept: C:\ProgramData\x.cfg.hawiz-20260101T000001Z.bak`) {
		t.Fatalf("late CAS: %v", err)
	}
	w.last(t, 1)

	// Service through the Service cmdlets, and through a command template.
	// The service is looked up by its display name first (its state and
	// key name); every action and the state check after it use the key.
	found := func(key string, code int) winReply { return winReply{stdout: "hawiz-key:" + key + "\r\n", code: code} }
	w.reply(found("MMCentral", 3), winReply{}, found("MMCentral", 0))
	if active, err := h.Service(ctx, ServiceManager{}, "Men&Mice Central", ServiceRestart, true); err != nil || !active {
		t.Fatalf("%v %v", active, err)
	}
	cmds := w.last(t, 3)
	golden(t, "service-lookup", cmds[0])
	golden(t, "service-restart", cmds[1])
	golden(t, "service-is-active", cmds[2])
	w.reply(found("mmcentral", 3), winReply{}, found("mmcentral", 3))
	if active, err := h.Service(ctx, ServiceManager{Kind: "command", Command: []string{"mmcentral.exe", "-{action}", "{service}"}}, "Micetro Central", ServiceStart, false); err != nil || active {
		t.Fatalf("%v %v", active, err)
	}
	cmds = w.last(t, 3)
	golden(t, "service-command-start", cmds[1])
	// A command manager without IsActive asks Get-Service: mmcentral.exe
	// has no status switch.
	golden(t, "service-command-is-active", cmds[2])
	// StopStart: restart is -stop, then -start, then the state.
	w.reply(found("mmcentral", 0), winReply{}, winReply{}, found("mmcentral", 0))
	mm := ServiceManager{Kind: "command", Command: []string{`C:\Program Files\Men and Mice\Central\mmcentral.exe`, "-{action}"}, StopStart: true}
	if active, err := h.Service(ctx, mm, "Micetro Central", ServiceRestart, false); err != nil || !active {
		t.Fatalf("%v %v", active, err)
	}
	cmds = w.last(t, 4)
	golden(t, "service-command-restart-stop", cmds[1])
	golden(t, "service-command-restart-start", cmds[2])
	golden(t, "service-command-restart-is-active", cmds[3])
	// A failing stop runs nothing after it.
	w.reply(found("mmcentral", 0), winReply{stderr: "access denied\r\n", code: 5})
	if _, err := h.Service(ctx, mm, "Micetro Central", ServiceRestart, false); err == nil || !strings.Contains(err.Error(), "service Micetro Central stop: exit status 5: access denied") {
		t.Fatalf("failed stop: %v", err)
	}
	w.last(t, 2)
	// No service of that display name (nor key name): an error naming the
	// host and the name, and no action runs (issue 16 item 3: before, a
	// Get-Service error read as "not active", i.e. stopped).
	w.reply(winReply{stderr: "hawiz-services:0\r\n", code: 4})
	if _, err := h.Service(ctx, mm, "Micetro Central", ServiceStop, false); !errors.Is(err, ErrNoSuchService) ||
		!strings.Contains(err.Error(), `host mm-central2: service "Micetro Central"`) {
		t.Fatalf("unknown service: %v", err)
	}
	w.last(t, 1)
	w.reply(winReply{stderr: "hawiz-services:0\r\n", code: 4})
	if active, err := h.Service(ctx, mm, "Micetro Central", ServiceIsActive, false); !errors.Is(err, ErrNoSuchService) || active {
		t.Fatalf("unknown service is-active: %v %v", active, err)
	}
	w.last(t, 1)
	// A key name that is no service name is refused.
	w.reply(found(`..\evil`, 0))
	if _, err := h.Service(ctx, mm, "Micetro Central", ServiceIsActive, false); err == nil {
		t.Fatal("a key name with a backslash was accepted")
	}
	w.last(t, 1)
	// An explicit IsActive template replaces Get-Service; its LSB 4 is "no such service".
	w.reply(winReply{code: 0})
	mm.IsActive = []string{"mmstatus.exe", "-q", "{service}"}
	if active, err := h.Service(ctx, mm, "Micetro Central", ServiceIsActive, false); err != nil || !active {
		t.Fatalf("%v %v", active, err)
	}
	golden(t, "service-command-is-active-template", w.last(t, 1)[0])
	w.reply(winReply{code: 4})
	if _, err := h.Service(ctx, mm, "Micetro Central", ServiceIsActive, false); !errors.Is(err, ErrNoSuchService) {
		t.Fatalf("template exit 4: %v", err)
	}
	w.last(t, 1)
	if _, err := h.Service(ctx, ServiceManager{Kind: "windows", StopStart: true}, "x", ServiceRestart, false); err == nil {
		t.Fatal("StopStart accepted for kind windows")
	}
	if _, err := h.Service(ctx, ServiceManager{Kind: "systemctl"}, "x", ServiceStart, false); err == nil {
		t.Fatal("systemctl accepted on Windows")
	}

	// CheckSudo checks for an administrator
	w.reply(winReply{code: 1})
	if err := h.CheckSudo(ctx); err == nil || !strings.Contains(err.Error(), "host mm-central2: user tester is not an administrator") {
		t.Fatalf("%v", err)
	}
	golden(t, "check-admin", w.last(t, 1)[0])
}

func TestQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"":       "''",
		"plain":  "'plain'",
		"it's":   `'it'\''s'`,
		"''":     `''\'''\'''`,
		"a\nb $": "'a\nb $'",
	} {
		if got := ShQuote(in); got != want {
			t.Errorf("ShQuote(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"it's":   "'it''s'",
		"‘x’":    "'‘‘x’’'",
		"$(x) `": "'$(x) `'",
	} {
		if got := psQuote(in); got != want {
			t.Errorf("psQuote(%q) = %s, want %s", in, got, want)
		}
	}
	line, err := renderPOSIX([]string{"true"}, nil, sudoPassword)
	if err != nil || line != "echo \"hawiz-pid:$$\" >&2; sudo -S -p 'hawiz-sudo-prompt:\n' -k -- sh -c 'echo hawiz-sudo-ok >&2; exec \"$@\"' sh 'true'" {
		t.Errorf("%q %v", line, err)
	}
	line, _ = renderPOSIX([]string{"id"}, map[string]string{"A": "1"}, sudoNoPass)
	if line != `echo "hawiz-pid:$$" >&2; sudo -n -- env 'A=1' 'id'` {
		t.Errorf("%q", line)
	}
}
