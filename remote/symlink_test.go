package remote

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hawiz/hawiz/remote/sshtest"
)

// The write script against real files on this machine (sshtest runs the
// real /bin/sh): symlinks are followed to the file they name, which is
// replaced in its own directory with its own mode and owner; the links stay.

// lmode is path's own mode (not following a symlink).
func lmode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode()
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// noTemps fails when a temp file of the write is left in one of dirs.
func noTemps(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if left, _ := filepath.Glob(filepath.Join(d, ".*hawiz-tmp*")); len(left) > 0 {
			t.Errorf("temp files left: %q", left)
		}
	}
}

func TestWriteThroughSymlink(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	h := l.connect(l.opts(), s).Host("web1")
	ctx := ctxT(t)
	realDir := filepath.Join(s.Root(), "etc", "mongodb-mms")
	linkDir := filepath.Join(s.Root(), "opt", "mongodb", "mms", "conf")
	os.MkdirAll(realDir, 0o755)
	os.MkdirAll(linkDir, 0o755)
	target := filepath.Join(realDir, "conf-mms.properties")
	os.WriteFile(target, []byte("mongo.mongoUri=old\n"), 0o600)
	os.Chmod(target, 0o600)
	// a relative link, to a file in another directory
	link := filepath.Join(linkDir, "conf-mms.properties")
	rel := "../../../../etc/mongodb-mms/conf-mms.properties"
	if err := os.Symlink(rel, link); err != nil {
		t.Fatal(err)
	}

	fi, err := h.Stat(ctx, link, false)
	if err != nil {
		t.Fatal(err)
	}
	wr, err := h.WriteFile(ctx, link, []byte("mongo.mongoUri=new\n"), WriteOptions{IfSHA256: fi.SHA256, Backup: true, Secret: true})
	if err != nil {
		t.Fatal(err)
	}
	if lmode(t, link)&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced by a %v file", lmode(t, link))
	}
	if got, _ := os.Readlink(link); got != rel {
		t.Fatalf("the link now points to %q", got)
	}
	if got := readString(t, target); got != "mongo.mongoUri=new\n" {
		t.Fatalf("the file the link names holds %q", got)
	}
	if m := lmode(t, target); m != 0o600 {
		t.Errorf("the file the link names has mode %v, want -rw------- kept", m)
	}
	if !wr.Changed || filepath.Dir(filepath.Clean(wr.Backup)) != realDir {
		t.Fatalf("write %+v: the backup belongs next to %s", wr, target)
	}
	if got := readString(t, wr.Backup); got != "mongo.mongoUri=old\n" {
		t.Errorf("backup holds %q", got)
	}
	if m := lmode(t, wr.Backup); m != 0o600 {
		t.Errorf("backup mode %v, want -rw------- (the file's)", m)
	}
	if ents, _ := os.ReadDir(linkDir); len(ents) != 1 {
		t.Errorf("files appeared next to the link: %v", ents)
	}
	noTemps(t, realDir, linkDir)

	// the same content with another mode: the file the link names gets it
	if wr, err := h.WriteFile(ctx, link, []byte("mongo.mongoUri=new\n"), WriteOptions{Mode: 0o640}); err != nil || !wr.Changed {
		t.Fatalf("mode change: %+v %v", wr, err)
	}
	if lmode(t, link)&os.ModeSymlink == 0 || lmode(t, target) != 0o640 {
		t.Fatalf("mode change through the link: link %v, file %v", lmode(t, link), lmode(t, target))
	}
	noTemps(t, realDir, linkDir)
}

