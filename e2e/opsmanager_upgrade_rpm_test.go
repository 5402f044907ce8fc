//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
)

// Issue 16 item 7 on the lab: Ops Manager installed from rpm packages. The
// lab hosts are Debian; lab/sshd.sh gives them a stand-in rpm
// (lab/standins/rpm/rpm) that refuses, as rpm -U does, a package older
// than the installed one unless --oldpackage is given, answers rpm -q, and
// logs every call. The stand-in packages (omstandin.WriteRPM) of the
// versions whose rpm carries incorrect version information (the release
// notes: 6.0.0-6.0.2, 8.0.0) rank above later versions (an epoch), so a
// plain `rpm -U` of the next version fails on them as the notes say.

// omRPM builds the stand-in rpm package of version (epoch > 0: its version
// information ranks it above later versions).
func (o *omLab) omRPM(version string, epoch int) string {
	o.t.Helper()
	p := filepath.Join(o.dir, fmt.Sprintf("e%d", epoch), "mongodb-mms-"+version+".x86_64.rpm")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	var b bytes.Buffer
	if err := omstandin.WriteRPM(&b, version, epoch, buildOMStandin(o.t)); err != nil {
		o.t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		o.t.Fatal(err)
	}
	return p
}

// setupOMRPM is setupOM with the stand-in Ops Manager installed by the
// stand-in rpm (rpm -i) instead of dpkg: dpkg knows no mongodb-mms, so
// hawiz reads the version with rpm -q, as on a RHEL server.
func setupOMRPM(t *testing.T, n int, version string, epoch int) *omLab {
	t.Helper()
	o := setupOM(t, n, false)
	pkg := o.omRPM(version, epoch)
	data, _ := os.ReadFile(pkg)
	for i := 0; i < n; i++ {
		if out, code := o.sh(i, "sudo /opt/mongodb/mms/bin/mongodb-mms stop >/dev/null 2>&1; sudo dpkg --purge mongodb-mms >/dev/null && sudo rm -rf /opt/mongodb/mms /etc/mongodb-mms && : | sudo tee /var/log/hawiz-lab/rpm.log"); code != 0 {
			t.Fatalf("%s: removing the deb: %s", o.Names[i], out)
		}
		if err := os.WriteFile(o.hostPath(t, i, "/tmp/"+filepath.Base(pkg)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := o.sh(i, "sudo rpm -i /tmp/"+filepath.Base(pkg)+" && rpm -q --qf '%{VERSION}' mongodb-mms"); code != 0 || out != version {
			t.Fatalf("%s: rpm -i: %d %s", o.Names[i], code, out)
		}
		if _, code := o.sh(i, "dpkg-query -W mongodb-mms"); code == 0 {
			t.Fatalf("%s: dpkg still knows mongodb-mms", o.Names[i])
		}
	}
	t.Cleanup(func() { // before setupOM's reset (cleanups run last first)
		for i := 0; i < n; i++ {
			o.sh(i, "sudo /opt/mongodb/mms/bin/mongodb-mms stop >/dev/null 2>&1; sudo rpm -e mongodb-mms; sudo rm -rf /var/lib/hawiz-lab/rpm")
		}
	})
	if code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", o.answers("ha.yaml", "  mode: first-server\n", ""), "--yes", "--state", o.state); code != 0 {
		t.Fatalf("ha: exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	return o
}

func (o *omLab) upgradeRPMAnswers(pkg, version string) string {
	o.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\nservers:\n", o.User, o.Key, o.knownHostsCopy(o.t))
	for i := 0; i < o.n; i++ {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    install: package\n", o.Names[i], o.Addrs[i], o.Port)
	}
	fmt.Fprintf(&b, "upgrade:\n  package: %s\n  version: %s\nstart_timeout: 60s\ngen_key_backup_to: %s\nload_balancer:\n  url: %s\n", pkg, version, filepath.Join(o.dir, "key.before-"+version), o.lbURL)
	p := filepath.Join(o.dir, "upgrade-"+version+".yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		o.t.Fatal(err)
	}
	return p
}

// rpmUpgrades is the -U calls root made on host i (rpm.log lines after the
// time and uid).
func (o *omLab) rpmUpgrades(i int) []string {
	out, _ := o.sh(i, "cat /var/log/hawiz-lab/rpm.log")
	var us []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.SplitN(l, " ", 3)
		if len(f) == 3 && f[1] == "uid=0" && strings.HasPrefix(f[2], "-U") {
			us = append(us, f[2])
		}
	}
	return us
}

// From 8.0.0 (whose rpm's version information ranks it above 8.0.1) to
// 8.0.1: a plain rpm -U is refused by rpm, so hawiz must run
// rpm -U --oldpackage, as the 8.0.1 release notes say; it does, on every
// server, and the upgrade completes.
func TestOpsManagerUpgradeRPMOldPackage(t *testing.T) {
	o := setupOMRPM(t, 2, "8.0.0", 1)
	pkg := o.omRPM("8.0.1", 0)
	// The stand-in behaves as rpm: without --oldpackage the upgrade is refused.
	data, _ := os.ReadFile(pkg)
	os.WriteFile(o.hostPath(t, 0, "/tmp/probe-8.0.1.rpm"), data, 0o644)
	if out, code := o.sh(0, "sudo rpm -U /tmp/probe-8.0.1.rpm 2>&1"); code == 0 ||
		!strings.Contains(out, "package mongodb-mms-1:8.0.0-1.x86_64 (which is newer than mongodb-mms-8.0.1-1.x86_64) is already installed") {
		t.Fatalf("plain rpm -U over 8.0.0: exit %d %q, want the refusal", code, out)
	}
	o.sh(0, "sudo rm -f /tmp/probe-8.0.1.rpm; : | sudo tee /var/log/hawiz-lab/rpm.log")
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-upgrade", "-a", o.upgradeRPMAnswers(pkg, "8.0.1"), "--yes", "--state", filepath.Join(o.dir, "up.json"))
	out := stderr + evString(evs)
	if code != 0 {
		t.Fatalf("upgrade: exit %d:\n%s", code, out)
	}
	said := map[string]bool{}
	for _, e := range evs {
		for _, l := range append([]string{e.Evidence}, e.Output...) {
			if strings.Contains(l, "rpm -U --oldpackage") && strings.Contains(l, "release-notes") {
				said[e.Step+"@"+e.Host] = true
			}
		}
	}
	if !said["upgrade-each-server@"+o.Names[0]] || !said["upgrade-each-server@"+o.Names[1]] {
		t.Errorf("the upgrade of each server does not say why --oldpackage, citing the release notes (%v):\n%s", said, out)
	}
	for i := 0; i < o.n; i++ {
		us := o.rpmUpgrades(i)
		if len(us) != 1 || !strings.HasPrefix(us[0], "-U --oldpackage ") || !strings.HasSuffix(us[0], "mongodb-mms-8.0.1.x86_64.rpm") {
			t.Errorf("%s: rpm -U calls %q, want one rpm -U --oldpackage of the 8.0.1 package", o.Names[i], us)
		}
		if v, _ := o.sh(i, "rpm -q --qf '%{VERSION}' mongodb-mms"); v != "8.0.1" {
			t.Errorf("%s: rpm -q says %q after the upgrade", o.Names[i], v)
		}
		if !o.running(i) {
			t.Errorf("%s: Ops Manager not running after the upgrade", o.Names[i])
		}
	}
}

// From 7.0.12 (a correct rpm) to 8.0.1: the documents require no
// --oldpackage, and hawiz runs a plain rpm -U.
func TestOpsManagerUpgradeRPMPlain(t *testing.T) {
	o := setupOMRPM(t, 2, "7.0.12", 0)
	pkg := o.omRPM("8.0.1", 0)
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-upgrade", "-a", o.upgradeRPMAnswers(pkg, "8.0.1"), "--yes", "--state", filepath.Join(o.dir, "up.json"))
	out := stderr + evString(evs)
	if code != 0 {
		t.Fatalf("upgrade: exit %d:\n%s", code, out)
	}
	for i := 0; i < o.n; i++ {
		us := o.rpmUpgrades(i)
		if len(us) != 1 || strings.Contains(us[0], "--oldpackage") || !strings.HasPrefix(us[0], "-U ") {
			t.Errorf("%s: rpm -U calls %q, want one plain rpm -U", o.Names[i], us)
		}
		if v, _ := o.sh(i, "rpm -q --qf '%{VERSION}' mongodb-mms"); v != "8.0.1" {
			t.Errorf("%s: rpm -q says %q after the upgrade", o.Names[i], v)
		}
	}
}
