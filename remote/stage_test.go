package remote

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func stageHost(t *testing.T) (*Host, string) {
	t.Helper()
	l := newLab(t)
	s := l.server(nil)
	return l.connect(l.opts(), s).Host("web1"), s.Root()
}

func statOwner(t *testing.T, p string) (os.FileMode, uint32) {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode(), st.Sys().(*syscall.Stat_t).Uid
}

// A stage directory is new each time, a real directory of mode 0700 owned
// by the user the command ran as (here the test's own user: the in-process
// server runs commands as it), under the physical parent.
func TestMakeStageDir(t *testing.T) {
	h, root := stageHost(t)
	ctx := ctxT(t)
	parent := filepath.Join(root, "upload")
	os.MkdirAll(parent, 0o755)
	link := filepath.Join(root, "upload-link")
	os.Symlink(parent, link)
	d1, err := h.MakeStageDir(ctx, parent, "hawiz-stage-test", false)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := h.MakeStageDir(ctx, link, "hawiz-stage-test", false)
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(parent)
	for _, d := range []string{d1, d2} {
		if filepath.Dir(d) != real || !IsStageDir(d, "hawiz-stage-test") {
			t.Errorf("stage dir %q: want PREFIX.XXXXXXXXXX under %s", d, real)
		}
		mode, uid := statOwner(t, d)
		if !mode.IsDir() || mode.Perm() != 0o700 || uid != uint32(os.Getuid()) {
			t.Errorf("%s: mode %v uid %d, want a directory of mode 0700 owned by uid %d", d, mode, uid, os.Getuid())
		}
	}
	if d1 == d2 {
		t.Fatalf("the same directory twice: %s", d1)
	}
	got, err := h.StageDirs(ctx, link, "hawiz-stage-test", false)
	if err != nil || len(got) != 2 {
		t.Fatalf("StageDirs = %v, %v", got, err)
	}
	for _, bad := range []string{"", "a.b", "a/b", "-x", "x y"} {
		if _, err := h.MakeStageDir(ctx, parent, bad, false); err == nil {
			t.Errorf("prefix %q accepted", bad)
		}
	}
	if _, err := h.MakeStageDir(ctx, "upload", "p", false); err == nil {
		t.Error("a relative parent accepted")
	}
}

// A parent another user could rename things in is refused: writable by
// others without the sticky bit, a directory above it so, a symlink to
// such a directory, another user's directory, or no directory at all.
func TestMakeStageDirRefusesUnsafeParent(t *testing.T) {
	h, root := stageHost(t)
	ctx := ctxT(t)
	open := filepath.Join(root, "open")
	os.Mkdir(open, 0o755)
	os.Chmod(open, 0o777)
	below := filepath.Join(open, "below")
	os.Mkdir(below, 0o755)
	link := filepath.Join(root, "link")
	os.Symlink(open, link)
	group := filepath.Join(root, "group")
	os.Mkdir(group, 0o755)
	os.Chmod(group, 0o775)
	sticky := filepath.Join(root, "sticky")
	os.Mkdir(sticky, 0o755)
	os.Chmod(sticky, os.ModeSticky|0o777)
	file := filepath.Join(root, "file")
	os.WriteFile(file, nil, 0o644)
	cases := map[string]string{
		open:              "writable by its group or others and not sticky",
		below:             open + " is writable",
		link:              open + " is writable",
		group:             "writable by its group or others",
		file:              "is not a directory",
		root + "/missing": "is not a directory",
	}
	if os.Getuid() == 0 {
		other := filepath.Join(root, "other")
		os.Mkdir(other, 0o755)
		os.Chown(other, 65534, 65534)
		cases[other] = "owned by uid 65534"
	}
	for p, want := range cases {
		_, err := h.MakeStageDir(ctx, p, "hawiz-stage-test", false)
		if !errors.Is(err, ErrUnsafeParent) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want ErrUnsafeParent saying %q, got %v", p, want, err)
		}
		if err := h.CheckStageParent(ctx, p, false); !errors.Is(err, ErrUnsafeParent) || !strings.Contains(err.Error(), want) {
			t.Errorf("check %s: want ErrUnsafeParent saying %q, got %v", p, want, err)
		}
	}
	if err := h.CheckStageParent(ctx, sticky, false); err != nil {
		t.Errorf("check a sticky parent: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "*", "hawiz-stage-test.*")); len(m) != 0 {
		t.Errorf("made under a refused parent: %v", m)
	}
	if d, err := h.MakeStageDir(ctx, sticky, "hawiz-stage-test", false); err != nil || filepath.Dir(d) != sticky {
		t.Errorf("a sticky world-writable parent (as /tmp): %q %v", d, err)
	}
}

