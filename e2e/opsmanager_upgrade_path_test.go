//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
)

// Issue 16 item 7 on the lab: an upgrade that skips a release series (the
// servers run 7.0.0, the package is 9.0.0: 8.0 is skipped) is refused in
// preflight, naming the page's Upgrade Path section; no package is
// uploaded or installed, no server stops, no gen.key backup is written.
func TestOpsManagerUpgradeSkippedSeriesRefusedInPreflight(t *testing.T) {
	o := setupOM(t, 2, false)
	a := o.answers("ha.yaml", "  mode: first-server\n", "")
	if code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state); code != 0 {
		t.Fatalf("ha: exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	deb := o.deb("9.0.0")
	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\nservers:\n", o.User, o.Key, o.knownHostsCopy(t))
	for i := 0; i < o.n; i++ {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    install: package\n", o.Names[i], o.Addrs[i], o.Port)
	}
	backup := filepath.Join(o.dir, "key.before-upgrade")
	fmt.Fprintf(&b, "upgrade:\n  package: %s\n  version: 9.0.0\nstart_timeout: 60s\ngen_key_backup_to: %s\n", deb, backup)
	ua := filepath.Join(o.dir, "upgrade.yaml")
	if err := os.WriteFile(ua, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-upgrade", "-a", ua, "--yes", "--state", filepath.Join(o.dir, "upgrade.json"))
	out := stderr + evString(evs)
	if code == 0 || !strings.Contains(out, "preflight-servers") || !strings.Contains(out, "skips a release series") ||
		!strings.Contains(out, "the latest 7.0 patch, then the latest 8.0 patch, then 9.0") ||
		!strings.Contains(out, "https://www.mongodb.com/docs/ops-manager/current/tutorial/upgrade-ops-manager/ (Upgrade Path)") {
		t.Fatalf("want the skipped series refused in preflight naming the page, got exit %d:\n%s", code, out)
	}
	if n := count(evs, "apply"); n != 0 {
		t.Errorf("%d applies before the refusal", n)
	}
	if _, err := os.Stat(backup); err == nil {
		t.Error("the gen.key backup was written before the refusal")
	}
	for i := 0; i < o.n; i++ {
		if v, _ := o.sh(i, "dpkg-query -W -f='${Version}' mongodb-mms"); v != "7.0.0" {
			t.Errorf("%s: version %q", o.Names[i], v)
		}
		if log, _ := o.sh(i, "cat "+omstandin.InstallLog); strings.Contains(log, "9.0.0") {
			t.Errorf("%s: 9.0.0 was installed:\n%s", o.Names[i], log)
		}
		if left, _ := o.sh(i, "ls -d /tmp/hawiz-stage-* 2>/dev/null"); left != "" {
			t.Errorf("%s: a package was staged: %s", o.Names[i], left)
		}
		if !o.running(i) {
			t.Errorf("%s: Ops Manager was stopped", o.Names[i])
		}
	}
}
