package remote

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/remote/sshtest"
)

func TestRunKeyAuthAndQuoting(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	nasty := []string{"it's", `"double"`, "$(touch pwned)", "`touch pwned2`", "a\nb", "  spaces  ", "", "*", "\\", "$HOME", ";|&<>", "ünïcødé"}
	res, err := h.Run(ctxT(t), Cmd{Program: "printf", Args: append([]string{`%s\0`}, nasty...)})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitStatus != 0 {
		t.Fatalf("exit %d: %s", res.ExitStatus, res.Stderr)
	}
	got := strings.Split(strings.TrimSuffix(string(res.Stdout), "\x00"), "\x00")
	if len(got) != len(nasty) {
		t.Fatalf("got %d args %q, want %d", len(got), got, len(nasty))
	}
	for i := range nasty {
		if got[i] != nasty[i] {
			t.Errorf("arg %d: got %q want %q", i, got[i], nasty[i])
		}
	}
	for _, p := range []string{"pwned", "pwned2"} {
		if _, err := os.Stat(filepath.Join(s.Root(), p)); err == nil {
			t.Errorf("%s was created: an argument was interpreted by the shell", p)
		}
	}
	if len(res.Stderr) != 0 {
		t.Errorf("stderr should be empty (pid line consumed), got %q", res.Stderr)
	}
}

func TestRunExitStatusStdinEnvStreaming(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)

	res, err := h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", "echo out; echo err >&2; exit 7"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitStatus != 7 || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		t.Fatalf("got %+v", res)
	}
	var ee *ExitError
	if !errors.As(res.ExitError(), &ee) || ee.Status != 7 || ee.Stderr != "err" {
		t.Fatalf("ExitError = %v", res.ExitError())
	}

	res, err = h.Run(ctx, Cmd{Program: "cat", Stdin: strings.NewReader("from stdin\n")})
	if err != nil || string(res.Stdout) != "from stdin\n" {
		t.Fatalf("stdin: %v %q", err, res.Stdout)
	}

	res, err = h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", `printf '%s' "$HAWIZ_X"`}, Env: map[string]string{"HAWIZ_X": "it's $(x)"}})
	if err != nil || string(res.Stdout) != "it's $(x)" {
		t.Fatalf("env: %v %q", err, res.Stdout)
	}
	if _, err := h.Run(ctx, Cmd{Program: "true", Env: map[string]string{"BAD NAME": "x"}}); err == nil {
		t.Fatal("invalid env name accepted")
	}

	var lines []string
	res, err = h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", "echo one; echo two >&2; printf 'three'"},
		OnLine: func(stream, line string) { lines = append(lines, stream+":"+line) }})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"stdout:one": true, "stderr:two": true, "stdout:three": true}
	if len(lines) != 3 {
		t.Fatalf("lines %q", lines)
	}
	for _, l := range lines {
		if !want[l] {
			t.Errorf("unexpected line %q (all %q)", l, lines)
		}
	}
	if s.Accepted() != 1 {
		t.Errorf("connections accepted = %d, want 1 (reused)", s.Accepted())
	}
}

