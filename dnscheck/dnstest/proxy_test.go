package dnstest

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestProxy: queries pass through on UDP and TCP; a Tamper rewrites the
// replies to signed updates (StripTSIG, Resign) and may drop them.
func TestProxy(t *testing.T) {
	s, err := Start(Config{Zones: map[string]string{"example.test": zoneText}, Keys: map[string]string{"k": secret}, AllowUpdate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := StartProxy("", s.Addr(), StripTSIG)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, n := range []string{"udp", "tcp"} {
		if r := ask(t, p.Addr(), "www.example.test.", dns.TypeA, n); !r.Authoritative || len(r.Answer) != 1 {
			t.Fatalf("%s through the proxy: %v", n, r)
		}
	}
	signed := func() (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetUpdate("example.test.")
		m.Insert([]dns.RR{rr("x.example.test. 60 A 10.0.0.9")})
		m.SetTsig("k.", dns.HmacSHA256, 300, time.Now().Unix())
		c := &dns.Client{Net: "tcp", Timeout: time.Second, TsigSecret: map[string]string{"k.": secret}}
		r, _, err := c.Exchange(m, p.Addr())
		return r, err
	}
	if r, err := signed(); err != nil || r.Rcode != dns.RcodeSuccess || r.IsTsig() != nil {
		t.Fatalf("StripTSIG: %v %v", r, err)
	}
	p.SetTamper(Resign("k", dns.HmacSHA256, secret, func(m *dns.Msg, ts *dns.TSIG) { m.Rcode = dns.RcodeRefused }))
	if r, err := signed(); err != nil || r.Rcode != dns.RcodeRefused || r.IsTsig() == nil {
		t.Fatalf("Resign: %v %v", r, err)
	}
	p.SetTamper(nil)
	if r, err := signed(); err != nil || r.Rcode != dns.RcodeSuccess || r.IsTsig() == nil {
		t.Fatalf("pass-through: %v %v", r, err)
	}
	p.SetTamper(func(*dns.Msg, []byte) []byte { return nil })
	if _, err := signed(); err == nil {
		t.Fatal("a dropped reply arrived")
	}
	if s.Queries() != 6 || s.Updates() != 1 {
		t.Fatalf("%d messages reached the server, %d changed the zone; want 6 and 1", s.Queries(), s.Updates())
	}
}
