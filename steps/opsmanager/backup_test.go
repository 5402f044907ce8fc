package opsmanager

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
)

var testGenKey = bytes.Repeat([]byte{0xA5}, GenKeySize)

const backupVictim = "victim: another file of the operator's\n"

func backupVictimFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(p, []byte(backupVictim), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func backupVictimUntouched(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil || string(b) != backupVictim {
		t.Fatalf("victim %s changed: %q %v", p, b, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Fatalf("victim %s mode changed to %v", p, fi.Mode())
	}
}

// privateDir is a new directory with mode 0700 whatever the umask.
func privateDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "backup")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func wantBackup(t *testing.T, to string) {
	t.Helper()
	fi, err := os.Lstat(to)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup %s: %v %v", to, fi, err)
	}
	if b, _ := os.ReadFile(to); !bytes.Equal(b, testGenKey) {
		t.Fatalf("backup %s holds %x", to, b)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(to), ".gen.key.tmp-*")); len(left) > 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

func wantRefused(t *testing.T, err error, contains ...string) {
	t.Helper()
	var re *steps.RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("want a refusal, got %v", err)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q lacks %q", err, s)
		}
	}
}

// A symbolic link where the backup goes is refused: hawiz neither writes the
// key through it (to a file in a directory it did not check) nor replaces it
// (the operator may keep the backup's real place behind that link). The
// file it points to is untouched; a dangling link creates nothing.
func TestBackupRefusesLinkAtTarget(t *testing.T) {
	d := privateDir(t)
	to := filepath.Join(d, "gen.key")
	v := backupVictimFile(t)
	os.Symlink(v, to)
	wantRefused(t, writeBackup(to, testGenKey), to+" is a symbolic link")
	backupVictimUntouched(t, v)
	if fi, err := os.Lstat(to); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the link was replaced")
	}
	os.Remove(to)
	dangling := filepath.Join(t.TempDir(), "created-through-the-link")
	os.Symlink(dangling, to)
	wantRefused(t, writeBackup(to, testGenKey), to+" is a symbolic link")
	if _, err := os.Lstat(dangling); !os.IsNotExist(err) {
		t.Fatal("the key was written through a dangling link")
	}
}

// A pre-existing 0644 copy of the same key ends 0600; one with another key
// is refused and kept.
func TestBackupExistingFile(t *testing.T) {
	d := privateDir(t)
	to := filepath.Join(d, "gen.key")
	os.WriteFile(to, testGenKey, 0o644)
	os.Chmod(to, 0o644)
	if err := writeBackup(to, testGenKey); err != nil {
		t.Fatal(err)
	}
	wantBackup(t, to)
	other := bytes.Repeat([]byte{1}, GenKeySize)
	os.WriteFile(to, other, 0o600)
	wantRefused(t, writeBackup(to, testGenKey), to, "holds a different key")
	if b, _ := os.ReadFile(to); !bytes.Equal(b, other) {
		t.Fatal("a different key was overwritten")
	}
}

// A backup directory that group or others can write is refused, naming it
// and its mode; nothing is written there.
func TestBackupRefusesSharedDir(t *testing.T) {
	for _, mode := range []os.FileMode{0o777, 0o770, 0o1777, 0o702} {
		d := privateDir(t)
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(d, "gen.key")
		wantRefused(t, writeBackup(to, testGenKey), "backup directory "+d+" is writable by group or others", "refusing to store gen.key there")
		if ents, _ := os.ReadDir(d); len(ents) > 0 {
			t.Fatalf("mode %v: written: %v", mode, ents)
		}
	}
	// A new directory is created private; an existing 0750 one is accepted.
	to := filepath.Join(t.TempDir(), "new", "sub", "gen.key")
	if err := writeBackup(to, testGenKey); err != nil {
		t.Fatal(err)
	}
	wantBackup(t, to)
	if fi, _ := os.Stat(filepath.Dir(to)); fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("new backup directory mode %v", fi.Mode())
	}
	d := privateDir(t)
	os.Chmod(d, 0o750)
	if err := writeBackup(filepath.Join(d, "gen.key"), testGenKey); err != nil {
		t.Fatal(err)
	}
}

// No fixed temp name: a link planted at <to>.hawiz-tmp (the name older
// versions wrote through) is neither written through nor renamed into place.
func TestBackupNoFixedTempName(t *testing.T) {
	d := privateDir(t)
	to := filepath.Join(d, "gen.key")
	v := backupVictimFile(t)
	os.Symlink(v, to+".hawiz-tmp")
	if err := writeBackup(to, testGenKey); err != nil {
		t.Fatal(err)
	}
	backupVictimUntouched(t, v)
	wantBackup(t, to)
	if fi, err := os.Lstat(to + ".hawiz-tmp"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the planted link was touched: %v %v", fi, err)
	}
}

// The check counts only a regular 0600 file holding the cluster's key, in a
// directory group and others cannot write: a link to such a file, or a copy
// in a shared directory, is not done (Apply then refuses it, saying why).
func TestBackupCheck(t *testing.T) {
	e := steps.NewEnv(t.Context(), nil, nil, nil)
	e.SetFact(factGenKeySHA, sha(testGenKey))
	c := &Common{}
	d := privateDir(t)
	to := filepath.Join(d, "gen.key")
	if err := writeBackup(to, testGenKey); err != nil {
		t.Fatal(err)
	}
	if ok, ev, err := backupCheck(t.Context(), e, c, to); !ok || err != nil {
		t.Fatalf("private 0600 copy: %t %q %v", ok, ev, err)
	}
	link := filepath.Join(d, "link.key")
	os.Symlink(to, link)
	if ok, ev, err := backupCheck(t.Context(), e, c, link); ok || err != nil {
		t.Fatalf("link to the copy counted as the backup: %q %v", ev, err)
	}
	os.Chmod(d, 0o777)
	if ok, ev, err := backupCheck(t.Context(), e, c, to); ok || err != nil {
		t.Fatalf("copy in a 0777 directory counted as the backup: %q %v", ev, err)
	}
	wantRefused(t, writeBackup(to, testGenKey), "backup directory "+d+" is writable by group or others (mode 0777)")
}
