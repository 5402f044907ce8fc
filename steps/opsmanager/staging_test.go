package opsmanager

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
	"github.com/hawiz/hawiz/steps"
)

// The package's staging (issue 15, item 3): uploaded into a fresh mktemp -d
// directory per server under upgrade.remote_dir, made by the user the
// commands run as (root with sudo; here the test's own user), mode 0700;
// the SHA-256 checked by the root shell that installs; the directory
// removed after the install, and by the next run after a kill. The tests
// use file names only, so they also ran against the code before.

// upgradeWorld is n servers set up by opsmanager-ha and a 7.0.1 archive.
func upgradeWorld(t *testing.T, n int) (*world, string, string) {
	t.Helper()
	w := newWorld(t, n, false)
	if _, err, rec := w.run(t, w.answers("", "  mode: first-server\n"), filepath.Join(w.dir, "ha.json"), false, nil); err != nil {
		t.Fatalf("ha: %v\n%s", err, rec)
	}
	exe, _ := os.Executable()
	pkg := filepath.Join(w.dir, "mongodb-mms-7.0.1.x86_64.tar.gz")
	f, _ := os.Create(pkg)
	if err := omstandin.WriteTarball(f, "7.0.1", w.user, standinWrapper(exe)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return w, pkg, w.upgradeAnswers(pkg, "7.0.1", filepath.Join(w.dir, "key-before-upgrade"))
}

// evilArchive extracts to mongodb-mms-7.0.1.x86_64/PWNED.
func evilArchive(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "mongodb-mms-7.0.1.x86_64/", Mode: 0o755})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "mongodb-mms-7.0.1.x86_64/PWNED", Mode: 0o644, Size: 5})
	tw.Write([]byte("pwned"))
	tw.Close()
	gz.Close()
	return b.Bytes()
}

func staged(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "hawiz-stage-*"))
	old, _ := filepath.Glob(filepath.Join(dir, "hawiz-upgrade-*"))
	return append(m, old...)
}

func pwned(t *testing.T, w *world) []string {
	t.Helper()
	var out []string
	for _, r := range w.roots {
		m, _ := filepath.Glob(filepath.Join(r, "*", "PWNED"))
		out = append(out, m...)
	}
	return out
}

