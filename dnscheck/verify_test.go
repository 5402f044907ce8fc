package dnscheck

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/miekg/dns"
)

const testZone = `$TTL 300
example.test. IN SOA ns1.example.test. hostmaster.example.test. 2026112201 3600 600 86400 60
example.test. IN NS ns1.example.test.
example.test. IN NS ns2.example.test.
ns1 IN A 127.0.0.2
ns2 IN A 127.0.0.3
www 300 IN A 10.0.0.11
www 300 IN A 10.0.0.12
alias IN CNAME www
`

const (
	keyName   = "hawiz-test"
	keySecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==" // test-only
)

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, x := range s {
		out[i] = netip.MustParseAddr(x)
	}
	return out
}

func start(t testing.TB, cfg dnstest.Config) *dnstest.Server {
	t.Helper()
	s, err := dnstest.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pair starts a primary (accepting TSIG updates) and a secondary.
func pair(t testing.TB, autoSync bool) (p, s *dnstest.Server) {
	t.Helper()
	p = start(t, dnstest.Config{Zones: map[string]string{"example.test": testZone}, Keys: map[string]string{keyName: keySecret}, AllowUpdate: true})
	s, err := dnstest.StartSecondary(p, dnstest.Config{}, autoSync)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return p, s
}

func verify(t testing.TB, q Query) Report {
	t.Helper()
	if q.Timeout == 0 {
		q.Timeout = time.Second
	}
	if q.Resolver == "" {
		q.Resolver = "127.0.0.1:1" // nothing listens: informational only
	}
	r, err := Verify(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func problems(r Report) string { return strings.Join(r.Problems, "\n") }

func TestVerifyConsistent(t *testing.T) {
	p, s := pair(t, true)
	r := verify(t, Query{Name: "www.example.test", Expect: addrs("10.0.0.12", "10.0.0.11"), Servers: []string{p.Addr(), s.Addr()}})
	if !r.OK {
		t.Fatalf("not OK: %s", problems(r))
	}
	if r.Zone != "example.test." || r.Primary != p.Addr() || len(r.Servers) != 2 {
		t.Fatalf("zone %q primary %q servers %d", r.Zone, r.Primary, len(r.Servers))
	}
	for _, sr := range r.Servers {
		if !sr.AA || sr.TTL != 300 || sr.Serial != 2026112201 || len(sr.Got) != 2 || len(sr.Missing)+len(sr.Extra) != 0 {
			t.Errorf("server %+v", sr)
		}
	}
	if !r.Servers[0].Primary || r.Servers[1].Primary {
		t.Error("the first --server is the primary")
	}
}

func TestVerifyStaleSecondary(t *testing.T) {
	p, s := pair(t, false)
	if err := p.Replace("www.example.test", dns.TypeA, "www.example.test. 300 IN A 10.0.0.11", "www.example.test. 300 IN A 10.0.0.12", "www.example.test. 300 IN A 10.0.0.13"); err != nil {
		t.Fatal(err)
	}
	r := verify(t, Query{Name: "www.example.test", Expect: addrs("10.0.0.11", "10.0.0.12", "10.0.0.13"), Servers: []string{p.Addr(), s.Addr()}})
	if r.OK || !r.Servers[0].OK || r.Servers[1].OK {
		t.Fatalf("want only the secondary failing: %s", problems(r))
	}
	want := s.Addr() + ": has 10.0.0.11, 10.0.0.12 only, missing 10.0.0.13; serial 2026112201, " + p.Addr() + " has 2026112202: the zone has not reached " + s.Addr()
	if problems(r) != want {
		t.Fatalf("problems:\n%s\nwant:\n%s", problems(r), want)
	}
	s.Sync()
	if r := verify(t, Query{Name: "www.example.test", Expect: addrs("10.0.0.11", "10.0.0.12", "10.0.0.13"), Servers: []string{p.Addr(), s.Addr()}}); !r.OK {
		t.Fatalf("after sync: %s", problems(r))
	}
}

func TestVerifyMissingAndExtra(t *testing.T) {
	p, s := pair(t, true)
	r := verify(t, Query{Name: "www.example.test", Expect: addrs("10.0.0.11", "10.0.0.14"), Servers: []string{p.Addr(), s.Addr()}})
	if r.OK {
		t.Fatal("OK with a wrong set")
	}
	for _, sr := range r.Servers {
		if sr.OK || !equal(sr.Missing, addrs("10.0.0.14")) || !equal(sr.Extra, addrs("10.0.0.12")) {
			t.Errorf("server %+v", sr)
		}
	}
	if !strings.Contains(problems(r), "has 10.0.0.11, 10.0.0.12, missing 10.0.0.14, extra 10.0.0.12") {
		t.Errorf("problems: %s", problems(r))
	}
	// A name with no records at all.
	r = verify(t, Query{Name: "nothing.example.test", Expect: addrs("10.0.0.1"), Servers: []string{p.Addr()}})
	if r.OK || r.Servers[0].Rcode != "NXDOMAIN" || !r.Servers[0].HasSerial || !strings.Contains(problems(r), "has no address records, missing 10.0.0.1") {
		t.Errorf("nxdomain: %+v %s", r.Servers[0], problems(r))
	}
}

func TestVerifyNoAA(t *testing.T) {
	p, s := pair(t, true)
	s.SetAA(false)
	r := verify(t, Query{Name: "www.example.test", Expect: addrs("10.0.0.11", "10.0.0.12"), Servers: []string{p.Addr(), s.Addr()}})
	if r.OK || r.Servers[1].AA || r.Servers[1].OK {
		t.Fatalf("no-AA server passed: %s", problems(r))
	}
	if !strings.Contains(problems(r), "without the AA bit: it is not authoritative for example.test") {
		t.Errorf("problems: %s", problems(r))
	}
}

func TestVerifyTruncationUsesTCP(t *testing.T) {
	p, _ := pair(t, true)
	p.SetTruncate(true)
	r := verify(t, Query{Name: "www.example.test", Expect: addrs("10.0.0.11", "10.0.0.12"), Servers: []string{p.Addr()}})
	if !r.OK || !r.Servers[0].TCP {
		t.Fatalf("truncated answer: OK=%v TCP=%v %s", r.OK, r.Servers[0].TCP, problems(r))
	}
}

func TestVerifyCNAME(t *testing.T) {
	p, _ := pair(t, true)
	r := verify(t, Query{Name: "alias.example.test", Expect: addrs("10.0.0.11", "10.0.0.12"), Servers: []string{p.Addr()}})
	if r.OK || !strings.Contains(problems(r), "alias.example.test is a CNAME to www.example.test") {
		t.Fatalf("CNAME: %s", problems(r))
	}
}

func TestVerifyDeadServerCostsOneTimeout(t *testing.T) {
	p, s := pair(t, true)
	dead, err := dnstest.StartDead("")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	deadResolver, _ := dnstest.StartDead("")
	defer deadResolver.Close()
	const timeout = 300 * time.Millisecond
	start := time.Now()
	r := verify(t, Query{Name: "www.example.test", Expect: addrs("10.0.0.11", "10.0.0.12", "2001:db8::1"), Servers: []string{p.Addr(), s.Addr(), dead.Addr()}, Resolver: deadResolver.Addr(), Timeout: timeout})
	took := time.Since(start)
	if took > timeout+250*time.Millisecond {
		t.Errorf("took %v with a dead server and a dead resolver; want about one timeout (%v)", took, timeout)
	}
	if r.OK || r.Servers[2].Answered {
		t.Fatal("a dead server passed")
	}
	want := dead.Addr() + ": no answer within 300ms (timeout)"
	if !strings.Contains(problems(r), want) {
		t.Errorf("problems:\n%s\nwant %q", problems(r), want)
	}
	if r.Resolver == nil || !strings.Contains(r.Resolver.Error, "timeout") {
		t.Errorf("resolver: %+v", r.Resolver)
	}
	if dead.Queries() < 3 {
		t.Errorf("the dead server saw %d queries; want A, AAAA and SOA at once", dead.Queries())
	}
}

// sameePortServers starts servers on 127.0.0.2 and 127.0.0.3 with one port,
// as discovered servers are asked on one port.
func samePortServers(t *testing.T, zone string) (ns1, ns2 *dnstest.Server, port int) {
	t.Helper()
	for range 20 {
		a, err := dnstest.Start(dnstest.Config{Addr: "127.0.0.2:0", Zones: map[string]string{"example.test": zone}})
		if err != nil {
			t.Skip("cannot bind 127.0.0.2:", err)
		}
		_, ps, _ := net.SplitHostPort(a.Addr())
		b, err := dnstest.StartSecondary(a, dnstest.Config{Addr: "127.0.0.3:" + ps}, false)
		if err != nil {
			a.Close()
			continue
		}
		t.Cleanup(func() { a.Close(); b.Close() })
		port = a.Port()
		return a, b, port
	}
	t.Fatal("no common port")
	return nil, nil, 0
}

func TestVerifyDiscovery(t *testing.T) {
	ns1, ns2, port := samePortServers(t, testZone)
	// The "resolver" holds the zone too, and answers for the NS names.
	res := start(t, dnstest.Config{Zones: map[string]string{"example.test": testZone}})

	r := verify(t, Query{Name: "www.example.test", Expect: addrs("10.0.0.11", "10.0.0.12"), Resolver: res.Addr(), Port: port})
	if !r.OK || r.Zone != "example.test." || len(r.Servers) != 2 {
		t.Fatalf("discovery: OK=%v zone=%q servers=%+v %s", r.OK, r.Zone, r.Servers, problems(r))
	}
	if r.Servers[0].Name != "ns1.example.test" || !r.Servers[0].Primary || r.Servers[1].Name != "ns2.example.test" || r.Servers[1].Primary {
		t.Errorf("servers: %+v", r.Servers)
	}
	if r.Resolver == nil || !r.Resolver.OK {
		t.Errorf("resolver: %+v", r.Resolver)
	}

	// The primary moves on, ns2 stays stale: the message, word for word.
	ns1.Replace("www.example.test", dns.TypeA, "www.example.test. 300 IN A 10.0.0.11", "www.example.test. 300 IN A 10.0.0.12")
	ns1.SetSerial("example.test", 2026112203)
	ns2.Replace("www.example.test", dns.TypeA, "www.example.test. 300 IN A 10.0.0.11")
	_ = ns2
	r = verify(t, Query{Name: "www.example.test", Expect: addrs("10.0.0.11", "10.0.0.12"), Resolver: res.Addr(), Port: port})
	want := "ns2.example.test (127.0.0.3:" + itoa(port) + "): has 10.0.0.11 only, missing 10.0.0.12; serial 2026112202, ns1 has 2026112203: the zone has not reached ns2"
	if problems(r) != want {
		t.Fatalf("problems:\n%s\nwant:\n%s", problems(r), want)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestVerifyResolverUnreachableIsInformational(t *testing.T) {
	p, _ := pair(t, true)
	r := verify(t, Query{Name: "www.example.test", Expect: addrs("10.0.0.11", "10.0.0.12"), Servers: []string{p.Addr()}, Resolver: "127.0.0.1:1", Timeout: 200 * time.Millisecond})
	if !r.OK || r.Resolver == nil || r.Resolver.Answered || r.Resolver.Error == "" {
		t.Fatalf("OK=%v resolver=%+v", r.OK, r.Resolver)
	}
}

func TestVerifyNoResolverNoServers(t *testing.T) {
	dead, _ := dnstest.StartDead("")
	defer dead.Close()
	start := time.Now()
	r := verify(t, Query{Name: "www.example.test", Expect: addrs("10.0.0.11"), Resolver: dead.Addr(), Timeout: 200 * time.Millisecond})
	if r.OK || !strings.Contains(problems(r), "cannot find the zone") {
		t.Fatalf("%s", problems(r))
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

func TestVerifyBadInput(t *testing.T) {
	for _, q := range []Query{
		{Name: "", Expect: addrs("10.0.0.1")},
		{Name: "10.0.0.1", Expect: addrs("10.0.0.1")},
		{Name: "bad name.example", Expect: addrs("10.0.0.1")},
		{Name: "www.example.test"},
		{Name: "www.example.test", Expect: addrs("10.0.0.1"), Servers: []string{"127.0.0.1:99999"}},
		{Name: "www.example.test", Expect: addrs("10.0.0.1"), Resolver: "a b"},
		{Name: "www.example.test", Expect: addrs("10.0.0.1"), Timeout: -1},
	} {
		_, err := Verify(context.Background(), q)
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Errorf("%+v: err %v, want an InputError", q, err)
		}
	}
	if _, err := ParseAddrs("expect", []string{"10.0.0.1,10.0.0.x"}); err == nil || !strings.Contains(err.Error(), `expect: "10.0.0.x" is not an IP address`) {
		t.Errorf("ParseAddrs: %v", err)
	}
	if _, err := ParseAddrs("expect", []string{""}); err == nil || !strings.HasPrefix(err.Error(), "expect:") {
		t.Errorf("ParseAddrs empty: %v", err)
	}
}

func TestWaitConsistentFollowsSecondary(t *testing.T) {
	p, s := pair(t, false)
	p.Replace("www.example.test", dns.TypeA, "www.example.test. 300 IN A 10.0.0.13")
	go func() {
		time.Sleep(300 * time.Millisecond)
		s.Sync()
	}()
	r, err := WaitConsistent(context.Background(), Query{Name: "www.example.test", Expect: addrs("10.0.0.13"), Servers: []string{p.Addr(), s.Addr()}, Resolver: "127.0.0.1:1", Timeout: 500 * time.Millisecond}, 5*time.Second)
	if err != nil || !r.OK {
		t.Fatalf("err %v: %s", err, problems(r))
	}
	// Bounded: a secondary that never syncs gives up after maxWait.
	p.Replace("www.example.test", dns.TypeA, "www.example.test. 300 IN A 10.0.0.14")
	start := time.Now()
	r, _ = WaitConsistent(context.Background(), Query{Name: "www.example.test", Expect: addrs("10.0.0.14"), Servers: []string{p.Addr(), s.Addr()}, Resolver: "127.0.0.1:1", Timeout: 200 * time.Millisecond}, 500*time.Millisecond)
	if r.OK || time.Since(start) > 1500*time.Millisecond {
		t.Fatalf("OK=%v after %v", r.OK, time.Since(start))
	}
}

func TestReportJSON(t *testing.T) {
	p, _ := pair(t, true)
	r := verify(t, Query{Name: "www.example.test", Expect: addrs("10.0.0.11"), Servers: []string{p.Addr()}})
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	srv := back["servers"].([]any)[0].(map[string]any)
	if srv["extra"].([]any)[0] != "10.0.0.12" || back["ok"] != false {
		t.Errorf("json: %s", b)
	}
}

func equal(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDiscoverIPv6OnlyServer: a name server with only IPv6 addresses is
// asked over IPv6 (it used to be reported as unresolvable); one with both
// is asked over IPv4 once.
func TestDiscoverIPv6OnlyServer(t *testing.T) {
	zone := `$TTL 300
example.test. IN SOA ns1.example.test. hostmaster.example.test. 2026112201 3600 600 86400 60
example.test. IN NS ns1.example.test.
example.test. IN NS ns6.example.test.
ns1 IN A 127.0.0.2
ns1 IN AAAA 2001:db8::1
ns6 IN AAAA 2001:db8::53
www IN A 10.0.0.11
`
	res := start(t, dnstest.Config{Zones: map[string]string{"example.test": zone}})
	zn, ts, problem := discover(context.Background(), Query{Name: "www.example.test.", Timeout: time.Second, Port: 5353}, res.Addr())
	if problem != "" || zn != "example.test." {
		t.Fatalf("zone %q problem %q", zn, problem)
	}
	var got []string
	for _, x := range ts {
		got = append(got, x.name+" "+x.addr+" "+x.err)
	}
	want := []string{"ns1.example.test 127.0.0.2:5353 ", "ns6.example.test [2001:db8::53]:5353 "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("targets\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
