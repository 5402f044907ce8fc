//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/dnscheck"
	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/hawiz/hawiz/lab/standins/mmcentral"
)

// The Micetro e2e: the hawiz binary runs micetro-central-ha and
// micetro-central-upgrade against the OpenSSH lab, with the Central stand-in
// (lab/standins/mmcentral) installed on every host as the service mmcentral
// of the lab's systemctl. Manual steps are confirmed with
// `hawiz resume --confirm STEP` (exit 3 each time: the contract).

// buildMmcentrald is the Central stand-in's daemon, built once.
func buildMmcentrald(t *testing.T) string {
	t.Helper()
	return goBuild(t, "github.com/hawiz/hawiz/lab/standins/mmcentral/mmcentrald")
}

type mmLab struct {
	*Lab
	t     *testing.T
	n     int
	dir   string
	dns   *dnstest.Server
	state string
}

const mmPrefs = "/var/mmsuite/mmcentral/preferences.cfg"

// setupMicetro installs a fresh stand-in Central (10.3.5, running, MSSQL
// preferences.cfg) on the first n lab hosts and starts an authoritative DNS
// server holding the round-robin name with every member's address.
func setupMicetro(t *testing.T, n int) *mmLab {
	t.Helper()
	l := needLab(t)
	l.needHosts(t, n)
	m := &mmLab{Lab: l, t: t, n: n, dir: t.TempDir()}
	bin, err := os.ReadFile(buildMmcentrald(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		c := l.rawClient(t, i, l.User)
		rawRun(t, c, "sudo systemctl stop mmcentral 2>/dev/null; true", nil)
		for _, d := range []string{"/var/mmsuite/mmcentral/logs", "/usr/share/mmcentral-standin"} {
			if err := os.MkdirAll(l.hostPath(t, i, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		old, _ := filepath.Glob(l.hostPath(t, i, mmPrefs+".hawiz-*"))
		old = append(old, l.hostPath(t, i, "/usr/share/mmcentral-standin/install.log"))
		for _, f := range old {
			os.Remove(f)
		}
		for path, content := range map[string]string{
			"/usr/sbin/mmcentrald":                 string(bin),
			"/etc/hawiz-lab/services/mmcentral":    mmcentral.ServiceDefinition,
			mmPrefs:                                mmcentral.SamplePrefs,
			"/usr/share/mmcentral-standin/VERSION": "10.3.5\n",
			"/var/mmsuite/mmcentral/logs/.keep":    "",
		} {
			mode := os.FileMode(0o644)
			if strings.HasSuffix(path, "mmcentrald") {
				mode = 0o755
			}
			p := l.hostPath(t, i, path)
			os.Remove(p)
			if err := os.WriteFile(p, []byte(content), mode); err != nil {
				t.Fatal(err)
			}
		}
		if out, errOut, code := rawRun(t, c, "sudo systemctl start mmcentral", nil); code != 0 {
			t.Fatalf("%s: start stand-in: %d %s %s", l.Names[i], code, out, errOut)
		}
	}
	zone := "$TTL 300\nlab.hawiz.test. IN SOA ns1.lab.hawiz.test. hostmaster.lab.hawiz.test. 2026112201 3600 600 86400 60\nlab.hawiz.test. IN NS ns1.lab.hawiz.test.\nns1 IN A 127.0.0.1\n"
	for i := 0; i < n; i++ {
		zone += "central 300 IN A " + l.Addrs[i] + "\n"
	}
	m.dns, err = dnstest.Start(dnstest.Config{Zones: map[string]string{"lab.hawiz.test": zone}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.dns.Close() })
	m.state = filepath.Join(m.dir, "state.json")
	return m
}

// answers writes an answers file for micetro-central-ha (extra is appended).
func (m *mmLab) answers(name string, priorities []int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\n", m.User, m.Key, m.knownHostsCopy(m.t))
	b.WriteString("members:\n")
	for i := 0; i < m.n; i++ {
		fmt.Fprintf(&b, "  - name: central%d\n    host: {name: %s, address: %s, port: %d}\n", i+1, m.Names[i], m.Addrs[i], m.Port)
		if priorities != nil {
			fmt.Fprintf(&b, "    priority: %d\n", priorities[i])
		}
	}
	b.WriteString(extra)
	p := filepath.Join(m.dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		m.t.Fatal(err)
	}
	return p
}

func (m *mmLab) haAnswers() string {
	return m.answers("ha.yaml", []int{10, 20, 30, 40, 50}[:m.n], fmt.Sprintf("dns:\n  name: central.lab.hawiz.test\n  servers: [%q]\n  resolver: 127.0.0.1:1\n", m.dns.Addr()))
}

// hawiz runs the binary with --json; onEvent (optional) sees every event and
// may return true to SIGKILL the process at once.
func (m *mmLab) hawiz(onEvent func(event) bool, args ...string) (int, []event, string) {
	m.t.Helper()
	return hawizJSON(m.t, []string{"XDG_STATE_HOME=" + m.dir, "NO_COLOR=1"}, onEvent, time.Time{}, args...)
}

var confirmRE = regexp.MustCompile(`--confirm ([a-z0-9-]+)`)

// drive resumes with --confirm for every manual step until the run is done.
func (m *mmLab) drive(code int, evs []event, stderr string) (confirmed []string) {
	m.t.Helper()
	for round := 0; code == 3; round++ {
		if round > 30 {
			m.t.Fatal("too many manual steps")
		}
		step := ""
		for _, e := range evs {
			if e.Kind == "manual-wait" {
				step = e.Step
			}
		}
		if step == "" {
			if mm := confirmRE.FindStringSubmatch(stderr); mm != nil {
				step = mm[1]
			}
		}
		if step == "" {
			m.t.Fatalf("exit 3 without a manual step waiting:\n%s\n%v", stderr, evs)
		}
		confirmed = append(confirmed, step)
		code, evs, stderr = m.hawiz(nil, "resume", "--state", m.state, "--confirm", step, "--yes")
	}
	if code != 0 {
		m.t.Fatalf("exit %d:\n%s\nevents: %v", code, stderr, evs)
	}
	return confirmed
}

func (m *mmLab) read(i int, path string) string {
	b, err := os.ReadFile(m.hostPath(m.t, i, path))
	if err != nil {
		m.t.Fatal(err)
	}
	return string(b)
}

func (m *mmLab) wantPrefs(i int) string {
	return mmcentral.SamplePrefs + fmt.Sprintf(`<ClusterMemberName value="central%d"/>`, i+1) + "\n"
}

// serviceCalls counts start/stop/restart calls of mmcentral in host i's systemctl log.
func (m *mmLab) serviceCalls(i int) int {
	n := 0
	for _, l := range strings.Split(m.read(i, "/var/log/hawiz-lab/systemctl.log"), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[2] == "mmcentral" && (f[1] == "start" || f[1] == "stop" || f[1] == "restart") {
			n++
		}
	}
	return n
}

func (m *mmLab) checkRunning(i int) {
	m.t.Helper()
	c := m.rawClient(m.t, i, m.User)
	if out, _, code := rawRun(m.t, c, "systemctl is-active mmcentral", nil); code != 0 {
		m.t.Errorf("%s: mmcentral %s", m.Names[i], out)
	}
}

func TestMicetroHAFullRunNoOpSecondRun(t *testing.T) {
	m := setupMicetro(t, 3)
	a := m.haAnswers()
	t0 := time.Now()
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", a, "--yes", "--state", m.state)
	confirmed := m.drive(code, evs, stderr)
	t.Logf("full run on 3 lab hosts: %v wall (%d hawiz invocations, manual steps %v)", time.Since(t0), len(confirmed)+1, confirmed)
	for i := 0; i < 3; i++ {
		if got := m.read(i, mmPrefs); got != m.wantPrefs(i) {
			t.Errorf("%s: preferences.cfg\n%s", m.Names[i], got)
		}
		m.checkRunning(i)
	}
	if baks, _ := filepath.Glob(m.hostPath(t, 0, mmPrefs+".hawiz-*.bak")); len(baks) != 1 {
		t.Errorf("primary backups: %v", baks)
	}
	_, plan := runHawiz(t, "plan", "micetro-central-ha", "-a", a)
	operatorRefs(t, "https://docs.menandmice.com/", plan, m.state, evs, stderr)
	calls := []int{m.serviceCalls(0), m.serviceCalls(1), m.serviceCalls(2)}

	// Second run with the same state: every step is skipped by its Check,
	// once the operator confirmed that the members, already in HA, are
	// registered (members-already-in-ha records that and changes no host).
	t1 := time.Now()
	code, evs, stderr = m.hawiz(nil, "run", "micetro-central-ha", "-a", a, "--yes", "--state", m.state, "--confirm", "members-already-in-ha")
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, stderr)
	}
	for _, e := range evs {
		if (e.Kind == "apply" || e.Kind == "manual-wait") && e.Step != "members-already-in-ha" {
			t.Errorf("second run did %s of %s on %s", e.Kind, e.Step, e.Host)
		}
	}
	for i := 0; i < 3; i++ {
		if m.serviceCalls(i) != calls[i] {
			t.Errorf("%s: second run started or stopped mmcentral", m.Names[i])
		}
		if got := m.read(i, mmPrefs); got != m.wantPrefs(i) {
			t.Errorf("%s: second run changed preferences.cfg", m.Names[i])
		}
	}
	t.Logf("second run (no-op): %v", time.Since(t1))
}

func TestMicetroHAKilledMidRunResumes(t *testing.T) {
	m := setupMicetro(t, 3)
	a := m.haAnswers()
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", a, "--yes", "--state", m.state)
	// Confirm manual steps until the copy to central2 starts, then SIGKILL.
	killedAt := ""
	for round := 0; code == 3 && killedAt == "" && round < 10; round++ {
		step := ""
		for _, e := range evs {
			if e.Kind == "manual-wait" {
				step = e.Step
			}
		}
		code, evs, stderr = m.hawiz(func(e event) bool {
			if e.Kind == "apply" && e.Step == "copy-preferences-central2" {
				killedAt = e.Step
				return true
			}
			return false
		}, "resume", "--state", m.state, "--confirm", step, "--yes")
	}
	if killedAt == "" || code != -9 {
		t.Fatalf("not killed mid-run (exit %d):\n%s", code, stderr)
	}
	code, evs, stderr = m.hawiz(nil, "resume", "--state", m.state, "--yes")
	m.drive(code, evs, stderr)
	for i := 0; i < 3; i++ {
		if got := m.read(i, mmPrefs); got != m.wantPrefs(i) {
			t.Errorf("%s: after kill + resume preferences.cfg\n%s\nwant (as an uninterrupted run)\n%s", m.Names[i], got, m.wantPrefs(i))
		}
		m.checkRunning(i)
	}
}

func TestMicetroHASQLiteRefusedInPreflight(t *testing.T) {
	m := setupMicetro(t, 2)
	sqlite := "<Database value=\"SQLite\" />\n"
	if err := os.WriteFile(m.hostPath(t, 0, mmPrefs), []byte(sqlite), 0o644); err != nil {
		t.Fatal(err)
	}
	calls := m.serviceCalls(0)
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", m.haAnswers(), "--yes", "--state", m.state)
	all := stderr
	for _, e := range evs {
		all += e.Message + "\n"
	}
	if code != 1 || !strings.Contains(all, "MSSQL or PostgreSQL") {
		t.Fatalf("exit %d:\n%s", code, all)
	}
	if m.serviceCalls(0) != calls || m.read(0, mmPrefs) != sqlite {
		t.Fatal("the primary was touched")
	}
}

func TestMicetroHADuplicatePriorityRefusedBeforeConnecting(t *testing.T) {
	m := setupMicetro(t, 3)
	a := m.answers("dup.yaml", []int{10, 20, 20}, "dns:\n  name: central.lab.hawiz.test\n")
	logs := make([]string, 3)
	for i := range logs {
		b, _ := os.ReadFile(filepath.Join(m.hostDir(i), "sshd.log"))
		logs[i] = string(b)
	}
	code, _, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", a, "--yes", "--state", m.state)
	if code != 2 || !strings.Contains(stderr, "members[2].priority: 20 is already the priority of members[1]") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	for i := range logs {
		b, _ := os.ReadFile(filepath.Join(m.hostDir(i), "sshd.log"))
		if strings.Count(string(b), "Connection from") != strings.Count(logs[i], "Connection from") {
			t.Errorf("%s: hawiz connected", m.Names[i])
		}
	}
}

func TestMicetroUpgradeInterruptedAfterPrimaryResumes(t *testing.T) {
	m := setupMicetro(t, 3)
	pkg := filepath.Join(m.dir, mmcentral.InstallerName("10.3.6"))
	f, err := os.Create(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if err := mmcentral.WriteInstaller(f, "10.3.6"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	a := m.answers("upgrade.yaml", nil, fmt.Sprintf("installer:\n  local: %s\n  expected_version: 10.3.6\n", pkg))
	code, evs, stderr := m.hawiz(func(e event) bool {
		return e.Kind == "step-start" && e.Step == "upgrade-central2"
	}, "run", "micetro-central-upgrade", "-a", a, "--yes", "--state", m.state,
		"--confirm", "automatic-update-off", "--confirm", "confirm-active-member") // all three run Central: which is Active is the operator's word
	if code != -9 {
		t.Fatalf("not killed after the primary (exit %d):\n%s\n%v", code, stderr, evs)
	}
	installs := func(i int) int {
		b, _ := os.ReadFile(m.hostPath(t, i, "/usr/share/mmcentral-standin/install.log"))
		return strings.Count(string(b), "installed 10.3.6")
	}
	if installs(0) != 1 || installs(1) != 0 || installs(2) != 0 {
		t.Fatalf("installs after the kill: %d %d %d", installs(0), installs(1), installs(2))
	}
	code, evs, stderr = m.hawiz(nil, "resume", "--state", m.state, "--yes")
	for _, e := range evs {
		if e.Kind == "apply" && e.Step == "upgrade-primary" {
			t.Error("resume upgraded the primary again")
		}
	}
	m.drive(code, evs, stderr)
	for i := 0; i < 3; i++ {
		if installs(i) != 1 {
			t.Errorf("%s: %d installs", m.Names[i], installs(i))
		}
		if v := strings.TrimSpace(m.read(i, "/usr/share/mmcentral-standin/VERSION")); v != "10.3.6" {
			t.Errorf("%s: version %s", m.Names[i], v)
		}
		m.checkRunning(i)
	}
}

// TestMicetroHADNSByRFC2136: with tsig_key_file the round-robin records are
// created by a signed UPDATE to the lab's BIND primary (--yes confirms it)
// and checked on the primary and its secondary.
func TestMicetroHADNSByRFC2136(t *testing.T) {
	b := needBind(t)
	m := setupMicetro(t, 2)
	name := fmt.Sprintf("central-%d.%s", os.Getpid(), b.Zone)
	a := m.answers("rfc2136.yaml", []int{10, 20}, fmt.Sprintf("dns:\n  name: %s\n  servers: [%q, %q]\n  resolver: 127.0.0.1:1\n  tsig_key_file: %s\n",
		name, b.Primary, b.Secondary, b.KeyFile))
	expect, _ := dnscheck.ParseAddrs("", m.Addrs[:2])
	q := dnscheck.Query{Name: name, Expect: expect, Servers: []string{b.Primary, b.Secondary}, Resolver: "127.0.0.1:1"}
	t.Cleanup(func() { // leave the zone as it was
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if r, err := dnscheck.Verify(ctx, q); err == nil && len(r.Servers) > 0 && len(r.Servers[0].Got) > 0 {
			c := dnscheck.Change{Zone: b.Zone, Name: name, Remove: r.Servers[0].Got, Primary: b.Primary, Have: r.Servers[0].Got}
			dnscheck.Apply(ctx, b.Primary, c, b.Key, c.Have)
		}
	})
	if r, err := dnscheck.Verify(context.Background(), q); err != nil || r.OK {
		t.Fatalf("records before the run: %v %+v", err, r)
	}
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", a, "--yes", "--state", m.state)
	m.drive(code, evs, stderr)
	r, err := dnscheck.Verify(context.Background(), q)
	if err != nil || !r.OK {
		t.Fatalf("after the run: %v %v", err, r.Problems)
	}
}
