package dnstest

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

const zoneText = `$TTL 300
example.test. IN SOA ns1.example.test. h.example.test. 1 3600 600 86400 60
example.test. IN NS ns1.example.test.
ns1 IN A 127.0.0.2
www IN A 10.0.0.1
`

const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg=="

func ask(t *testing.T, addr, name string, qtype uint16, net string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: net, Timeout: time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func update(t *testing.T, addr string, build func(m *dns.Msg)) int {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate("example.test.")
	build(m)
	m.SetTsig("k.", dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", Timeout: time.Second, TsigSecret: map[string]string{"k.": secret}}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	return r.Rcode
}

func rr(s string) dns.RR {
	r, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return r
}

func TestQueryAnswers(t *testing.T) {
	s, err := Start(Config{Zones: map[string]string{"example.test": zoneText}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r := ask(t, s.Addr(), "www.example.test.", dns.TypeA, "udp"); !r.Authoritative || len(r.Answer) != 1 {
		t.Fatalf("A: %v", r)
	}
	if r := ask(t, s.Addr(), "nope.example.test.", dns.TypeA, "udp"); r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
		t.Fatalf("NXDOMAIN: %v", r)
	}
	if r := ask(t, s.Addr(), "www.example.test.", dns.TypeAAAA, "tcp"); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Fatalf("NODATA: %v", r)
	}
	if r := ask(t, s.Addr(), "example.test.", dns.TypeNS, "udp"); len(r.Answer) != 1 || len(r.Extra) != 1 {
		t.Fatalf("NS + glue: %v", r)
	}
	if r := ask(t, s.Addr(), "other.test.", dns.TypeA, "udp"); r.Rcode != dns.RcodeRefused {
		t.Fatalf("other zone: %v", r)
	}
	s.SetTruncate(true)
	if r := ask(t, s.Addr(), "www.example.test.", dns.TypeA, "udp"); !r.Truncated || len(r.Answer) != 0 {
		t.Fatalf("truncated: %v", r)
	}
	if r := ask(t, s.Addr(), "www.example.test.", dns.TypeA, "tcp"); r.Truncated || len(r.Answer) != 1 {
		t.Fatalf("tcp: %v", r)
	}
	s.SetAA(false)
	if r := ask(t, s.Addr(), "www.example.test.", dns.TypeA, "tcp"); r.Authoritative {
		t.Fatal("AA set")
	}
}

func TestUpdatePrerequisitesAndSecondary(t *testing.T) {
	p, err := Start(Config{Zones: map[string]string{"example.test": zoneText}, Keys: map[string]string{"k": secret}, AllowUpdate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sec, err := StartSecondary(p, Config{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer sec.Close()

	cases := []struct {
		name  string
		build func(m *dns.Msg)
		rcode int
	}{
		{"name in use fails", func(m *dns.Msg) { m.NameUsed([]dns.RR{rr("nope.example.test. A 1.2.3.4")}) }, dns.RcodeNameError},
		{"name not in use fails", func(m *dns.Msg) { m.NameNotUsed([]dns.RR{rr("www.example.test. A 1.2.3.4")}) }, dns.RcodeYXDomain},
		{"rrset exists fails", func(m *dns.Msg) { m.RRsetUsed([]dns.RR{rr("www.example.test. AAAA ::1")}) }, dns.RcodeNXRrset},
		{"rrset absent fails", func(m *dns.Msg) { m.RRsetNotUsed([]dns.RR{rr("www.example.test. A 1.2.3.4")}) }, dns.RcodeYXRrset},
		{"value-dependent fails", func(m *dns.Msg) { m.Used([]dns.RR{rr("www.example.test. A 10.0.0.9")}) }, dns.RcodeNXRrset},
		{"outside the zone", func(m *dns.Msg) { m.Insert([]dns.RR{rr("www.other.test. A 1.2.3.4")}) }, dns.RcodeNotZone},
		{"value-dependent holds, replace", func(m *dns.Msg) {
			m.Used([]dns.RR{rr("www.example.test. A 10.0.0.1")})
			m.Remove([]dns.RR{rr("www.example.test. A 10.0.0.1")})
			m.Insert([]dns.RR{rr("www.example.test. 60 A 10.0.0.2")})
		}, dns.RcodeSuccess},
	}
	for _, tc := range cases {
		if got := update(t, p.Addr(), tc.build); got != tc.rcode {
			t.Errorf("%s: rcode %s, want %s", tc.name, dns.RcodeToString[got], dns.RcodeToString[tc.rcode])
		}
	}
	if p.Updates() != 1 || p.Serial("example.test") != 2 {
		t.Fatalf("updates %d serial %d", p.Updates(), p.Serial("example.test"))
	}
	got := p.Records("www.example.test", dns.TypeA)
	if len(got) != 1 || got[0].(*dns.A).A.String() != "10.0.0.2" || got[0].Header().Ttl != 60 {
		t.Fatalf("records %v", got)
	}
	// The secondary is stale until synced, and refuses updates.
	if sec.Serial("example.test") != 1 {
		t.Fatal("secondary followed without sync")
	}
	if rc := update(t, sec.Addr(), func(m *dns.Msg) { m.Insert([]dns.RR{rr("x.example.test. A 1.1.1.1")}) }); rc != dns.RcodeRefused {
		t.Fatalf("update to secondary: %s", dns.RcodeToString[rc])
	}
	sec.Sync()
	if sec.Serial("example.test") != 2 {
		t.Fatal("sync did not copy")
	}
	sec.SetAutoSync(true)
	p.Replace("www.example.test", dns.TypeA)
	if sec.Serial("example.test") != 3 || len(sec.Records("www.example.test", dns.TypeA)) != 0 {
		t.Fatal("auto-sync did not follow")
	}
}

func TestDeadServerNeverAnswers(t *testing.T) {
	s, err := StartDead("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := new(dns.Msg)
	m.SetQuestion("www.example.test.", dns.TypeA)
	for _, n := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: n, Timeout: 100 * time.Millisecond}
		if _, _, err := c.Exchange(m, s.Addr()); err == nil {
			t.Fatalf("%s: a dead server answered", n)
		}
	}
}
