//go:build e2e

package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
)

// Staging of installers and packages on real hosts (issue 15, item 3): each
// is uploaded into a fresh mktemp -d directory made by root under /tmp,
// mode 0700, and installed from there by a root shell that checks its
// SHA-256 first; after micetro-central-upgrade and opsmanager-upgrade no
// staging file is left on any lab host, also when the run was killed
// between the upload and the install; what another user planted at the
// old predictable paths is never used, changed or removed.

// stagingHawiz runs hawiz with --json; onEvent may return true to SIGKILL it.
func stagingHawiz(t *testing.T, dir string, env []string, onEvent func(event) bool, args ...string) (int, string) {
	t.Helper()
	code, _, stderr := hawizJSON(t, append([]string{"XDG_STATE_HOME=" + dir, "NO_COLOR=1"}, env...), onEvent, time.Time{}, args...)
	return code, stderr
}

// stagingGlobs are where staging files are (or, before, were) on a host.
var stagingGlobs = []string{"/tmp/hawiz-stage-*", "/tmp/hawiz-upgrade-*", "/tmp/micetro-central-*"}

// cleanStaging removes what earlier runs (of any hawiz) left on the first n hosts.
func cleanStaging(t *testing.T, l *Lab, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		for _, g := range stagingGlobs {
			m, _ := filepath.Glob(l.hostPath(t, i, g))
			for _, p := range m {
				os.RemoveAll(p)
			}
		}
	}
}

// stagingLeft lists the staging files on host i, but those in keep (host paths).
func stagingLeft(t *testing.T, l *Lab, i int, keep map[string]bool) []string {
	t.Helper()
	root := l.hostPath(t, i, "")
	var out []string
	for _, g := range stagingGlobs {
		m, _ := filepath.Glob(l.hostPath(t, i, g))
		for _, p := range m {
			if p := strings.TrimPrefix(p, root); !keep[p] {
				out = append(out, p)
			}
		}
	}
	return out
}

// checkPrivate: p on host i is a directory of root's, mode 0700, holding
// file (root's, 0600).
func checkPrivate(t *testing.T, l *Lab, i int, p, file string) {
	t.Helper()
	st, err := os.Lstat(l.hostPath(t, i, p))
	if err != nil {
		t.Errorf("%s: %v", l.Names[i], err)
		return
	}
	if !st.IsDir() || st.Mode().Perm() != 0o700 || st.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("%s: %s is %v owned by uid %d, want a directory of root's, mode 0700", l.Names[i], p, st.Mode(), st.Sys().(*syscall.Stat_t).Uid)
	}
	fst, err := os.Lstat(l.hostPath(t, i, filepath.Join(p, file)))
	if err != nil {
		t.Errorf("%s: %v", l.Names[i], err)
		return
	}
	if !fst.Mode().IsRegular() || fst.Mode().Perm() != 0o600 || fst.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("%s: %s/%s is %v owned by uid %d, want root's, mode 0600", l.Names[i], p, file, fst.Mode(), fst.Sys().(*syscall.Stat_t).Uid)
	}
}

// plant writes data at p on host i, owned by another user (nobody).
func plant(t *testing.T, l *Lab, i int, p string, data []byte) {
	t.Helper()
	hp := l.hostPath(t, i, p)
	os.MkdirAll(filepath.Dir(hp), 0o755)
	if err := os.WriteFile(hp, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(p) != "/tmp" {
		os.Chown(filepath.Dir(hp), 65534, 65534)
	}
	os.Chown(hp, 65534, 65534)
}

func TestStagingMicetroUpgradeKilledAfterUpload(t *testing.T) {
	m := setupMicetro(t, 3)
	cleanStaging(t, m.Lab, 3)
	t.Cleanup(func() { cleanStaging(t, m.Lab, 3) })
	pkg := mmInstaller(t, m.dir)
	name := filepath.Base(pkg)
	evil := []byte("#!/bin/sh\necho pwned > /tmp/pwned\n")
	planted := map[string][]byte{
		"/tmp/" + name: evil,
		"/tmp/" + strings.TrimSuffix(name, ".tgz") + ".hawiz-extract/install": evil,
	}
	keep := map[string]bool{"/tmp/" + name: true, "/tmp/" + strings.TrimSuffix(name, ".tgz") + ".hawiz-extract": true}
	for p, b := range planted {
		for i := 0; i < 3; i++ {
			plant(t, m.Lab, i, p, b)
		}
	}

	a := m.answers("upgrade.yaml", nil, fmt.Sprintf("installer:\n  local: %s\n  expected_version: 10.3.6\n", pkg))
	// Killed once every member has its installer, before any is installed.
	code, evs, stderr := m.hawiz(func(e event) bool {
		return e.Kind == "step-start" && e.Step == "stop-secondaries"
	}, "run", "micetro-central-upgrade", "-a", a, "--yes", "--state", m.state,
		"--confirm", "automatic-update-off", "--confirm", "confirm-active-member") // all three run Central: which is Active is the operator's word
	if code != -9 {
		t.Fatalf("not killed after the upload (exit %d):\n%s\n%v", code, stderr, evs)
	}
	for i := 0; i < 3; i++ {
		ds, _ := filepath.Glob(m.hostPath(t, i, fmt.Sprintf("/tmp/hawiz-stage-micetro-upgrade-central%d.??????????", i+1)))
		if len(ds) != 1 {
			t.Fatalf("%s: staging directories after the upload: %v", m.Names[i], ds)
		}
		checkPrivate(t, m.Lab, i, strings.TrimPrefix(ds[0], m.hostPath(t, i, "")), name)
	}
	code, evs, stderr = m.hawiz(nil, "resume", "--state", m.state, "--yes")
	m.drive(code, evs, stderr)
	for i := 0; i < 3; i++ {
		b, _ := os.ReadFile(m.hostPath(t, i, mmInstallLog))
		if n := strings.Count(string(b), "installed 10.3.6"); n != 1 {
			t.Errorf("%s: 10.3.6 installed %d times", m.Names[i], n)
		}
		if left := stagingLeft(t, m.Lab, i, keep); len(left) != 0 {
			t.Errorf("%s: left after the upgrade: %v", m.Names[i], left)
		}
		for p, want := range planted {
			if got, err := os.ReadFile(m.hostPath(t, i, p)); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: the planted %s was changed or removed (%v)", m.Names[i], p, err)
			}
		}
		if _, err := os.Stat(m.hostPath(t, i, "/tmp/pwned")); err == nil {
			t.Errorf("%s: a planted installer ran", m.Names[i])
		}
		m.checkRunning(i)
	}
}

