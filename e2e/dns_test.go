//go:build e2e

package e2e

// hawiz dnscheck against real BIND 9 (lab/bind.sh): a primary accepting
// TSIG-signed updates, a secondary it NOTIFYs, and a secondary it never
// NOTIFYs (stale after any update).
//
//	sudo lab/bind.sh start && go test -tags e2e -run DNS ./e2e/ ; sudo lab/bind.sh stop
//
// Without the BIND lab these tests fail (they never skip): a green run must
// mean hawiz was checked against BIND.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/dnscheck"
	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/miekg/dns"
)

type bindLab struct {
	Zone, Name                string
	Addrs                     []netip.Addr
	Primary, Secondary, Stale string
	KeyFile, WrongKeyFile     string
	Key                       dnscheck.TSIGKey
}

func bindEnvFile() string {
	if f := os.Getenv("HAWIZ_BIND_ENV"); f != "" {
		return f
	}
	if d := os.Getenv("HAWIZ_BIND_DIR"); d != "" {
		return filepath.Join(d, "env")
	}
	lab := os.Getenv("HAWIZ_LAB_DIR")
	if lab == "" {
		lab = "/tmp/hawiz-lab"
	}
	return filepath.Join(lab, "bind", "env")
}

// needBind loads the BIND lab's env file and checks the primary answers; it
// fails (never skips) when the lab is not running.
func needBind(t *testing.T) *bindLab {
	t.Helper()
	f := bindEnvFile()
	fh, err := os.Open(f)
	if err != nil {
		t.Fatalf("the BIND lab is not running (%v): start it with `sudo lab/bind.sh start` (HAWIZ_LAB_DIR or HAWIZ_BIND_ENV select another one)", err)
	}
	defer fh.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	l := &bindLab{
		Zone: env["HAWIZ_BIND_ZONE"], Name: env["HAWIZ_BIND_NAME"],
		Primary: env["HAWIZ_BIND_PRIMARY"], Secondary: env["HAWIZ_BIND_SECONDARY"], Stale: env["HAWIZ_BIND_STALE"],
		KeyFile: env["HAWIZ_BIND_KEY_FILE"], WrongKeyFile: env["HAWIZ_BIND_WRONG_KEY_FILE"],
	}
	for _, v := range []string{l.Zone, l.Name, l.Primary, l.Secondary, l.Stale, l.KeyFile, l.WrongKeyFile} {
		if v == "" {
			t.Fatalf("%s lacks a HAWIZ_BIND_* entry: rerun lab/bind.sh start", f)
		}
	}
	if l.Addrs, err = dnscheck.ParseAddrs("HAWIZ_BIND_ADDRS", []string{env["HAWIZ_BIND_ADDRS"]}); err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	if l.Key, err = dnscheck.LoadTSIGFile(l.KeyFile); err != nil {
		t.Fatal(err)
	}
	c := &dns.Client{Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(l.Zone), dns.TypeSOA)
	if _, _, err := c.Exchange(m, l.Primary); err != nil {
		t.Fatalf("the BIND lab's primary %s does not answer (%v): is lab/bind.sh running?", l.Primary, err)
	}
	return l
}

// uniqueName is a fresh name per test run, so the tests can run again on one lab.
func (l *bindLab) uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d.%s", prefix, time.Now().UnixNano(), l.Zone)
}

func (l *bindLab) query(name string, expect []netip.Addr, servers ...string) dnscheck.Query {
	return dnscheck.Query{Name: name, Expect: expect, Servers: servers, Resolver: l.Primary, Timeout: time.Second}
}

func mustAddrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, x := range s {
		out[i] = netip.MustParseAddr(x)
	}
	return out
}