func TestWriteThroughSymlinkChain(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	h := l.connect(l.opts(), s).Host("web1")
	ctx := ctxT(t)
	a, b, c := filepath.Join(s.Root(), "a"), filepath.Join(s.Root(), "d1", "b"), filepath.Join(s.Root(), "d2", "c")
	os.MkdirAll(filepath.Dir(b), 0o755)
	os.MkdirAll(filepath.Dir(c), 0o750)
	os.WriteFile(c, []byte("v0\n"), 0o640)
	os.Chmod(c, 0o640)
	os.Symlink("d1/b", a) // relative to a's directory
	os.Symlink(c, b)      // absolute
	wr, err := h.WriteFile(ctx, a, []byte("v1\n"), WriteOptions{Backup: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{a, b} {
		if lmode(t, p)&os.ModeSymlink == 0 {
			t.Errorf("%s is no longer a symlink", p)
		}
	}
	if got := readString(t, c); got != "v1\n" || lmode(t, c) != 0o640 {
		t.Errorf("end of the chain: %q %v", got, lmode(t, c))
	}
	if filepath.Dir(wr.Backup) != filepath.Dir(c) || readString(t, wr.Backup) != "v0\n" || lmode(t, wr.Backup) != 0o640 {
		t.Errorf("backup %s: %v", wr.Backup, lmode(t, wr.Backup))
	}
	noTemps(t, s.Root(), filepath.Dir(b), filepath.Dir(c))
}

func TestWriteRefusesDanglingAndLoopingLinks(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	h := l.connect(l.opts(), s).Host("web1")
	ctx := ctxT(t)
	dangling := filepath.Join(s.Root(), "conf")
	missing := filepath.Join(s.Root(), "nowhere", "conf")
	os.Symlink(missing, dangling)
	_, err := h.WriteFile(ctx, dangling, []byte("x\n"), WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "host web1") || !strings.Contains(err.Error(), dangling) ||
		!strings.Contains(err.Error(), missing+", which does not exist") {
		t.Fatalf("dangling link: %v", err)
	}
	if got, _ := os.Readlink(dangling); got != missing {
		t.Errorf("dangling link changed: %q", got)
	}
	// a dangling link in a directory that exists: still refused, nothing created
	os.Remove(dangling)
	os.Symlink("conf.real", dangling)
	if _, err := h.WriteFile(ctx, dangling, []byte("x\n"), WriteOptions{IfSHA256: "absent"}); err == nil || !strings.Contains(err.Error(), "conf.real, which does not exist") {
		t.Fatalf("dangling link, same directory: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(s.Root(), "conf.real")); err == nil {
		t.Error("the write created the link's target")
	}
	if lmode(t, dangling)&os.ModeSymlink == 0 {
		t.Error("the dangling link was replaced")
	}

	x, y := filepath.Join(s.Root(), "x"), filepath.Join(s.Root(), "y")
	os.Symlink("y", x)
	os.Symlink("x", y)
	if _, err := h.WriteFile(ctx, x, []byte("x\n"), WriteOptions{}); err == nil || !strings.Contains(err.Error(), x+": too many levels of symbolic links") {
		t.Fatalf("loop: %v", err)
	}
	if lmode(t, x)&os.ModeSymlink == 0 {
		t.Error("the looping link was replaced")
	}

	// not a regular file: a FIFO would block a hash forever, a directory
	// would take the temp file inside it
	fifo := filepath.Join(s.Root(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteFile(ctx, fifo, []byte("x\n"), WriteOptions{}); err == nil || !strings.Contains(err.Error(), fifo+" is not a regular file") {
		t.Fatalf("fifo: %v", err)
	}
	dirLink := filepath.Join(s.Root(), "dirlink")
	os.Symlink(s.Root(), dirLink)
	if _, err := h.WriteFile(ctx, dirLink, []byte("x\n"), WriteOptions{}); err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Fatalf("link to a directory: %v", err)
	}
	noTemps(t, s.Root())
}

// Owner and group are kept by number (an id without a name too), and
// setuid/setgid survive the chown (which clears them when it comes after the
// chmod). Needs root to chown.
func TestWriteKeepsOwnerAndSpecialBits(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	l := newLab(t)
	s := l.server(nil)
	h := l.connect(l.opts(), s).Host("web1")
	ctx := ctxT(t)
	dir := filepath.Join(s.Root(), "etc")
	os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, "tool")
	os.WriteFile(p, []byte("v0\n"), 0o755)
	if err := os.Chown(p, 54321, 54322); err != nil { // ids without names
		t.Fatal(err)
	}
	os.Chmod(p, 0o755|os.ModeSetuid|os.ModeSetgid)
	link := filepath.Join(s.Root(), "tool-link")
	os.Symlink(p, link)
	wr, err := h.WriteFile(ctx, link, []byte("v1\n"), WriteOptions{Backup: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p, wr.Backup} {
		st, err := os.Lstat(f)
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if sys.Uid != 54321 || sys.Gid != 54322 {
			t.Errorf("%s: owner %d:%d, want 54321:54322 kept", f, sys.Uid, sys.Gid)
		}
		if st.Mode() != 0o755|os.ModeSetuid|os.ModeSetgid {
			t.Errorf("%s: mode %v, want -rwsr-sr-x kept", f, st.Mode())
		}
	}
	if readString(t, p) != "v1\n" || readString(t, wr.Backup) != "v0\n" {
		t.Error("content")
	}
	// an explicit owner by name and group by number
	if _, err := h.WriteFile(ctx, link, []byte("v2\n"), WriteOptions{Owner: "nobody", Group: "54323"}); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if sys := st.Sys().(*syscall.Stat_t); sys.Gid != 54323 || sys.Uid == 54321 || st.Mode() != 0o755|os.ModeSetuid|os.ModeSetgid {
		t.Errorf("explicit owner: %d:%d %v", sys.Uid, sys.Gid, st.Mode())
	}
	// the same content and owner: nothing to do
	if wr, err := h.WriteFile(ctx, link, []byte("v2\n"), WriteOptions{Owner: "nobody", Group: "54323"}); err != nil || wr.Changed {
		t.Errorf("same owner: %+v %v", wr, err)
	}
	noTemps(t, dir)
}

// A hostile host's refusal text reaches the error without its control
// characters (no terminal escapes on the operator's screen).
func TestWriteRefusalIsPrintable(t *testing.T) {
	l := newLab(t)
	w := &winResponder{}
	s := l.server(func(c *sshtest.Config) { c.Exec = w.exec })
	l.trust(s)
	hc := l.hostConfig("web1", s)
	hc.OS = Windows // a canned answer, no shell behind
	f, err := Connect(ctxT(t), l.opts(), []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := f.Host("web1")
	w.reply(winReply{stderr: "hawiz-refuse:/etc/x\x1b]0;pwned\x07 is not a regular file\n", code: 6})
	_, err = h.WriteFile(ctxT(t), "/etc/x", []byte("x"), WriteOptions{})
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\x07") || !strings.Contains(err.Error(), "host web1: write /etc/x: refused: /etc/x?]0;pwned? is not a regular file") {
		t.Fatalf("%q", err)
	}
}
