//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/lab/standins/mmcentral"
)

// Issue 16 items 3 and 4 on the OpenSSH lab: Micetro deployments that
// already run (a site-made unit name, a past failover, an old version).

// mmAll is every event's message and evidence, and stderr.
func mmAll(evs []event, stderr string) string {
	all := stderr
	for _, e := range evs {
		all += e.Message + "\n" + e.Evidence + "\n"
	}
	return all
}

// mmSh runs a shell line as root on lab host i.
func (m *mmLab) mmSh(i int, line string) {
	m.t.Helper()
	c := m.rawClient(m.t, i, m.User)
	if out, errOut, code := rawRun(m.t, c, "sudo sh -c "+shellQuote(line), nil); code != 0 {
		m.t.Fatalf("%s: %s: exit %d %s %s", m.Names[i], line, code, out, errOut)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// mmInstalls counts the stand-in installer's runs on host i.
func (m *mmLab) mmInstalls(i int) int {
	b, _ := os.ReadFile(m.hostPath(m.t, i, "/usr/share/mmcentral-standin/install.log"))
	return strings.Count(string(b), "installed ")
}

// upgradeAnswers writes micetro-central-upgrade answers listing the lab
// hosts in order (host indices), member i named central<i+1>.
func (m *mmLab) upgradeAnswers(name, version string, order ...int) string {
	m.t.Helper()
	pkg := filepath.Join(m.dir, mmcentral.InstallerName(version))
	if _, err := os.Stat(pkg); err != nil {
		f, err := os.Create(pkg)
		if err != nil {
			m.t.Fatal(err)
		}
		if err := mmcentral.WriteInstaller(f, version); err != nil {
			m.t.Fatal(err)
		}
		f.Close()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\nmembers:\n", m.User, m.Key, m.knownHostsCopy(m.t))
	for _, i := range order {
		fmt.Fprintf(&b, "  - name: central%d\n    host: {name: %s, address: %s, port: %d}\n", i+1, m.Names[i], m.Addrs[i], m.Port)
	}
	fmt.Fprintf(&b, "installer:\n  local: %s\n  expected_version: %s\n", pkg, version)
	p := filepath.Join(m.dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		m.t.Fatal(err)
	}
	return p
}

// A member whose Central runs under a site-made unit name (the answers'
// mmcentral does not exist there): the HA run stops with an error naming
// the host and the unit, and never writes that member's preferences.cfg.
// Before, `systemctl is-active mmcentral` said inactive and the file was
// replaced under the running Central.
func TestMicetroHAUnknownUnitIsNotStopped(t *testing.T) {
	m := setupMicetro(t, 2)
	m.mmSh(1, "systemctl stop mmcentral && mv /etc/hawiz-lab/services/mmcentral /etc/hawiz-lab/services/site-central && systemctl start site-central")
	t.Cleanup(func() { m.mmSh(1, "systemctl stop site-central; rm -f /etc/hawiz-lab/services/site-central") })
	before := m.read(1, mmPrefs)
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", m.haAnswers(), "--yes", "--state", m.state)
	for round := 0; code == 3 && round < 10; round++ {
		step := ""
		for _, e := range evs {
			if e.Kind == "manual-wait" {
				step = e.Step
			}
		}
		code, evs, stderr = m.hawiz(nil, "resume", "--state", m.state, "--confirm", step, "--yes")
	}
	all := mmAll(evs, stderr)
	if code != 1 || !strings.Contains(all, m.Names[1]+` has no Central service "mmcentral"`) {
		t.Fatalf("exit %d:\n%s", code, all)
	}
	if got := m.read(1, mmPrefs); got != before {
		t.Fatalf("%s: preferences.cfg written under a running Central:\n%s", m.Names[1], got)
	}
}

// A past failover: the member listed first (lab1) is down, lab2 and lab3
// run. The update refuses before anything stops; listed with the Active
// member first (and confirmed: two members run), it stops the others,
// upgrades the Active member first, and proves each new daemon.
func TestMicetroUpgradeAfterFailoverActiveFirst(t *testing.T) {
	m := setupMicetro(t, 3)
	m.mmSh(0, "systemctl stop mmcentral")
	calls := []int{m.serviceCalls(0), m.serviceCalls(1), m.serviceCalls(2)}
	a := m.upgradeAnswers("upgrade.yaml", "10.3.6", 0, 1, 2)
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-upgrade", "-a", a, "--yes", "--state", m.state,
		"--confirm", "automatic-update-off", "--confirm", "confirm-active-member")
	all := mmAll(evs, stderr)
	if code != 1 || !strings.Contains(all, "central1, the first member in the answers, does not run Central") ||
		!strings.Contains(all, "central2 ("+m.Names[1]+"), central3 ("+m.Names[2]+") run Central") {
		t.Fatalf("exit %d:\n%s", code, all)
	}
	for i := 0; i < 3; i++ {
		if m.serviceCalls(i) != calls[i] || m.mmInstalls(i) != 0 {
			t.Fatalf("%s was stopped, started or upgraded", m.Names[i])
		}
	}

	// The Active member (lab2) listed first: the operator is asked, in
	// the plain output too, with how to answer.
	a = m.upgradeAnswers("upgrade2.yaml", "10.3.6", 1, 2, 0)
	state := filepath.Join(m.dir, "state2.json")
	code, evs, stderr = m.hawiz(nil, "run", "micetro-central-upgrade", "-a", a, "--yes", "--state", state, "--confirm", "automatic-update-off")
	asked := false
	for _, e := range evs {
		asked = asked || e.Kind == "manual-wait" && e.Step == "confirm-active-member"
	}
	if code != 3 || !asked || !strings.Contains(stderr, "--confirm confirm-active-member") {
		t.Fatalf("exit %d, asked %v:\n%s", code, asked, stderr)
	}
	code, evs, stderr = m.hawiz(nil, "resume", "--state", state, "--yes", "--confirm", "automatic-update-off", "--confirm", "confirm-active-member")
	order := []string{}
	for _, e := range evs {
		if e.Kind == "apply" && strings.HasPrefix(e.Step, "upgrade-") {
			order = append(order, e.Host)
		}
	}
	m.drive(code, evs, stderr)
	if len(order) == 0 || order[0] != m.Names[1] {
		t.Fatalf("upgrade order %v: the Active member %s is not first", order, m.Names[1])
	}
	proven := 0
	for _, e := range evs {
		if e.Kind == "verify" && strings.HasPrefix(e.Step, "upgrade-") && strings.Contains(e.Evidence, "after the install began") {
			proven++
		}
	}
	if proven != 3 {
		t.Errorf("%d of 3 upgrades proven from the running daemon", proven)
	}
	for i := 0; i < 3; i++ {
		if v := strings.TrimSpace(m.read(i, "/usr/share/mmcentral-standin/VERSION")); v != "10.3.6" || m.mmInstalls(i) != 1 {
			t.Errorf("%s: version %s, %d installs", m.Names[i], v, m.mmInstalls(i))
		}
		m.checkRunning(i)
	}
}

// Only the member listed first runs Central: hawiz sees it is the Active
// one and does not ask.
func TestMicetroUpgradeActiveObserved(t *testing.T) {
	m := setupMicetro(t, 3)
	m.mmSh(1, "systemctl stop mmcentral")
	m.mmSh(2, "systemctl stop mmcentral")
	a := m.upgradeAnswers("upgrade.yaml", "10.3.6", 0, 1, 2)
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-upgrade", "-a", a, "--yes", "--state", m.state, "--confirm", "automatic-update-off")
	observed := false
	for _, e := range evs {
		if e.Step == "confirm-active-member" && e.Kind == "manual-wait" {
			t.Fatal("asked although only the first member runs Central")
		}
		observed = observed || e.Step == "confirm-active-member" && strings.Contains(e.Evidence, "observed: only central1 runs Central")
	}
	if !observed {
		t.Errorf("no observation recorded:\n%s", mmAll(evs, stderr))
	}
	m.drive(code, evs, stderr)
	for i := 0; i < 3; i++ {
		if m.mmInstalls(i) != 1 {
			t.Errorf("%s: %d installs", m.Names[i], m.mmInstalls(i))
		}
	}
}

// An update path the vendor does not support (9.4 → 11.0) is refused in
// preflight, naming the document; nothing is stopped or installed.
func TestMicetroUpgradeUnsupportedPathRefused(t *testing.T) {
	m := setupMicetro(t, 2)
	for i := 0; i < 2; i++ {
		if err := os.WriteFile(m.hostPath(t, i, "/usr/share/mmcentral-standin/VERSION"), []byte("9.4.2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	calls := []int{m.serviceCalls(0), m.serviceCalls(1)}
	a := m.upgradeAnswers("upgrade.yaml", "11.0.1", 0, 1)
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-upgrade", "-a", a, "--yes", "--state", m.state)
	all := mmAll(evs, stderr)
	if code != 1 || !strings.Contains(all, "runs Central 9.4.2: the vendor does not support updating it to 11.0.1 in one step; update to 10.x first") ||
		!strings.Contains(all, "updates.html#update-paths") {
		t.Fatalf("exit %d:\n%s", code, all)
	}
	for i := 0; i < 2; i++ {
		if m.serviceCalls(i) != calls[i] || m.mmInstalls(i) != 0 {
			t.Errorf("%s was touched", m.Names[i])
		}
	}
}