func verifyOK(t *testing.T, q dnscheck.Query) dnscheck.Report {
	t.Helper()
	r, err := dnscheck.Verify(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// applyExpect reads, plans and applies expect for name through the primary,
// then waits for primary and secondary to agree.
func (l *bindLab) applyExpect(t *testing.T, name string, expect []netip.Addr) dnscheck.Report {
	t.Helper()
	q := l.query(name, expect, l.Primary, l.Secondary)
	r := verifyOK(t, q)
	c, err := dnscheck.PlanChange(r, expect, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := dnscheck.Apply(context.Background(), c.Primary, c, l.Key, c.Have); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, err = dnscheck.WaitConsistent(context.Background(), q, 10*time.Second)
	if err != nil || !r.OK {
		t.Fatalf("after apply: %v %v", err, r.Problems)
	}
	t.Logf("primary and secondary agree %v after the update (serial %d)", time.Since(start).Round(time.Millisecond), r.Servers[0].Serial)
	return r
}

func primaryA(t *testing.T, l *bindLab, name string) (addrs []netip.Addr, serial uint32) {
	t.Helper()
	r := verifyOK(t, l.query(name, mustAddrs("192.0.2.1"), l.Primary))
	if !r.Servers[0].Answered {
		t.Fatalf("primary: %s", r.Servers[0].Error)
	}
	return r.Servers[0].Got, r.Servers[0].Serial
}

func TestDNSLabVerifyGoodState(t *testing.T) {
	l := needBind(t)
	r := verifyOK(t, l.query(l.Name, l.Addrs, l.Primary, l.Secondary))
	if !r.OK {
		t.Fatalf("lab state: %v", r.Problems)
	}
	if r.Zone != dns.Fqdn(l.Zone) || r.Primary != l.Primary || r.Servers[0].Serial != r.Servers[1].Serial || !r.Servers[1].AA {
		t.Errorf("report %+v", r)
	}
	if r.Resolver == nil || !r.Resolver.OK {
		t.Errorf("resolver: %+v", r.Resolver)
	}
}

func TestDNSLabApplyCreatesAndRepairs(t *testing.T) {
	l := needBind(t)
	name := l.uniqueName("rr")
	// Create: the name has no A RRset yet (prerequisite: nxrrset).
	r := l.applyExpect(t, name, mustAddrs("10.1.0.1", "10.1.0.2"))
	if r.Servers[0].TTL != dnscheck.DefaultTTL {
		t.Errorf("TTL %d", r.Servers[0].TTL)
	}
	// Repair: one missing, one extra, the TTL kept.
	l.applyExpect(t, name, mustAddrs("10.1.0.1", "10.1.0.3"))
	got, _ := primaryA(t, l, name)
	if fmt.Sprint(got) != "[10.1.0.1 10.1.0.3]" {
		t.Fatalf("primary has %v", got)
	}
	// A new TTL: BIND takes the rewrite of the whole RRset in one update,
	// and the secondary serves the new TTL once it has the new serial.
	expect := mustAddrs("10.1.0.1", "10.1.0.3")
	q := l.query(name, expect, l.Primary, l.Secondary)
	q.TTL = 60
	r = verifyOK(t, q)
	if r.OK {
		t.Fatalf("TTL %d passed a check for 60", r.Servers[0].TTL)
	}
	c, err := dnscheck.PlanChange(r, expect, 60)
	if err != nil || c.OldTTL != dnscheck.DefaultTTL {
		t.Fatalf("change %+v: %v", c, err)
	}
	if err := dnscheck.Apply(context.Background(), c.Primary, c, l.Key, c.Have); err != nil {
		t.Fatal(err)
	}
	r, err = dnscheck.WaitConsistent(context.Background(), q, 10*time.Second)
	if err != nil || !r.OK || r.Servers[0].TTL != 60 || r.Servers[1].TTL != 60 || fmt.Sprint(r.Servers[1].Got) != "[10.1.0.1 10.1.0.3]" {
		t.Fatalf("after the TTL change: %v %v %+v", err, r.Problems, r.Servers)
	}
}

func TestDNSLabWrongKeyRefusedZoneUnchanged(t *testing.T) {
	l := needBind(t)
	name := l.uniqueName("wrongkey")
	l.applyExpect(t, name, mustAddrs("10.2.0.1"))
	before, serial := primaryA(t, l, name)

	wrong, err := dnscheck.LoadTSIGFile(l.WrongKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	r := verifyOK(t, l.query(name, mustAddrs("10.2.0.9"), l.Primary))
	c, err := dnscheck.PlanChange(r, mustAddrs("10.2.0.9"), 0)
	if err != nil {
		t.Fatal(err)
	}
	err = dnscheck.Apply(context.Background(), c.Primary, c, wrong, c.Have)
	var ue *dnscheck.UpdateError
	if !errors.Is(err, dnscheck.ErrRefused) || !errors.As(err, &ue) {
		t.Fatalf("err %v, want a refusal", err)
	}
	t.Logf("wrong key: %v", err)
	if ue.Rcode != dns.RcodeNotAuth || ue.TSIGError != dns.RcodeBadSig || !strings.Contains(err.Error(), l.Primary) || !strings.Contains(err.Error(), "NOTAUTH, TSIG error BADSIG") {
		t.Errorf("rcode %d tsig %d: %v", ue.Rcode, ue.TSIGError, err)
	}
	if strings.Contains(err.Error(), wrong.Secret) || strings.Contains(err.Error(), l.Key.Secret) {
		t.Fatal("a secret is in the error")
	}
	after, serial2 := primaryA(t, l, name)
	if fmt.Sprint(before) != fmt.Sprint(after) || serial != serial2 {
		t.Fatalf("zone changed: %v serial %d -> %v serial %d", before, serial, after, serial2)
	}
}

func TestDNSLabUpdateToSecondaryRefused(t *testing.T) {
	l := needBind(t)
	c := dnscheck.Change{Zone: l.Zone, Name: l.uniqueName("tosecondary"), Add: mustAddrs("10.3.0.1"), TTL: 60}
	err := dnscheck.Apply(context.Background(), l.Secondary, c, l.Key, nil)
	var ue *dnscheck.UpdateError
	if !errors.As(err, &ue) || ue.Rcode != dns.RcodeRefused {
		t.Fatalf("err %v, want REFUSED", err)
	}
}

func TestDNSLabPrerequisiteProtectsConcurrentChange(t *testing.T) {
	l := needBind(t)
	name := l.uniqueName("prereq")
	l.applyExpect(t, name, mustAddrs("10.4.0.1"))
	r := verifyOK(t, l.query(name, mustAddrs("10.4.0.2"), l.Primary))
	stale, err := dnscheck.PlanChange(r, mustAddrs("10.4.0.2"), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Someone else changes the RRset after we read it.
	l.applyExpect(t, name, mustAddrs("10.4.0.1", "10.4.0.7"))
	_, serial := primaryA(t, l, name)
	err = dnscheck.Apply(context.Background(), stale.Primary, stale, l.Key, stale.Have)
	if !errors.Is(err, dnscheck.ErrPrerequisite) || !strings.Contains(err.Error(), "nothing was changed, run again") {
		t.Fatalf("err %v, want a prerequisite failure", err)
	}
	got, serial2 := primaryA(t, l, name)
	if fmt.Sprint(got) != "[10.4.0.1 10.4.0.7]" || serial2 != serial {
		t.Fatalf("zone changed: %v serial %d -> %d", got, serial, serial2)
	}
}

func TestDNSLabStaleSecondary(t *testing.T) {
	l := needBind(t)
	name := l.uniqueName("stale")
	l.applyExpect(t, name, mustAddrs("10.5.0.1", "10.5.0.2"))
	r := verifyOK(t, l.query(name, mustAddrs("10.5.0.1", "10.5.0.2"), l.Primary, l.Stale))
	if r.OK || r.Servers[1].OK || !r.Servers[0].OK {
		t.Fatalf("the stale secondary passed: %v", r.Problems)
	}
	p := strings.Join(r.Problems, "\n")
	want := fmt.Sprintf("%s: has no address records, missing 10.5.0.1, 10.5.0.2; serial %d, %s has %d: the zone has not reached %s",
		l.Stale, r.Servers[1].Serial, l.Primary, r.Servers[0].Serial, l.Stale)
	if p != want || r.Servers[1].Rcode != "NXDOMAIN" {
		t.Fatalf("problems:\n%s\nwant:\n%s", p, want)
	}
}

func TestDNSLabDeadServerCountsOnce(t *testing.T) {
	l := needBind(t)
	dead, err := dnstest.StartDead("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	q := l.query(l.Name, l.Addrs, l.Primary, l.Secondary, dead.Addr())
	q.Timeout = 500 * time.Millisecond
	start := time.Now()
	r := verifyOK(t, q)
	took := time.Since(start)
	t.Logf("verify with a dead server: %v (timeout %v)", took.Round(time.Millisecond), q.Timeout)
	if took > q.Timeout+200*time.Millisecond {
		t.Errorf("took %v: more than one timeout", took)
	}
	if r.OK || len(r.Problems) != 1 || r.Problems[0] != dead.Addr()+": no answer within 500ms (timeout)" {
		t.Fatalf("problems: %v", r.Problems)
	}
	if !r.Servers[0].OK || !r.Servers[1].OK {
		t.Errorf("live servers: %+v", r.Servers[:2])
	}
}

func TestDNSLabCLI(t *testing.T) {
	l := needBind(t)
	servers := []string{"--server", l.Primary, "--server", l.Secondary, "--resolver", l.Primary}
	expect := strings.Join([]string{l.Addrs[0].String(), l.Addrs[1].String()}, ",")
	if code, out := runHawiz(t, append([]string{"dns", "verify", l.Name, "--expect", expect}, servers...)...); code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	name := l.uniqueName("cli")
	args := append([]string{"dns", "apply", name, "--expect", "10.6.0.1,10.6.0.2"}, servers...)
	if code, out := runHawiz(t, append(args, "--tsig-file", l.KeyFile)...); code != 2 || !strings.Contains(out, "use --yes") {
		t.Fatalf("apply without --yes: exit %d\n%s", code, out)
	}
	code, out := runHawiz(t, append(args, "--tsig-file", l.WrongKeyFile, "--yes")...)
	if code != 4 || !strings.Contains(out, "BADSIG") {
		t.Fatalf("apply with a wrong key: exit %d\n%s", code, out)
	}
	if key, _ := os.ReadFile(l.WrongKeyFile); strings.Contains(out, strings.Split(string(key), "\"")[3]) {
		t.Fatal("the secret was printed")
	}
	if code, out := runHawiz(t, append(args, "--tsig-file", l.KeyFile, "--yes")...); code != 0 || !strings.Contains(out, "verified: 2 authoritative server(s) answer exactly 10.6.0.1, 10.6.0.2") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	if code, out := runHawiz(t, append([]string{"dns", "verify", name, "--expect", "10.6.0.1", "--json"}, servers...)...); code != 1 || !strings.Contains(out, `"extra"`) {
		t.Fatalf("verify --json with a wrong set: exit %d\n%s", code, out)
	}
}