func TestReadWriteFile(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	tr := &transcript{}
	o := l.opts()
	o.Transcript = tr.add
	f := l.connect(o, s)
	h := f.Host("web1")
	ctx := ctxT(t)
	p := filepath.Join(s.Root(), "etc", "app.conf")
	os.MkdirAll(filepath.Dir(p), 0o755)

	if _, _, err := h.ReadFile(ctx, p, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	fi, err := h.Stat(ctx, p, false)
	if err != nil || fi.Exists {
		t.Fatalf("stat missing: %+v %v", fi, err)
	}

	// create (must not exist)
	wr, err := h.WriteFile(ctx, p, []byte("v1\n"), WriteOptions{Mode: 0o640, IfSHA256: "absent", Backup: true})
	if err != nil {
		t.Fatal(err)
	}
	if !wr.Changed || wr.Backup != "" {
		t.Fatalf("first write %+v", wr)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", st.Mode())
	}
	data, fi, err := h.ReadFile(ctx, p, false)
	if err != nil || string(data) != "v1\n" || fi.SHA256 != wr.SHA256 || fi.Mode.Perm() != 0o640 || !fi.Exists {
		t.Fatalf("read back %q %+v %v", data, fi, err)
	}
	// replace with CAS + backup; mode kept
	wr2, err := h.WriteFile(ctx, p, []byte("v2\n"), WriteOptions{IfSHA256: fi.SHA256, Backup: true})
	if err != nil {
		t.Fatal(err)
	}
	if !wr2.Changed || wr2.Backup == "" || !strings.HasPrefix(wr2.Backup, p+".hawiz-") || !strings.HasSuffix(wr2.Backup, "Z.bak") {
		t.Fatalf("second write %+v", wr2)
	}
	if b, _ := os.ReadFile(wr2.Backup); string(b) != "v1\n" {
		t.Fatalf("backup holds %q", b)
	}
	if b, _ := os.ReadFile(p); string(b) != "v2\n" {
		t.Fatalf("file holds %q", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Fatalf("mode not kept: %v", st.Mode())
	}
	// stale CAS: refused, file and backup untouched
	_, err = h.WriteFile(ctx, p, []byte("v3\n"), WriteOptions{IfSHA256: fi.SHA256, Backup: true})
	if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), "host web1") {
		t.Fatalf("stale CAS: %v", err)
	}
	refusedKeptOneBackup(t, p, "v2\n")
	// same content: no write, no backup
	wr3, err := h.WriteFile(ctx, p, []byte("v2\n"), WriteOptions{Backup: true})
	if err != nil || wr3.Changed {
		t.Fatalf("same content: %+v %v", wr3, err)
	}
	if baks, _ := filepath.Glob(p + ".hawiz-*.bak"); len(baks) != 1 {
		t.Fatalf("backup made for unchanged content: %q", baks)
	}
	// no temp files left behind
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*hawiz-tmp*"))
	if len(left) != 0 {
		t.Fatalf("temp files left: %q", left)
	}
	// binary content round-trips
	bin := bytes.Repeat([]byte{0, 1, 2, 255, '\n', '\''}, 50000)
	if _, err := h.WriteFile(ctx, p, bin, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _, err := h.ReadFile(ctx, p, false)
	if err != nil || !bytes.Equal(got, bin) {
		t.Fatalf("binary round trip: %v (len %d)", err, len(got))
	}
	for _, a := range tr.all() {
		if a.Kind == "read" && (strings.Contains(a.Output, "v1") || strings.Contains(a.Output, "v2")) {
			t.Errorf("file content in transcript: %+v", a)
		}
	}
}

// refusedKeptOneBackup checks the state after a write to p was refused
// (ErrChanged): p still holds want, and there is exactly one backup of p,
// whose path it returns.
func refusedKeptOneBackup(t *testing.T, p, want string) string {
	t.Helper()
	if got, _ := os.ReadFile(p); string(got) != want {
		t.Fatalf("file changed by the refused write: %q, want %q", got, want)
	}
	baks, _ := filepath.Glob(p + ".hawiz-*.bak")
	if len(baks) != 1 {
		t.Fatalf("backups %q, want one", baks)
	}
	return baks[0]
}

// The write script's modes: an existing file's mode is kept (0600, which the
// temp file already has, and 0644, which it gets); a new file gets Mode or
// 0644; the same content with another Mode only changes the mode; a path
// without a directory part is relative to the login directory.
func TestWriteFileModes(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)
	dir := filepath.Join(s.Root(), "etc")
	os.MkdirAll(dir, 0o755)
	mode := func(p string) os.FileMode {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	for _, m := range []os.FileMode{0o600, 0o644, 0o640} {
		p := filepath.Join(dir, fmt.Sprintf("keep-%o", m))
		os.WriteFile(p, []byte("old\n"), m)
		os.Chmod(p, m)
		if _, err := h.WriteFile(ctx, p, []byte("new\n"), WriteOptions{Backup: true}); err != nil {
			t.Fatal(err)
		}
		if got := mode(p); got != m {
			t.Errorf("%s: mode %o after a write, want %o kept", p, got, m)
		}
	}
	p := filepath.Join(dir, "new")
	if _, err := h.WriteFile(ctx, p, []byte("x\n"), WriteOptions{}); err != nil || mode(p) != 0o644 {
		t.Fatalf("new file: mode %o, %v", mode(p), err)
	}
	if wr, err := h.WriteFile(ctx, p, []byte("x\n"), WriteOptions{Mode: 0o600}); err != nil || !wr.Changed || mode(p) != 0o600 {
		t.Fatalf("same content, new mode: %+v mode %o %v", wr, mode(p), err)
	}
	if wr, err := h.WriteFile(ctx, p, []byte("x\n"), WriteOptions{Mode: 0o600}); err != nil || wr.Changed {
		t.Fatalf("same content and mode: %+v %v", wr, err)
	}
	if _, err := h.WriteFile(ctx, "rel.txt", []byte("r\n"), WriteOptions{IfSHA256: "absent"}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(s.Root(), "rel.txt")); err != nil || string(b) != "r\n" {
		t.Fatalf("relative path: %q %v", b, err)
	}
	if _, err := h.WriteFile(ctx, dir+"/", []byte("r\n"), WriteOptions{}); err == nil {
		t.Fatal("a directory path with a trailing slash was written")
	}
}

// Writes within the same second each keep their own backup: the second one
// takes the next free second's name, never overwriting the first backup.
func TestBackupsInTheSameSecond(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)
	p := filepath.Join(s.Root(), "app.conf")
	os.WriteFile(p, []byte("v0\n"), 0o644)
	var baks []string
	for i := 1; i <= 3; i++ {
		wr, err := h.WriteFile(ctx, p, []byte(fmt.Sprintf("v%d\n", i)), WriteOptions{Backup: true})
		if err != nil {
			t.Fatal(err)
		}
		baks = append(baks, wr.Backup)
	}
	for i, b := range baks {
		got, err := os.ReadFile(b)
		if err != nil || string(got) != fmt.Sprintf("v%d\n", i) {
			t.Errorf("backup %d %s holds %q (%v), want v%d", i, b, got, err, i)
		}
		if !regexp.MustCompile(`\.hawiz-\d{8}T\d{6}Z\.bak$`).MatchString(b) {
			t.Errorf("backup name %s", b)
		}
	}
	if baks[0] == baks[1] || baks[1] == baks[2] {
		t.Fatalf("backups share a name: %v", baks)
	}
}

