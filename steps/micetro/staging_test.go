package micetro

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/hawiz/hawiz/steps"
)

// The installer's staging on Linux members (issue 15, item 3): a fresh
// mktemp -d directory per member under the upload directory, made by the
// user the commands run as (root with sudo; here the test's own user: the
// in-process server runs everything as it), mode 0700; the SHA-256 checked
// by the root shell that installs; removed after the upgrade, and by the
// next run after a kill. These tests use file names only (no helpers of
// the new code), so they also ran against the code before it.

// evilInstaller is a .tgz whose ./install writes marker.
func evilInstaller(t *testing.T, marker string) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	script := []byte("#!/bin/sh\necho pwned >> '" + marker + "'\n")
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "install", Mode: 0o755, Size: int64(len(script))})
	tw.Write(script)
	tw.Close()
	gz.Close()
	return b.Bytes()
}

// stageDirs are the staging directories of the member named name under dir.
func stageDirs(t *testing.T, dir, name string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "hawiz-stage-micetro-upgrade-"+name+".??????????"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// entries lists dir's names (sorted).
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func stepsUpTo(t *testing.T, list []*steps.Step, id string) []*steps.Step {
	t.Helper()
	for i, s := range list {
		if s.ID == id {
			return list[:i+1]
		}
	}
	t.Fatalf("no step %s", id)
	return nil
}

func ownerMode(t *testing.T, p string) (os.FileMode, uint32) {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode(), st.Sys().(*syscall.Stat_t).Uid
}

// Each member's installer is uploaded into a directory of its own, mode
// 0700, owned by the user that ran the command, the installer itself 0600;
// after the run nothing is left in the upload directory.
func TestUpgradeStagesInPrivateDirectory(t *testing.T) {
	w, a, e, list := upgradeSetup(t, 3)
	ctx := context.Background()
	if _, err := runSteps(ctx, e, stepsUpTo(t, list, "upload-installer")); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(a.Installer.Local)
	name := filepath.Base(a.Installer.Local)
	var all []string
	for _, h := range w.hosts {
		ds := stageDirs(t, a.UploadDir, h.name)
		if len(ds) != 1 {
			t.Fatalf("%s: staging directories %v; upload dir holds %v", h.name, ds, entries(t, a.UploadDir))
		}
		mode, uid := ownerMode(t, ds[0])
		if !mode.IsDir() || mode.Perm() != 0o700 || uid != uint32(os.Getuid()) {
			t.Errorf("%s: %s is %v owned by uid %d; want a directory of mode 0700 owned by uid %d", h.name, ds[0], mode, uid, os.Getuid())
		}
		inst := filepath.Join(ds[0], name)
		if got, _ := os.ReadFile(inst); !bytes.Equal(got, want) {
			t.Errorf("%s: the staged installer differs", h.name)
		}
		if mode, _ := ownerMode(t, inst); mode.Perm() != 0o600 {
			t.Errorf("%s: installer mode %v", h.name, mode)
		}
		all = append(all, filepath.Base(ds[0]))
	}
	sort.Strings(all)
	if got := entries(t, a.UploadDir); strings.Join(got, " ") != strings.Join(all, " ") {
		t.Errorf("upload dir holds %v, want only %v", got, all)
	}
	if _, err := runSteps(ctx, e, list); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, a.UploadDir); len(got) != 0 {
		t.Errorf("left in the upload directory after the upgrade: %v", got)
	}
	for _, h := range w.hosts {
		if installs(h) != 1 {
			t.Errorf("%s: %d installs", h.name, installs(h))
		}
	}
}