func TestStagingOpsManagerUpgradeKilledAfterUpload(t *testing.T) {
	o := setupOM(t, 3, false)
	cleanStaging(t, o.Lab, 3)
	t.Cleanup(func() { cleanStaging(t, o.Lab, 3) })
	a := o.answers("ha.yaml", "  mode: first-server\n", "")
	if code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state); code != 0 {
		t.Fatalf("ha: exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	deb := o.deb("7.0.1")
	data, _ := os.ReadFile(deb)
	sum := sha256.Sum256(data)
	// The old predictable upload path, planted by another user.
	old := "/tmp/hawiz-upgrade-" + hex.EncodeToString(sum[:])[:12] + "-" + filepath.Base(deb)
	evil := []byte("not a package")
	keep := map[string]bool{old: true}
	for i := 0; i < 3; i++ {
		plant(t, o.Lab, i, old, evil)
	}
	// A run killed on lab3 between the upload and the install left its
	// directory (root's, 0700, the package in it).
	killed := "/tmp/hawiz-stage-opsmanager-upgrade-" + o.Names[2] + ".KILLEDRUN1"
	if err := os.Mkdir(o.hostPath(t, 2, killed), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(o.hostPath(t, 2, killed+"/"+filepath.Base(deb)), data, 0o600)

	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\nservers:\n", o.User, o.Key, o.knownHostsCopy(t))
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    install: package\n", o.Names[i], o.Addrs[i], o.Port)
	}
	fmt.Fprintf(&b, "upgrade:\n  package: %s\n  version: 7.0.1\nstart_timeout: 60s\ngen_key_backup_to: %s\nload_balancer:\n  url: %s\n", deb, filepath.Join(o.dir, "key.before-upgrade"), o.lbURL)
	ua := filepath.Join(o.dir, "upgrade.yaml")
	os.WriteFile(ua, []byte(b.String()), 0o600)
	us := filepath.Join(o.dir, "upgrade.json")
	env := []string{"HAWIZ_APPDB_PASSWORD=" + omPassword}
	// Killed on lab1 after the upload, before the install: the package is
	// staged before the server is stopped, so the stop's output comes in
	// between.
	var seen string
	code, stderr := stagingHawiz(t, o.dir, env, func(e event) bool {
		if e.Kind != "output" || e.Step != "upgrade-each-server" || e.Host != o.Names[0] {
			return false
		}
		out := strings.Join(e.Output, "\n")
		if strings.Contains(out, "Upgrade Mode") {
			return false
		}
		seen = out
		return true
	}, "run", "opsmanager-upgrade", "-a", ua, "--yes", "--state", us)
	if code != -9 {
		t.Fatalf("not killed between the upload and the install on %s (exit %d):\n%s", o.Names[0], code, stderr)
	}
	t.Logf("killed at the output %q", seen)
	ds, _ := filepath.Glob(o.hostPath(t, 0, "/tmp/hawiz-stage-opsmanager-upgrade-"+o.Names[0]+".??????????"))
	if len(ds) != 1 {
		t.Fatalf("%s: staging directories after the upload: %v", o.Names[0], ds)
	}
	checkPrivate(t, o.Lab, 0, strings.TrimPrefix(ds[0], o.hostPath(t, 0, "")), filepath.Base(deb))

	code, stderr = stagingHawiz(t, o.dir, env, nil, "resume", "--state", us, "--yes")
	if code != 0 {
		t.Fatalf("resume: exit %d:\n%s", code, stderr)
	}
	for i := 0; i < 3; i++ {
		if v, _ := o.sh(i, "dpkg-query -W -f='${Version}' mongodb-mms"); v != "7.0.1" {
			t.Errorf("%s: version %q", o.Names[i], v)
		}
		log, _ := o.sh(i, "cat "+omstandin.InstallLog)
		if n := strings.Count(log, "installed 7.0.1"); n != 1 {
			t.Errorf("%s: 7.0.1 installed %d times:\n%s", o.Names[i], n, log)
		}
		if left := stagingLeft(t, o.Lab, i, keep); len(left) != 0 {
			t.Errorf("%s: left after the upgrade: %v", o.Names[i], left)
		}
		if got, err := os.ReadFile(o.hostPath(t, i, old)); err != nil || !bytes.Equal(got, evil) {
			t.Errorf("%s: the planted %s was changed or removed (%v)", o.Names[i], old, err)
		}
		if !o.running(i) {
			t.Errorf("%s: not running", o.Names[i])
		}
	}
}