// TestCASRefusedAfterBackup: the file changes between the backup and the
// rename (a fake cp edits it right after copying): the write is refused, the
// operator's edit stays, and the backup, of the content that was read, is
// kept and named in the error.
func TestCASRefusedAfterBackup(t *testing.T) {
	l := newLab(t)
	bin := filepath.Join(l.dir, "bin")
	realCp, err := exec.LookPath("cp")
	if err != nil {
		t.Fatal(err)
	}
	// cp -p -- SRC DST: copy, then the edit lands on SRC
	writeExec(t, bin, "cp", "#!/bin/sh\n"+realCp+" \"$@\" || exit\nprintf 'edited meanwhile\\n' >> \"$3\"\n")
	s := l.server(func(c *sshtest.Config) { c.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH")} })
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)
	p := filepath.Join(s.Root(), "app.conf")
	os.WriteFile(p, []byte("v0\n"), 0o644)
	fi, err := h.Stat(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.WriteFile(ctx, p, []byte("v1\n"), WriteOptions{Backup: true, IfSHA256: fi.SHA256})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("want ErrChanged, got %v", err)
	}
	bak := refusedKeptOneBackup(t, p, "v0\nedited meanwhile\n")
	if got, _ := os.ReadFile(bak); string(got) != "v0\n" {
		t.Errorf("backup holds %q, want the content that was read", got)
	}
	if !strings.Contains(err.Error(), "is kept: "+bak) || !strings.Contains(err.Error(), p) {
		t.Errorf("the error does not name the file and the kept backup: %v", err)
	}
	if tmps, _ := filepath.Glob(filepath.Join(s.Root(), ".app.conf.hawiz-tmp.*")); len(tmps) > 0 {
		t.Errorf("temp files left: %v", tmps)
	}
}
