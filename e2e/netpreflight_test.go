//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Issue 19 item 3 on the lab: the network and host preflight runs from the
// hosts themselves, before the first change. The lab's hosts share the
// machine's loopback, so a listener on one of the lab's addresses is a
// server every host reaches, and port 1 of a lab address is one none does.

// hostSnapshot is what "nothing changed" is measured by on host i: the
// bytes and mtime of path, and the lab systemctl's log of the calls that
// change something (start, stop, restart, enable…).
type hostSnapshot struct{ data, mtime, syslog string }

var readOnlyVerb = map[string]bool{"status": true, "is-active": true, "is-enabled": true, "show": true, "cat": true, "list-units": true, "list-unit-files": true}

func snapshot(t *testing.T, l *Lab, i int, path string) hostSnapshot {
	t.Helper()
	var s hostSnapshot
	if b, err := os.ReadFile(l.hostPath(t, i, path)); err == nil {
		s.data = string(b)
	}
	if fi, err := os.Stat(l.hostPath(t, i, path)); err == nil {
		s.mtime = fi.ModTime().String()
	}
	b, _ := os.ReadFile(l.hostPath(t, i, "/var/log/hawiz-lab/systemctl.log"))
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && !readOnlyVerb[f[1]] {
			s.syslog += line + "\n" // a query (status) changes nothing
		}
	}
	return s
}

