//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
)

// Issue 16 item 5 (Micetro) on the OpenSSH lab: a member added to a
// cluster that is already in High Availability. central1 and central2 were
// set up by an earlier run (its own state); a run with central3 added and a
// fresh state asks once to confirm the two are registered, leaves them
// untouched (the lab's systemctl log shows no start, stop or restart on
// them; their preferences.cfg is not rewritten) and sets up central3 only.
// A fresh run with the same three members then asks that one confirmation
// and changes nothing.

// prefsMark is a preferences.cfg's content and modification time (a write
// by hawiz renames a new file into place).
func (m *mmLab) prefsMark(i int) string {
	m.t.Helper()
	fi, err := os.Stat(m.hostPath(m.t, i, mmPrefs))
	if err != nil {
		m.t.Fatal(err)
	}
	return m.read(i, mmPrefs) + "@" + fi.ModTime().Format(time.RFC3339Nano)
}

// serviceLog is host i's lab systemctl calls of mmcentral that start, stop
// or restart it.
func (m *mmLab) serviceLog(i int) []string {
	var out []string
	for _, l := range strings.Split(m.read(i, "/var/log/hawiz-lab/systemctl.log"), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[2] == "mmcentral" && (f[1] == "start" || f[1] == "stop" || f[1] == "restart") {
			out = append(out, f[1])
		}
	}
	return out
}

func TestMicetroHAAddMemberLeavesMembersInHAUntouched(t *testing.T) {
	m := setupMicetro(t, 3)

	// The first run: a 2-member cluster, with a DNS name holding those two.
	zone := "$TTL 300\nlab.hawiz.test. IN SOA ns1.lab.hawiz.test. hostmaster.lab.hawiz.test. 2026112201 3600 600 86400 60\nlab.hawiz.test. IN NS ns1.lab.hawiz.test.\nns1 IN A 127.0.0.1\n" +
		"central 300 IN A " + m.Addrs[0] + "\ncentral 300 IN A " + m.Addrs[1] + "\n"
	dns2, err := dnstest.Start(dnstest.Config{Zones: map[string]string{"lab.hawiz.test": zone}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dns2.Close() })
	m.n = 2
	a2 := m.answers("ha2.yaml", []int{10, 20}, "dns:\n  name: central.lab.hawiz.test\n  servers: [\""+dns2.Addr()+"\"]\n  resolver: 127.0.0.1:1\n")
	m.state = filepath.Join(m.dir, "state2.json")
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", a2, "--yes", "--state", m.state)
	first := m.drive(code, evs, stderr)
	for i := 0; i < 2; i++ {
		if got := m.read(i, mmPrefs); got != m.wantPrefs(i) {
			t.Fatalf("%s after the 2-member run: %q", m.Names[i], got)
		}
	}
	t.Logf("2-member run: manual steps %v; systemctl on central1 %v, central2 %v", first, m.serviceLog(0), m.serviceLog(1))

	calls := [][]string{m.serviceLog(0), m.serviceLog(1), m.serviceLog(2)}
	marks := []string{m.prefsMark(0), m.prefsMark(1), m.prefsMark(2)}

	// central3 added, a fresh state: the run stops first at the one
	// confirmation, listing central1 and central2, with nothing changed.
	m.n = 3
	a3 := m.haAnswers()
	m.state = filepath.Join(m.dir, "state3.json")
	code, evs, stderr = m.hawiz(nil, "run", "micetro-central-ha", "-a", a3, "--yes", "--state", m.state)
	waiting, listed := "", ""
	for _, e := range evs {
		if e.Kind == "manual-wait" {
			waiting = e.Step
		}
		if e.Step == "members-already-in-ha" && strings.Contains(e.Evidence, "already in High Availability") {
			listed = e.Evidence
		}
		if e.Kind == "apply" {
			t.Errorf("applied %s on %s before the confirmation", e.Step, e.Host)
		}
	}
	if code != 3 || waiting != "members-already-in-ha" || !strings.Contains(stderr, "--confirm members-already-in-ha") {
		t.Fatalf("exit %d, waiting at %q:\n%s", code, waiting, mmAll(evs, stderr))
	}
	if !strings.Contains(listed, "central1 ("+m.Names[0]) || !strings.Contains(listed, "central2 ("+m.Names[1]) || strings.Contains(listed, "central3 (") {
		t.Errorf("recognised: %q", listed)
	}
	for i := 0; i < 3; i++ {
		if m.prefsMark(i) != marks[i] || len(m.serviceLog(i)) != len(calls[i]) {
			t.Fatalf("%s changed before the confirmation", m.Names[i])
		}
	}
	confirmed := m.drive(code, evs, stderr)
	if got, want := strings.Join(confirmed, " "), "members-already-in-ha register-central3 verify-central3-standby log-in-through-dns-name"; got != want {
		t.Errorf("confirmed %q, want %q", got, want)
	}
	for i := 0; i < 2; i++ {
		if got := m.serviceLog(i); len(got) != len(calls[i]) {
			t.Errorf("%s (already in HA): systemctl %v after the run, %v before", m.Names[i], got, calls[i])
		}
		if m.prefsMark(i) != marks[i] {
			t.Errorf("%s (already in HA): preferences.cfg rewritten", m.Names[i])
		}
		m.checkRunning(i)
	}
	if got := m.read(2, mmPrefs); got != m.wantPrefs(2) {
		t.Errorf("%s: preferences.cfg %q", m.Names[2], got)
	}
	if got := strings.Join(m.serviceLog(2)[len(calls[2]):], ","); got != "stop,start" {
		t.Errorf("%s: systemctl %s, want stop,start", m.Names[2], got)
	}
	m.checkRunning(2)

	// A fresh run with the same members: that one confirmation, no change.
	calls = [][]string{m.serviceLog(0), m.serviceLog(1), m.serviceLog(2)}
	marks = []string{m.prefsMark(0), m.prefsMark(1), m.prefsMark(2)}
	m.state = filepath.Join(m.dir, "state3b.json")
	code, evs, stderr = m.hawiz(nil, "run", "micetro-central-ha", "-a", a3, "--yes", "--state", m.state)
	confirmed = m.drive(code, evs, stderr)
	if got := strings.Join(confirmed, " "); got != "members-already-in-ha" {
		t.Errorf("the re-run asked %q", got)
	}
	for i := 0; i < 3; i++ {
		if len(m.serviceLog(i)) != len(calls[i]) || m.prefsMark(i) != marks[i] {
			t.Errorf("%s: the re-run changed something (systemctl %v)", m.Names[i], m.serviceLog(i)[len(calls[i]):])
		}
	}
}