// A run killed between the upload and the install: the next run (a fresh
// Env, as after a kill) installs from the staged copy, and removes every
// staging directory, also one an upload killed half-way left. A run killed
// after installing and before removing the directory: the next run removes
// it and installs nothing.
func TestUpgradeResumeAfterKillRemovesStaging(t *testing.T) {
	w, a, e, list := upgradeSetup(t, 3)
	ctx := context.Background()
	if _, err := runSteps(ctx, e, stepsUpTo(t, list, "upload-installer")); err != nil {
		t.Fatal(err)
	}
	// An upload killed half-way: a staging directory with a temp file.
	half := filepath.Join(a.UploadDir, "hawiz-stage-micetro-upgrade-central2.HALFWAY001")
	os.Mkdir(half, 0o700)
	os.WriteFile(filepath.Join(half, "."+filepath.Base(a.Installer.Local)+".hawiz-tmp.ABCDEFGH"), []byte("part"), 0o600)

	e2 := steps.NewEnv(ctx, a, e.Fleet(), &testOperator{confirm: true})
	lg, err := runSteps(ctx, e2, list)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range lg.applied {
		if strings.HasPrefix(k, "upload-installer") {
			t.Errorf("the staged installer was uploaded again: %s", k)
		}
	}
	if got := entries(t, a.UploadDir); len(got) != 0 {
		t.Fatalf("left after the resumed run: %v", got)
	}
	for _, h := range w.hosts {
		if installs(h) != 1 {
			t.Errorf("%s: %d installs", h.name, installs(h))
		}
	}

	// Killed after the install, before the removal.
	left := filepath.Join(a.UploadDir, "hawiz-stage-micetro-upgrade-central1.INSTALLED1")
	os.MkdirAll(filepath.Join(left, "extract", "micetro-central-10.3.6.linux.x64"), 0o700)
	os.Chmod(left, 0o700)
	b, _ := os.ReadFile(a.Installer.Local)
	os.WriteFile(filepath.Join(left, filepath.Base(a.Installer.Local)), b, 0o600)
	e3 := steps.NewEnv(ctx, a, e.Fleet(), &testOperator{confirm: true})
	lg, err = runSteps(ctx, e3, list)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(lg.applied, " ") != "upgrade-primary@central1" {
		t.Errorf("applied %v, want only upgrade-primary@central1 (removing the directory)", lg.applied)
	}
	if got := entries(t, a.UploadDir); len(got) != 0 {
		t.Fatalf("left after the run: %v", got)
	}
	for _, h := range w.hosts {
		if installs(h) != 1 {
			t.Errorf("%s: %d installs", h.name, installs(h))
		}
	}
}