// listenOn opens a TCP listener on addr (a lab address), accepting and
// closing every connection, until the test ends.
func listenOn(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// closedPort is a port nothing listens on at addr: one a listener held and
// gave back.
func closedPort(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func allText(stderr string, evs []event) string {
	var b strings.Builder
	b.WriteString(stderr)
	for _, e := range evs {
		fmt.Fprintf(&b, "\n[%s %s %s] %s %s %s", e.Kind, e.Step, e.Host, e.Message, e.Evidence, strings.Join(e.Output, " "))
	}
	return b.String()
}

// (a) and (b): micetro-central-ha on three members, the third one's sshd
// forbidding TCP forwarding (lab HAWIZ_LAB_NOFORWARD): with database: at a
// closed port the run stops in preflight naming every member and the
// target, nothing changed on any host; the third member's probe is the
// on-host script (bash /dev/tcp), the others' sshd's own connection. With
// database: at a listener the preflight passes, and the lab's time service
// (none answers) is a warning, not a refusal.
func TestNetPreflightMicetroDatabase(t *testing.T) {
	m := setupMicetro(t, 3)
	k := noForwardHost(t, m.Lab, 3)
	dead := net.JoinHostPort(m.Addrs[0], "1")
	before := make([]hostSnapshot, 3)
	for i := range before {
		before[i] = snapshot(t, m.Lab, i, mmPrefs)
	}
	base := fmt.Sprintf("dns:\n  name: central.lab.hawiz.test\n  servers: [%q]\n  resolver: 127.0.0.1:1\n", m.dns.Addr())
	a := m.answers("dead.yaml", []int{10, 20, 30}, base+"database: "+dead+"\n")
	t0 := time.Now()
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", a, "--yes", "--state", m.state)
	took := time.Since(t0)
	out := allText(stderr, evs)
	if code != 1 {
		t.Fatalf("database at a closed port: exit %d, want 1:\n%s", code, out)
	}
	for i := 0; i < 3; i++ {
		if want := m.Names[i] + " cannot reach " + dead + " (the database server)"; !strings.Contains(out, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "no connection (bash /dev/tcp on "+m.Names[k]+")") {
		t.Errorf("%s (no forwarding): the probe was not the on-host script:\n%s", m.Names[k], out)
	}
	if !strings.Contains(out, "no connection (by sshd on "+m.Names[0]+")") {
		t.Errorf("%s: the probe was not sshd's own connection:\n%s", m.Names[0], out)
	}
	for i := range before {
		if after := snapshot(t, m.Lab, i, mmPrefs); after != before[i] {
			t.Errorf("%s: changed by a refused run (preferences.cfg or systemctl.log):\n%q\n%q", m.Names[i], before[i], after)
		}
	}
	tr, err := os.ReadFile(transcriptOf(m.state))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(tr), "can the host connect to "+m.Addrs[0]+" port 1 (TCP)") || !strings.Contains(string(tr), "hawiz-reach:fail bash /dev/tcp") {
		t.Errorf("the transcript lacks the on-host probe of %s", m.Names[k])
	}
	t.Logf("refused in preflight after %v (3 members, each probe of a closed port answered at once)", took.Round(time.Millisecond))

	live := listenOn(t, m.Addrs[2])
	os.Remove(m.state)
	a = m.answers("live.yaml", []int{10, 20, 30}, base+"database: "+live+"\n")
	code, evs, stderr = m.hawiz(nil, "run", "micetro-central-ha", "-a", a, "--yes", "--state", m.state)
	out = allText(stderr, evs)
	if code != 3 {
		t.Fatalf("database listening: exit %d, want 3 (the first manual step):\n%s", code, out)
	}
	for i := 0; i < 3; i++ {
		how := "by sshd on " + m.Names[i]
		if i == k {
			how = "bash /dev/tcp on " + m.Names[i]
		}
		if want := m.Names[i] + " → " + live + " (the database server): connected (" + how + ")"; !strings.Contains(out, want) {
			t.Errorf("the evidence lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "clock synchronisation unknown") {
		t.Errorf("the lab's time service (none answers) was not a warning:\n%s", out)
	}
	tr, _ = os.ReadFile(transcriptOf(m.state))
	if !strings.Contains(string(tr), "hawiz-reach:ok bash /dev/tcp") {
		t.Errorf("the transcript lacks the on-host probe's answer (bash /dev/tcp)")
	}
}

// (d) a member whose time service says the clock is not synchronised (a
// stand-in timedatectl early in its PATH, the lab's overlay keeps it on
// that host) stops the run in preflight naming it; nothing changed.
func TestNetPreflightMicetroTimeNotSynced(t *testing.T) {
	m := setupMicetro(t, 2)
	fake := m.hostPath(t, 1, "/usr/local/bin/timedatectl")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n[ \"$1\" = show ] && { echo no; exit 0; }\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(fake) })
	before := []hostSnapshot{snapshot(t, m.Lab, 0, mmPrefs), snapshot(t, m.Lab, 1, mmPrefs)}
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", m.haAnswers(), "--yes", "--state", m.state)
	out := allText(stderr, evs)
	if code != 1 || !strings.Contains(out, m.Names[1]+": the time service says the clock is not synchronised (timedatectl: NTPSynchronized=no)") {
		t.Fatalf("exit %d, want 1 naming %s's time service:\n%s", code, m.Names[1], out)
	}
	if strings.Contains(out, m.Names[0]+": the time service says") {
		t.Errorf("%s named too:\n%s", m.Names[0], out)
	}
	for i := range before {
		if after := snapshot(t, m.Lab, i, mmPrefs); after != before[i] {
			t.Errorf("%s: changed by a refused run", m.Names[i])
		}
	}
}

// (c) opsmanager-ha with one App DB member of appdb.uri at a closed port:
// refused in preflight naming it (and only it) from every server; no
// server started, conf-mms.properties unchanged.
func TestNetPreflightOpsManagerAppDBMember(t *testing.T) {
	o := setupOM(t, 2, false)
	m1, m2 := listenOn(t, o.Addrs[2]), listenOn(t, o.Addrs[2])
	dead := closedPort(t, o.Addrs[2])
	o.uri = "mongodb://" + m1 + "," + m2 + "," + dead + "/?replicaSet=appdb"
	a := o.answers("ha.yaml", "  mode: first-server\n", "")
	b, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	// live_check try: the reach check runs (off means "don't connect").
	if err := os.WriteFile(a, []byte(strings.Replace(string(b), "live_check: off", "live_check: try", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	const conf = "/opt/mongodb/mms/conf/conf-mms.properties"
	before := []hostSnapshot{snapshot(t, o.Lab, 0, conf), snapshot(t, o.Lab, 1, conf)}
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	out := allText(stderr, evs)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	_, port, _ := net.SplitHostPort(dead)
	for i := 0; i < 2; i++ {
		if want := o.Names[i] + " cannot reach " + dead + " (App DB member " + o.Addrs[2] + ":" + port + ")"; !strings.Contains(out, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, out)
		}
		for _, up := range []string{m1, m2} {
			if strings.Contains(out, "cannot reach "+up) {
				t.Errorf("a listening member %s named:\n%s", up, out)
			}
		}
		if o.running(i) {
			t.Errorf("%s: Ops Manager started", o.Names[i])
		}
		if after := snapshot(t, o.Lab, i, conf); after != before[i] {
			t.Errorf("%s: conf-mms.properties or systemctl.log changed", o.Names[i])
		}
	}
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
}

func transcriptOf(state string) string {
	return strings.TrimSuffix(state, ".json") + ".transcript.jsonl"
}
