//go:build unix

package localfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func victim(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(p, []byte("victim\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func untouched(t *testing.T, p string) {
	t.Helper()
	if b, err := os.ReadFile(p); err != nil || string(b) != "victim\n" {
		t.Fatalf("victim changed: %q %v", b, err)
	}
}

func TestOpenNoFollow(t *testing.T) {
	dir := t.TempDir()
	v := victim(t)
	link := filepath.Join(dir, "link")
	os.Symlink(v, link)
	dangling := filepath.Join(dir, "dangling")
	target := filepath.Join(dir, "created-through-the-link")
	os.Symlink(target, dangling)
	for _, p := range []string{link, dangling} {
		for _, flag := range []int{os.O_RDONLY, os.O_WRONLY | os.O_APPEND | os.O_CREATE, os.O_WRONLY | os.O_TRUNC} {
			f, err := OpenNoFollow(p, flag, 0o600)
			var le *LinkError
			if err == nil || !errors.As(err, &le) || le.Path != p || !strings.Contains(err.Error(), p+" is a symbolic link") {
				if f != nil {
					f.Close()
				}
				t.Fatalf("%s flag %#x: %v", p, flag, err)
			}
		}
	}
	untouched(t, v)
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Fatal("created through a dangling link")
	}
	// A link in a directory above is followed; a plain file opens.
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o700)
	os.Symlink(sub, filepath.Join(dir, "sublink"))
	f, err := OpenNoFollow(filepath.Join(dir, "sublink", "f"), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(sub, "f")); err != nil {
		t.Fatal(err)
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	// An existing 0644 file ends 0600.
	os.WriteFile(p, []byte("old"), 0o644)
	os.Chmod(p, 0o644)
	for _, sync := range []bool{true, false} {
		if err := WriteAtomic(p, []byte("new"), 0o600, sync); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Lstat(p); fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
			t.Fatalf("mode %v", fi.Mode())
		}
	}
	// A link at the path is replaced; its target is not written.
	v := victim(t)
	os.Remove(p)
	os.Symlink(v, p)
	if err := WriteAtomic(p, []byte("new"), 0o600, true); err != nil {
		t.Fatal(err)
	}
	untouched(t, v)
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
	if fi, _ := os.Lstat(p); !fi.Mode().IsRegular() {
		t.Fatal("link not replaced")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
}

func TestCheckPrivateDir(t *testing.T) {
	for mode, ok := range map[os.FileMode]bool{0o700: true, 0o755: true, 0o750: true, 0o775: false, 0o777: false, 0o1777: false, 0o720: false, 0o702: false} {
		d := filepath.Join(t.TempDir(), "d")
		os.Mkdir(d, 0o700)
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		err := CheckPrivateDir(d)
		var de *DirModeError
		if ok != (err == nil) || !ok && (!errors.As(err, &de) || de.Dir != d || !strings.Contains(err.Error(), d)) {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, nil, 0o600)
	if err := CheckPrivateDir(f); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("file: %v", err)
	}
}
