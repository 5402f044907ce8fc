//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/dnscheck"
	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/hawiz/hawiz/lab/standins/mmcentral"
	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
	"github.com/hawiz/hawiz/steps"
)

// Issue 19 item 2 on the OpenSSH lab: membership changes after an HA run.
// micetro-remove-member takes central3 out of a 3-member cluster (its
// Central stopped, its ClusterMemberName removed with a backup, its A
// record deleted by a TSIG-signed UPDATE and gone from both authoritative
// servers, the others untouched); micetro-change-active confirms Set
// Active and Edit Member and verifies the new Active member runs Central;
// opsmanager-remove-server takes server 3 out of the load balancer's pool
// (proven by tagged requests) and stops it.

const (
	mbTSIGName   = "hawiz-e2e-mb"
	mbTSIGSecret = "bWVtYmVyc2hpcC1lMmUtdHNpZy1zZWNyZXQtMzJieXQ=" // test-only
)

// mbDNS starts an in-process primary (TSIG updates allowed) and its
// secondary holding central.lab.hawiz.test with the given addresses, and
// writes the key file.
func mbDNS(t *testing.T, dir string, addrs []string) (p, s *dnstest.Server, keyFile string) {
	t.Helper()
	zone := "$TTL 300\nlab.hawiz.test. IN SOA ns1.lab.hawiz.test. hostmaster.lab.hawiz.test. 2026112201 3600 600 86400 60\nlab.hawiz.test. IN NS ns1.lab.hawiz.test.\nlab.hawiz.test. IN NS ns2.lab.hawiz.test.\nns1 IN A 127.0.0.1\nns2 IN A 127.0.0.1\n"
	for _, a := range addrs {
		zone += "central 300 IN A " + a + "\n"
	}
	p, err := dnstest.Start(dnstest.Config{Zones: map[string]string{"lab.hawiz.test": zone}, Keys: map[string]string{mbTSIGName: mbTSIGSecret}, AllowUpdate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	s, err = dnstest.StartSecondary(p, dnstest.Config{}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	keyFile = filepath.Join(dir, "central.key")
	if err := os.WriteFile(keyFile, []byte(fmt.Sprintf("key %q {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", mbTSIGName, mbTSIGSecret)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, s, keyFile
}

// held is what server addr answers for central.lab.hawiz.test.
func held(t *testing.T, addr string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	expect, _ := dnscheck.ParseAddrs("", []string{"192.0.2.1"}) // Verify needs one; only Got is read
	r, err := dnscheck.Verify(ctx, dnscheck.Query{Name: "central.lab.hawiz.test", Expect: expect, Servers: []string{addr}, Resolver: "127.0.0.1:1"})
	if err != nil || len(r.Servers) != 1 {
		t.Fatalf("asking %s: %v %+v", addr, err, r)
	}
	var out []string
	for _, a := range r.Servers[0].Got {
		out = append(out, a.String())
	}
	slices.Sort(out)
	return out
}

// centralActive reports whether mmcentral is active on host i.
func (m *mmLab) centralActive(i int) bool {
	_, _, code := rawRun(m.t, m.rawClient(m.t, i, m.User), "systemctl is-active mmcentral", nil)
	return code == 0
}

// mbSnapshot is every member's preferences.cfg (content and mtime) and its
// lab systemctl calls of mmcentral.
func (m *mmLab) mbSnapshot() (marks []string, calls [][]string) {
	for i := 0; i < m.n; i++ {
		marks = append(marks, m.prefsMark(i))
		calls = append(calls, m.serviceLog(i))
	}
	return marks, calls
}

func (m *mmLab) unchanged(what string, marks []string, calls [][]string, hosts ...int) {
	m.t.Helper()
	for _, i := range hosts {
		if m.prefsMark(i) != marks[i] {
			m.t.Errorf("%s: %s's preferences.cfg was rewritten", what, m.Names[i])
		}
		if got := m.serviceLog(i); len(got) != len(calls[i]) {
			m.t.Errorf("%s: %s's mmcentral was started or stopped: %v", what, m.Names[i], got[len(calls[i]):])
		}
	}
}

func TestMembershipMicetroRemoveMember(t *testing.T) {
	m := setupMicetro(t, 3)
	p, s, key := mbDNS(t, m.dir, m.Addrs[:3])
	dnsBlock := fmt.Sprintf("dns:\n  name: central.lab.hawiz.test\n  servers: [%q, %q]\n  resolver: 127.0.0.1:1\n  tsig_key_file: %s\n", p.Addr(), s.Addr(), key)
	ha := m.answers("ha.yaml", []int{10, 20, 30}, dnsBlock)
	m.state = filepath.Join(m.dir, "ha.json")
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", ha, "--yes", "--state", m.state)
	m.drive(code, evs, stderr)
	for i := 0; i < 3; i++ {
		if got := m.read(i, mmPrefs); got != m.wantPrefs(i) {
			t.Fatalf("%s after the HA run: %q", m.Names[i], got)
		}
	}
	baks0, _ := filepath.Glob(m.hostPath(t, 2, mmPrefs+".hawiz-*"))
	all := []string{m.Addrs[0], m.Addrs[1], m.Addrs[2]}
	slices.Sort(all)
	if got := held(t, p.Addr()); !slices.Equal(got, all) || p.Updates() != 0 {
		t.Fatalf("DNS after the HA run: %v, %d updates", got, p.Updates())
	}
	marks, calls := m.mbSnapshot()

	// Refusals: the primary and an unknown member, exit 2, nothing touched.
	for _, c := range []struct{ remove, want string }{
		{"central1", "the primary"},
		{"central9", "is not one of the members"},
	} {
		a := m.answers("rm-"+c.remove+".yaml", []int{10, 20, 30}, dnsBlock+"remove: "+c.remove+"\n")
		code, _, stderr := m.hawiz(nil, "run", "micetro-remove-member", "-a", a, "--yes", "--state", filepath.Join(m.dir, "refused-"+c.remove+".json"))
		if code != 2 || !strings.Contains(stderr, "remove") || !strings.Contains(stderr, c.want) {
			t.Errorf("remove %s: exit %d, want 2 naming remove (%q):\n%s", c.remove, code, c.want, stderr)
		}
		m.unchanged("refused "+c.remove, marks, calls, 0, 1, 2)
	}
	if p.Updates() != 0 {
		t.Errorf("a refused run sent %d DNS updates", p.Updates())
	}

	// The removal: the two UI steps confirmed, the rest by hawiz.
	rm := m.answers("rm.yaml", []int{10, 20, 30}, dnsBlock+"remove: central3\n")
	m.state = filepath.Join(m.dir, "rm.json")
	t0 := time.Now()
	code, evs, stderr = m.hawiz(nil, "run", "micetro-remove-member", "-a", rm, "--yes", "--state", m.state)
	confirmed := m.drive(code, evs, stderr)
	wall := time.Since(t0)
	if got := strings.Join(confirmed, " "); got != "confirm-member-not-active remove-member-in-ui" {
		t.Errorf("confirmed %q", got)
	}
	if got, want := m.read(2, mmPrefs), mmcentral.SamplePrefs; got != want {
		t.Errorf("%s: preferences.cfg\n%q\nwant\n%q", m.Names[2], got, want)
	}
	baks, _ := filepath.Glob(m.hostPath(t, 2, mmPrefs+".hawiz-*"))
	var kept []string
	for _, b := range baks {
		if !slices.Contains(baks0, b) {
			kept = append(kept, b)
		}
	}
	if len(kept) != 1 {
		t.Errorf("%s: new backups %v, want one", m.Names[2], kept)
	} else if b, _ := os.ReadFile(kept[0]); string(b) != m.wantPrefs(2) {
		t.Errorf("%s: the backup %s holds %q, not the file before the change", m.Names[2], kept[0], b)
	}
	if got := strings.Join(m.serviceLog(2)[len(calls[2]):], ","); got != "stop" {
		t.Errorf("%s: systemctl %q, want stop", m.Names[2], got)
	}
	if m.centralActive(2) {
		t.Errorf("%s: Central still runs", m.Names[2])
	}
	m.unchanged("the removal", marks, calls, 0, 1)
	m.checkRunning(0)
	m.checkRunning(1)
	rest := []string{m.Addrs[0], m.Addrs[1]}
	slices.Sort(rest)
	for _, srv := range []*dnstest.Server{p, s} {
		if got := held(t, srv.Addr()); !slices.Equal(got, rest) {
			t.Errorf("DNS %s after the removal: %v, want %v", srv.Addr(), got, rest)
		}
	}
	if p.Updates() != 1 {
		t.Errorf("%d DNS updates, want 1", p.Updates())
	}
	t.Logf("micetro-remove-member on the lab: %v wall, %d hawiz invocations", wall.Round(time.Millisecond), len(confirmed)+1)

	// A re-run with a fresh state: nothing asked, nothing applied, no change.
	marks, calls = m.mbSnapshot()
	code, evs, stderr = m.hawiz(nil, "run", "micetro-remove-member", "-a", rm, "--yes", "--state", filepath.Join(m.dir, "rm2.json"))
	if code != 0 {
		t.Fatalf("re-run: exit %d\n%s\n%s", code, stderr, evString(evs))
	}
	for _, e := range evs {
		if e.Kind == "apply" || e.Kind == "manual-wait" {
			t.Errorf("the re-run did %s of %s on %s", e.Kind, e.Step, e.Host)
		}
	}
	m.unchanged("the re-run", marks, calls, 0, 1, 2)
	if p.Updates() != 1 {
		t.Errorf("the re-run sent a DNS update (%d in all)", p.Updates())
	}
}

func TestMembershipMicetroChangeActive(t *testing.T) {
	m := setupMicetro(t, 3)
	ha := m.haAnswers()
	m.state = filepath.Join(m.dir, "ha.json")
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", ha, "--yes", "--state", m.state)
	m.drive(code, evs, stderr)
	marks, calls := m.mbSnapshot()
	dnsBlock := fmt.Sprintf("dns:\n  name: central.lab.hawiz.test\n  servers: [%q]\n  resolver: 127.0.0.1:1\n", m.dns.Addr())

	a := m.answers("ca.yaml", []int{10, 20, 30}, dnsBlock+"active: central2\npriorities:\n  - {member: central3, priority: 35}\n")
	m.state = filepath.Join(m.dir, "ca.json")
	code, evs, stderr = m.hawiz(nil, "run", "micetro-change-active", "-a", a, "--yes", "--state", m.state)
	var asked []string
	for _, e := range evs {
		if e.Kind == "apply" {
			t.Errorf("applied %s before the confirmation", e.Step)
		}
		if e.Kind == "manual-wait" {
			asked = append(asked, e.Step)
		}
	}
	if code != 3 || len(asked) != 1 || asked[0] != "set-active" {
		t.Fatalf("exit %d, waiting at %v:\n%s", code, asked, stderr)
	}
	// Resume with both confirmations at once, as an operator would after
	// doing both in the UI.
	code, evs, stderr = m.hawiz(nil, "resume", "--state", m.state, "--confirm", "set-active", "--confirm", "edit-priority-central3", "--yes")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stderr, evString(evs))
	}
	var setActive, prio string
	for _, e := range evs {
		switch {
		case e.Step == "set-active" && e.Evidence != "":
			setActive = e.Evidence
		case e.Step == "edit-priority-central3" && e.Evidence != "":
			prio = e.Evidence
		}
	}
	if !strings.Contains(setActive, "central2 runs Central") || !strings.Contains(setActive, "confirmed central2 Active") {
		t.Errorf("set-active evidence %q: the new Active member's Central is not verified", setActive)
	}
	if !strings.Contains(prio, "central3 with priority 35") {
		t.Errorf("edit-priority evidence %q", prio)
	}
	m.unchanged("micetro-change-active", marks, calls, 0, 1, 2)
	for i := 0; i < 3; i++ {
		m.checkRunning(i)
	}
	t.Logf("micetro-change-active: set-active %q", setActive)

	// A member whose Central is stopped cannot be made Active: refused in
	// preflight (exit 4, refused), nothing asked.
	c := m.rawClient(t, 2, m.User)
	if out, errOut, code := rawRun(t, c, "sudo systemctl stop mmcentral", nil); code != 0 {
		t.Fatalf("stop central3: %s %s", out, errOut)
	}
	marks, calls = m.mbSnapshot()
	a = m.answers("ca3.yaml", []int{10, 20, 30}, dnsBlock+"active: central3\n")
	code, evs, stderr = m.hawiz(nil, "run", "micetro-change-active", "-a", a, "--yes", "--state", filepath.Join(m.dir, "ca3.json"))
	if code != steps.ExitRefused || !strings.Contains(stderr, "central3 does not run Central") || count(evs, "manual-wait") != 0 {
		t.Errorf("a stopped member made Active: exit %d, %d manual waits:\n%s", code, count(evs, "manual-wait"), stderr)
	}
	m.unchanged("refused change-active", marks, calls, 0, 1, 2)
}

// mbLB is a load balancer stand-in whose pool the test changes, as an
// operator changes a real one's.
func mbLB(t *testing.T, backends []string) (*omstandin.LB, string) {
	t.Helper()
	lb := &omstandin.LB{Backends: backends}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: lb, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return lb, "http://" + ln.Addr().String()
}

// omMark is what tells that server i was not touched: its stand-in's PID,
// its conf-mms.properties' sha256 and its gen.key's.
func (o *omLab) omMark(i int) string {
	pid, _ := o.sh(i, "sudo cat /opt/mongodb/mms/tmp/mms0.pid")
	conf, _ := o.sh(i, "sudo sha256sum /opt/mongodb/mms/conf/conf-mms.properties | cut -d' ' -f1")
	return pid + " " + conf + " " + o.keySHA(i)
}

func TestMembershipOpsManagerRemoveServer(t *testing.T) {
	o := setupOM(t, 3, false)
	var backends []string
	for i := 0; i < 3; i++ {
		backends = append(backends, net.JoinHostPort(o.Addrs[i], "8080"))
	}
	lb, url := mbLB(t, backends)
	o.lbURL = url
	a := o.answers("ha.yaml", "  mode: first-server\n  backup_to: "+filepath.Join(o.dir, "gen.key.backup")+"\n", "")
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	if code != 0 {
		t.Fatalf("opsmanager-ha: exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	o.checkHA()
	marks := []string{o.omMark(0), o.omMark(1), o.omMark(2)}

	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\nservers:\n", o.User, o.Key, o.knownHostsCopy(t))
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    install: package\n", o.Names[i], o.Addrs[i], o.Port)
	}
	fmt.Fprintf(&b, "load_balancer:\n  url: %s\nstart_timeout: 60s\nremove: %s\n", o.lbURL, o.Names[2])
	rm := filepath.Join(o.dir, "rm.yaml")
	if err := os.WriteFile(rm, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(o.dir, "rm.json")
	t0 := time.Now()
	code, evs, stderr = o.hawiz(nil, "run", "opsmanager-remove-server", "-a", rm, "--yes", "--state", state)
	if code != 3 || !strings.Contains(stderr, "--confirm take-server-out-of-pool") || count(evs, "apply") != 0 {
		t.Fatalf("exit %d, %d applies; want a stop at take-server-out-of-pool:\n%s\n%s", code, count(evs, "apply"), stderr, evString(evs))
	}

	// Confirmed while the LB still sends to server 3: verification fails
	// and server 3 is not stopped.
	code, evs, stderr = o.hawiz(nil, "resume", "--state", state, "--confirm", "take-server-out-of-pool", "--yes")
	if code == 0 || code == 3 || !strings.Contains(stderr+evString(evs), "still sends requests to "+o.Names[2]) {
		t.Fatalf("confirmed while in the pool: exit %d, want a failed verification naming %s:\n%s\n%s", code, o.Names[2], stderr, evString(evs))
	}
	for i := 0; i < 3; i++ {
		if !o.running(i) || o.omMark(i) != marks[i] {
			t.Errorf("%s changed after a failed pool verification (running %v)", o.Names[i], o.running(i))
		}
	}

	// The operator takes it out of the pool; the resume proves it and stops it.
	lb.SetBackends(backends[:2])
	code, evs, stderr = o.hawiz(nil, "resume", "--state", state, "--confirm", "take-server-out-of-pool", "--yes")
	if code != 0 {
		t.Fatalf("resume after the pool change: exit %d\n%s\n%s", code, stderr, evString(evs))
	}
	var proof string
	for _, e := range evs {
		if e.Step == "take-server-out-of-pool" && strings.Contains(e.Evidence, "tagged requests") {
			proof = e.Evidence
		}
	}
	if !strings.Contains(proof, o.Names[2]+" 0") || !strings.Contains(proof, "none reached "+o.Names[2]) {
		t.Errorf("pool proof %q", proof)
	}
	if o.running(2) {
		t.Errorf("%s still runs", o.Names[2])
	}
	for i := 0; i < 2; i++ {
		if !o.running(i) || o.omMark(i) != marks[i] {
			t.Errorf("%s was touched (running %v; %s, was %s)", o.Names[i], o.running(i), o.omMark(i), marks[i])
		}
	}
	resp, err := http.Get(o.lbURL + "/monitor/health")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("LB health after the removal: %v %v", resp, err)
	}
	t.Logf("opsmanager-remove-server on the lab: %v wall (three invocations)", time.Since(t0).Round(time.Millisecond))

	// A re-run with a fresh state proves the pool again and changes nothing.
	code, evs, stderr = o.hawiz(nil, "run", "opsmanager-remove-server", "-a", rm, "--yes", "--state", filepath.Join(o.dir, "rm2.json"))
	if code != 0 || count(evs, "apply") != 0 || count(evs, "manual-wait") != 0 {
		t.Fatalf("re-run: exit %d, %d applies, %d manual waits\n%s\n%s", code, count(evs, "apply"), count(evs, "manual-wait"), stderr, evString(evs))
	}
	for i := 0; i < 2; i++ {
		if o.omMark(i) != marks[i] {
			t.Errorf("the re-run touched %s", o.Names[i])
		}
	}
	o.noSecrets(stderr, evString(evs))
}