// While a server's package is installed it is in a directory of its own
// under remote_dir, mode 0700, owned by the user that ran the command, the
// package 0600; afterwards nothing is left there.
func TestUpgradeStagesPackagePrivately(t *testing.T) {
	w, pkg, y := upgradeWorld(t, 2)
	var mu sync.Mutex
	seen := map[string]string{}
	rec, err := w.runUpgrade(t, context.Background(), y, filepath.Join(w.dir, "up.json"), false, nil, func(ev steps.Event) {
		if ev.Kind != steps.EventOutput || !strings.Contains(strings.Join(ev.Output, " "), "now points at") {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		m, _ := filepath.Glob(filepath.Join(w.dir, "hawiz-stage-opsmanager-upgrade-"+ev.Host+".??????????"))
		if len(m) != 1 {
			seen[ev.Host] = "staging directories " + strings.Join(m, " ")
			return
		}
		st, err := os.Lstat(m[0])
		if err != nil {
			seen[ev.Host] = err.Error()
			return
		}
		ok := st.IsDir() && st.Mode().Perm() == 0o700 && st.Sys().(*syscall.Stat_t).Uid == uint32(os.Getuid())
		pst, err := os.Stat(filepath.Join(m[0], filepath.Base(pkg)))
		ok = ok && err == nil && pst.Mode().Perm() == 0o600
		seen[ev.Host] = map[bool]string{true: "private", false: "not private: " + st.Mode().String()}[ok]
	})
	if err != nil {
		t.Fatalf("upgrade: %v\n%s", err, rec)
	}
	for _, h := range []string{"om1", "om2"} {
		if seen[h] != "private" {
			t.Errorf("%s during the install: %q", h, seen[h])
		}
	}
	if left := staged(t, w.dir); len(left) != 0 {
		t.Errorf("left after the upgrade: %v", left)
	}
}

// A run killed between the upload and the install leaves a staging
// directory: the next run removes it and installs from a fresh one. What
// another user planted at the old predictable upload path is never used,
// changed or removed.
func TestUpgradeKilledAfterUploadAndPlantedPath(t *testing.T) {
	w, pkg, y := upgradeWorld(t, 2)
	killed := filepath.Join(w.dir, "hawiz-stage-opsmanager-upgrade-om1.KILLEDRUN1")
	os.Mkdir(killed, 0o700)
	b, _ := os.ReadFile(pkg)
	os.WriteFile(filepath.Join(killed, filepath.Base(pkg)), b, 0o600)
	evil := evilArchive(t)
	old := filepath.Join(w.dir, "hawiz-upgrade-"+fileSHA(t, pkg)[:12]+"-"+filepath.Base(pkg))
	os.WriteFile(old, evil, 0o644)
	if os.Getuid() == 0 {
		os.Chown(old, 65534, 65534)
	}
	rec, err := w.runUpgrade(t, context.Background(), y, filepath.Join(w.dir, "up.json"), false, nil)
	if err != nil {
		t.Fatalf("upgrade: %v\n%s", err, rec)
	}
	if !strings.Contains(rec.String(), "removed "+killed) {
		t.Errorf("the killed run's directory was not reported removed:\n%s", rec)
	}
	if got, err := os.ReadFile(old); err != nil || !bytes.Equal(got, evil) {
		t.Errorf("the planted file %s was changed or removed (%v)", old, err)
	}
	if p := pwned(t, w); len(p) != 0 {
		t.Fatalf("the planted package was installed: %v", p)
	}
	os.Remove(old)
	if left := staged(t, w.dir); len(left) != 0 {
		t.Errorf("left after the upgrade: %v", left)
	}
	for i := range w.servers {
		real, _ := filepath.EvalSymlinks(filepath.Join(w.roots[i], "mms"))
		if filepath.Base(real) != "mongodb-mms-7.0.1.x86_64" {
			t.Errorf("om%d runs from %s", i+1, real)
		}
	}
}

// The SHA-256 is checked by the shell that extracts, right before it does:
// a package changed after it was uploaded and listed (here by a tar that
// swaps it when asked to list it) is refused; nothing of it is extracted,
// the server keeps its version, and the directory is removed. The next run
// installs the genuine package.
func TestUpgradeInstallChecksSHA256(t *testing.T) {
	w, _, y := upgradeWorld(t, 2)
	realTar, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("no tar")
	}
	bin := t.TempDir()
	evil := filepath.Join(t.TempDir(), "evil.tar.gz")
	os.WriteFile(evil, evilArchive(t), 0o644)
	done := filepath.Join(t.TempDir(), "swapped")
	os.WriteFile(filepath.Join(bin, "tar"), []byte(`#!/bin/sh
if [ "$1" = -tzf ] && [ ! -e '`+done+`' ]; then cp '`+evil+`' "$2" && : > '`+done+`'; fi
exec '`+realTar+`' "$@"
`), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	rec, err := w.runUpgrade(t, context.Background(), y, filepath.Join(w.dir, "up.json"), false, nil)
	if _, serr := os.Stat(done); serr != nil {
		t.Fatalf("the archive was never listed: %v\n%s", err, rec)
	}
	if err == nil || !strings.Contains(err.Error(), "refused to run tar") {
		t.Fatalf("want the swapped package refused, got %v\n%s", err, rec)
	}
	if p := pwned(t, w); len(p) != 0 {
		t.Fatalf("the swapped package was extracted: %v", p)
	}
	if real, _ := filepath.EvalSymlinks(filepath.Join(w.roots[0], "mms")); filepath.Base(real) != "mongodb-mms-7.0.0.x86_64" {
		t.Errorf("om1 runs from %s", real)
	}
	if left := staged(t, w.dir); len(left) != 0 {
		t.Errorf("the directory with the swapped package is still there: %v", left)
	}
	rec, err = w.runUpgrade(t, context.Background(), y, filepath.Join(w.dir, "up.json"), true, nil)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, rec)
	}
	for i := range w.servers {
		real, _ := filepath.EvalSymlinks(filepath.Join(w.roots[i], "mms"))
		if filepath.Base(real) != "mongodb-mms-7.0.1.x86_64" {
			t.Errorf("om%d runs from %s", i+1, real)
		}
	}
	if left := staged(t, w.dir); len(left) != 0 {
		t.Errorf("left: %v", left)
	}
}

// A remote_dir other users can write to (no sticky bit) is refused in
// preflight, naming the answer and the server: nothing uploaded, no
// server stopped.
func TestUpgradeRefusesUnsafeRemoteDir(t *testing.T) {
	w, _, y := upgradeWorld(t, 2)
	open := filepath.Join(w.dir, "open")
	os.Mkdir(open, 0o755)
	os.Chmod(open, 0o777)
	y = strings.Replace(y, "remote_dir: "+w.dir+"\n", "remote_dir: "+open+"\n", 1)
	rec, err := w.runUpgrade(t, context.Background(), y, filepath.Join(w.dir, "up.json"), false, nil)
	if err == nil || !strings.Contains(err.Error(), "upgrade.remote_dir "+open+" on om1") || !strings.Contains(err.Error(), "writable by its group or others") {
		t.Fatalf("err = %v\n%s", err, rec)
	}
	if n := rec.count(steps.EventApply); n != 0 {
		t.Errorf("%d applies:\n%s", n, rec)
	}
	if left, _ := os.ReadDir(open); len(left) != 0 {
		t.Errorf("uploaded into %s: %v", open, left)
	}
	for i := range w.servers {
		if omstandin.Running(mustConfig(t, w.inst(i))) == 0 {
			t.Errorf("om%d was stopped", i+1)
		}
	}
}