// What another local user put at the paths the installer used to have
// (UPLOAD_DIR/NAME and UPLOAD_DIR/NAME-without-.tgz.hawiz-extract), and
// look-alikes of staging directories (a symlink, a directory of mode 0755,
// one of another owner), holding the genuine installer even, is never used,
// changed or removed.
func TestUpgradeIgnoresPlantedPaths(t *testing.T) {
	w, a, e, list := upgradeSetup(t, 2)
	marker := filepath.Join(t.TempDir(), "pwned")
	evil := evilInstaller(t, marker)
	name := filepath.Base(a.Installer.Local)
	genuine, _ := os.ReadFile(a.Installer.Local)
	attacker := t.TempDir()
	planted := map[string][]byte{
		filepath.Join(a.UploadDir, name): evil,
		filepath.Join(a.UploadDir, strings.TrimSuffix(name, ".tgz")+".hawiz-extract", "install"): []byte("#!/bin/sh\necho pwned >> '" + marker + "'\n"),
		filepath.Join(attacker, name): genuine,
		filepath.Join(a.UploadDir, "hawiz-stage-micetro-upgrade-central2.OPENMODE00", name): genuine,
		filepath.Join(a.UploadDir, "hawiz-stage-micetro-upgrade-central2.OTHERUSER0", name): genuine,
	}
	for p, b := range planted {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(attacker, 0o700)
	os.Symlink(attacker, filepath.Join(a.UploadDir, "hawiz-stage-micetro-upgrade-central1.SYMLINK000"))
	if os.Getuid() == 0 {
		other := filepath.Join(a.UploadDir, "hawiz-stage-micetro-upgrade-central2.OTHERUSER0")
		os.Chmod(other, 0o700)
		os.Chown(other, 65534, 65534)
	}
	lg, err := runSteps(context.Background(), e, list)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(marker); err == nil {
		t.Fatalf("a planted installer ran: %q", b)
	}
	for p, b := range planted {
		if p == filepath.Join(a.UploadDir, "hawiz-stage-micetro-upgrade-central2.OTHERUSER0", name) && os.Getuid() != 0 {
			continue // not root: that one could not be given away, it is ours
		}
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s was changed or removed (%v)", p, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(a.UploadDir, "hawiz-stage-micetro-upgrade-central1.SYMLINK000")); err != nil {
		t.Errorf("the planted symlink was removed: %v", err)
	}
	for k, ev := range lg.evid {
		if strings.Contains(ev, "SYMLINK000") || strings.Contains(ev, "OPENMODE00") || strings.Contains(ev, "OTHERUSER0") || strings.Contains(ev, attacker) {
			t.Errorf("%s used a planted path: %s", k, ev)
		}
	}
	for _, h := range w.hosts {
		if installs(h) != 1 {
			t.Errorf("%s: %d installs", h.name, installs(h))
		}
	}
}

// An installer changed after it was uploaded (here by the test, standing
// in for anything that got at it) is never installed: the upgrade step
// finds no staged copy with the right hash and stages the genuine one again.
func TestUpgradeNeverInstallsInstallerSwappedAfterUpload(t *testing.T) {
	w, a, e, list := upgradeSetup(t, 2)
	ctx := context.Background()
	if _, err := runSteps(ctx, e, stepsUpTo(t, list, "stop-secondaries")); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "pwned")
	name := filepath.Base(a.Installer.Local)
	target := filepath.Join(a.UploadDir, name) // where the code before this change installed from
	if ds := stageDirs(t, a.UploadDir, "central1"); len(ds) == 1 {
		target = filepath.Join(ds[0], name)
	}
	if err := os.WriteFile(target, evilInstaller(t, marker), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runSteps(ctx, e, list[len(stepsUpTo(t, list, "stop-secondaries")):]); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(marker); err == nil {
		t.Fatalf("the swapped installer ran: %q", b)
	}
	for _, h := range w.hosts {
		if installs(h) != 1 {
			t.Errorf("%s: %d installs", h.name, installs(h))
		}
	}
	if got := entries(t, a.UploadDir); len(got) != 0 {
		t.Errorf("left: %v", got)
	}
}

// The SHA-256 is checked by the shell that installs, right before it does:
// an installer changed after every earlier check, as the install command
// reaches the host, is refused; nothing is installed and the directory is
// removed. The next run stages the genuine one again and installs it.
func TestUpgradeInstallScriptChecksSHA256(t *testing.T) {
	w, a, e, list := upgradeSetup(t, 2)
	ctx := context.Background()
	marker := filepath.Join(t.TempDir(), "pwned")
	evil := evilInstaller(t, marker)
	name := filepath.Base(a.Installer.Local)
	swapped := ""
	w.hosts[0].onExec = func(cmd string) {
		if !strings.Contains(cmd, "tar -xzf") || swapped != "" {
			return
		}
		// The file the install command names, wherever it is.
		for _, p := range append(stageDirs(t, a.UploadDir, "central1"), a.UploadDir) {
			if _, err := os.Stat(filepath.Join(p, name)); err == nil {
				swapped = filepath.Join(p, name)
				os.WriteFile(swapped, evil, 0o600)
				return
			}
		}
	}
	_, err := runSteps(ctx, e, list)
	if swapped == "" {
		t.Fatalf("no install command seen (%v)", err)
	}
	if err == nil || !strings.Contains(err.Error(), "refused to run") || !strings.Contains(err.Error(), "upgrade-primary@central1") {
		t.Fatalf("want the swapped installer refused on central1, got %v", err)
	}
	if b, err := os.ReadFile(marker); err == nil {
		t.Fatalf("the swapped installer ran: %q", b)
	}
	if installs(w.hosts[0]) != 0 {
		t.Fatal("installed")
	}
	if ds := stageDirs(t, a.UploadDir, "central1"); len(ds) != 0 {
		t.Errorf("the directory with the swapped installer is still there: %v", ds)
	}
	w.hosts[0].mu.Lock()
	w.hosts[0].onExec = nil
	w.hosts[0].mu.Unlock()
	if _, err := runSteps(ctx, steps.NewEnv(ctx, a, e.Fleet(), &testOperator{confirm: true}), list); err != nil {
		t.Fatal(err)
	}
	for _, h := range w.hosts {
		if installs(h) != 1 {
			t.Errorf("%s: %d installs", h.name, installs(h))
		}
	}
	if got := entries(t, a.UploadDir); len(got) != 0 {
		t.Errorf("left: %v", got)
	}
}

// installer.remote: each Linux member installs a copy in a staging
// directory, checked against the hash check-installer saw; the operator's
// file is left as it is and nothing is extracted beside it. A file changed
// after check-installer is refused.
func TestUpgradeRemoteInstallerStaged(t *testing.T) {
	w, a, e, _ := upgradeSetup(t, 2)
	src := filepath.Join(t.TempDir(), "srv")
	os.MkdirAll(src, 0o755)
	remotePkg := filepath.Join(src, filepath.Base(a.Installer.Local))
	genuine, _ := os.ReadFile(a.Installer.Local)
	os.WriteFile(remotePkg, genuine, 0o644)
	a.Installer = Installer{Remote: remotePkg, ExpectedVersion: "10.3.6"}
	list, err := CentralUpgrade().Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := runSteps(ctx, e, stepsUpTo(t, list, "stop-secondaries")); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "pwned")
	os.WriteFile(remotePkg, evilInstaller(t, marker), 0o644)
	if _, err := runSteps(ctx, e, list[len(stepsUpTo(t, list, "stop-secondaries")):]); err == nil || !strings.Contains(err.Error(), "refused to run") {
		t.Fatalf("want the changed installer.remote refused, got %v", err)
	}
	if _, err := os.Stat(marker); err == nil || installs(w.hosts[0]) != 0 {
		t.Fatal("the changed installer ran")
	}
	os.WriteFile(remotePkg, genuine, 0o644)
	if _, err := runSteps(ctx, e, list); err != nil {
		t.Fatal(err)
	}
	for _, h := range w.hosts {
		if installs(h) != 1 {
			t.Errorf("%s: %d installs", h.name, installs(h))
		}
	}
	if got := entries(t, src); strings.Join(got, " ") != filepath.Base(remotePkg) {
		t.Errorf("beside installer.remote: %v", got)
	}
	if got := entries(t, a.UploadDir); len(got) != 0 {
		t.Errorf("left in the upload directory: %v", got)
	}
}

// An upload directory other users can write to (no sticky bit) is refused
// in preflight, before anything is uploaded or stopped, naming the answer
// and the member.
func TestUpgradeRefusesUnsafeUploadDir(t *testing.T) {
	w, a, e, list := upgradeSetup(t, 2)
	os.Chmod(a.UploadDir, 0o777)
	lg, err := runSteps(context.Background(), e, list)
	if err == nil || !strings.Contains(err.Error(), "upload_dir "+a.UploadDir+" on central1") || !strings.Contains(err.Error(), "writable by its group or others") {
		t.Fatalf("err = %v", err)
	}
	if len(lg.applied) != 0 || !strings.HasPrefix(err.Error(), "preflight") {
		t.Errorf("applied %v; err %v: want a refusal in preflight", lg.applied, err)
	}
	for _, h := range w.hosts {
		if strings.Contains(h.systemctlLog(), "stop") {
			t.Errorf("%s: stopped", h.name)
		}
	}
	if got := entries(t, a.UploadDir); len(got) != 0 {
		t.Errorf("uploaded into an unsafe directory: %v", got)
	}
	for _, h := range w.hosts {
		if installs(h) != 0 {
			t.Errorf("%s installed", h.name)
		}
	}
}