// Only real directories of the prefix, owned by the user and of mode 0700,
// are listed or removed: a symlink, a file, a directory of another mode or
// owner at such a name is left alone, and so is what a symlink points to.
func TestStageDirsAndRemove(t *testing.T) {
	h, root := stageHost(t)
	ctx := ctxT(t)
	parent := filepath.Join(root, "up")
	os.Mkdir(parent, 0o755)
	ours, err := h.MakeStageDir(ctx, parent, "hawiz-stage-test", false)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ours, "pkg"), []byte("x"), 0o600)
	os.MkdirAll(filepath.Join(ours, "extract", "sub"), 0o755)

	victim := filepath.Join(root, "victim")
	os.Mkdir(victim, 0o700)
	os.WriteFile(filepath.Join(victim, "keep"), []byte("keep"), 0o600)
	symlink := filepath.Join(parent, "hawiz-stage-test.SYMLINK000")
	os.Symlink(victim, symlink)
	wide := filepath.Join(parent, "hawiz-stage-test.WIDEMODE00")
	os.Mkdir(wide, 0o755)
	file := filepath.Join(parent, "hawiz-stage-test.AFILE00000")
	os.WriteFile(file, nil, 0o600)
	other := filepath.Join(parent, "hawiz-stage-test.OTHERUSER0")
	os.Mkdir(other, 0o700)
	if os.Getuid() == 0 {
		os.Chown(other, 65534, 65534)
	}
	os.Mkdir(filepath.Join(parent, "hawiz-stage-test.short"), 0o700)
	os.Mkdir(filepath.Join(parent, "hawiz-stage-other.ABCDEFGHIJ"), 0o700)

	got, err := h.StageDirs(ctx, parent, "hawiz-stage-test", false)
	want := []string{ours}
	if os.Getuid() != 0 {
		want = append(want, other) // not root: it could not be given away
	}
	if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("StageDirs = %v, %v; want %v", got, err, want)
	}
	if got, err := h.StageDirs(ctx, filepath.Join(root, "missing"), "hawiz-stage-test", false); err != nil || len(got) != 0 {
		t.Fatalf("a missing parent: %v, %v", got, err)
	}

	for _, p := range []string{symlink, wide, file} {
		if ok, err := h.RemoveStageDir(ctx, p, "hawiz-stage-test", false); ok || err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s: removed %v, err %v", p, ok, err)
		}
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s is gone: %v", p, err)
		}
	}
	if os.Getuid() == 0 {
		if ok, err := h.RemoveStageDir(ctx, other, "hawiz-stage-test", false); ok || err == nil {
			t.Errorf("another user's directory: removed %v, err %v", ok, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(victim, "keep")); err != nil || string(b) != "keep" {
		t.Errorf("the symlink's target was touched: %q %v", b, err)
	}
	for _, bad := range []string{"relative/hawiz-stage-test.ABCDEFGHIJ", parent + "/other.ABCDEFGHIJ", parent + "/hawiz-stage-test.ABC", parent + "/../up/hawiz-stage-test.ABCDEFGHIJ"} {
		if _, err := h.RemoveStageDir(ctx, bad, "hawiz-stage-test", false); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if ok, err := h.RemoveStageDir(ctx, ours, "hawiz-stage-test", false); !ok || err != nil {
		t.Fatalf("remove ours: %v %v", ok, err)
	}
	if _, err := os.Lstat(ours); !os.IsNotExist(err) {
		t.Fatalf("%s still there: %v", ours, err)
	}
	if ok, err := h.RemoveStageDir(ctx, ours, "hawiz-stage-test", false); ok || err != nil {
		t.Fatalf("remove again: %v %v", ok, err)
	}
}

// RunVerified runs the program only when the file has the hash: a file
// swapped after it was checked by the caller is refused by the shell that
// would have run the program.
func TestRunVerified(t *testing.T) {
	h, root := stageHost(t)
	ctx := ctxT(t)
	f := filepath.Join(root, "pkg")
	os.WriteFile(f, []byte("the real package"), 0o600)
	sum := sha256.Sum256([]byte("the real package"))
	marker := filepath.Join(root, "ran")
	cmd := Cmd{Program: "sh", Args: []string{"-c", `echo "$1" > "$2"`, "x", "installed", marker}}
	res, err := h.RunVerified(ctx, f, hex.EncodeToString(sum[:]), cmd)
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	if b, _ := os.ReadFile(marker); string(b) != "installed\n" {
		t.Fatalf("marker %q", b)
	}
	os.Remove(marker)
	os.WriteFile(f, []byte("a swapped package"), 0o600)
	_, err = h.RunVerified(ctx, f, hex.EncodeToString(sum[:]), cmd)
	if !errors.Is(err, ErrNotVerified) || !strings.Contains(err.Error(), "refused to run sh") {
		t.Fatalf("swapped file: %v", err)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatal("the program ran on a swapped file")
	}
	if _, err := h.RunVerified(ctx, filepath.Join(root, "missing"), hex.EncodeToString(sum[:]), cmd); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := h.RunVerified(ctx, f, "abc", cmd); err == nil {
		t.Fatal("a bad digest accepted")
	}
	// The program's own exit status comes back as is.
	res, err = h.RunVerified(ctx, f, sha256Hex("a swapped package"), Cmd{Program: "sh", Args: []string{"-c", "exit 97"}})
	if err != nil || res.ExitStatus != 97 {
		t.Fatalf("exit 97 of the program: %v %+v", err, res)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
