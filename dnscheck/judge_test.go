package dnscheck

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/miekg/dns"
)

func packed(t testing.TB, m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seedMessages(t testing.TB) [][]byte {
	q := new(dns.Msg)
	q.SetQuestion("www.example.test.", dns.TypeA)
	ok := new(dns.Msg)
	ok.SetReply(q)
	ok.Authoritative = true
	for _, rr := range []string{"www.example.test. 300 IN A 10.0.0.11", "www.example.test. 60 IN A 10.0.0.12", "www.example.test. 300 IN A 10.0.0.12", "other.example.test. 300 IN A 10.0.0.99"} {
		r, _ := dns.NewRR(rr)
		ok.Answer = append(ok.Answer, r)
	}
	cname := new(dns.Msg)
	cname.SetReply(q)
	for _, rr := range []string{"www.example.test. 300 IN CNAME lb.example.test.", "lb.example.test. 300 IN CNAME www.example.test.", "lb.example.test. 30 IN A 10.0.0.1"} {
		r, _ := dns.NewRR(rr)
		cname.Answer = append(cname.Answer, r)
	}
	nx := new(dns.Msg)
	nx.SetRcode(q, dns.RcodeNameError)
	soa, _ := dns.NewRR("example.test. 60 IN SOA ns1.example.test. h.example.test. 2026112201 3600 600 86400 60")
	nx.Ns = append(nx.Ns, soa)
	tc := new(dns.Msg)
	tc.SetReply(q)
	tc.Truncated = true
	other := new(dns.Msg)
	other.SetQuestion("evil.example.", dns.TypeA)
	other.Response = true
	return [][]byte{packed(t, ok), packed(t, cname), packed(t, nx), packed(t, tc), packed(t, other), packed(t, q), {0, 1, 0x80}}
}

func TestJudge(t *testing.T) {
	seeds := seedMessages(t)
	m := new(dns.Msg)
	m.Unpack(seeds[0])
	j := Judge(m, "WWW.Example.Test", dns.TypeA)
	if !j.AA || j.TTL != 60 || !equal(j.Addrs, addrs("10.0.0.11", "10.0.0.12")) || j.Malformed != "" {
		t.Fatalf("%+v", j)
	}
	m.Unpack(seeds[1])
	j = Judge(m, "www.example.test.", dns.TypeA)
	if len(j.CNAME) != 1 || j.CNAME[0] != "lb.example.test." || !equal(j.Addrs, addrs("10.0.0.1")) {
		t.Fatalf("cname loop: %+v", j)
	}
	m.Unpack(seeds[2])
	if j = Judge(m, "www.example.test.", dns.TypeA); j.Rcode != dns.RcodeNameError || j.SOA == nil || j.SOA.Serial != 2026112201 {
		t.Fatalf("nxdomain: %+v", j)
	}
	m.Unpack(seeds[4])
	if j = Judge(m, "www.example.test.", dns.TypeA); j.Malformed == "" {
		t.Fatal("an answer to another question passed")
	}
	if j = Judge(nil, "x.", dns.TypeA); j.Malformed == "" {
		t.Fatal("nil message")
	}
}

// FuzzJudge: any bytes a server may send must never panic the judge, and the
// judgement must keep its invariants.
func FuzzJudge(f *testing.F) {
	for _, s := range seedMessages(f) {
		f.Add(s, "www.example.test.", true)
	}
	f.Fuzz(func(t *testing.T, b []byte, name string, v6 bool) {
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			return
		}
		qtype := dns.TypeA
		if v6 {
			qtype = dns.TypeAAAA
		}
		j := Judge(m, name, qtype)
		if !slices.IsSortedFunc(j.Addrs, netip.Addr.Compare) || len(slices.Compact(slices.Clone(j.Addrs))) != len(j.Addrs) {
			t.Fatalf("addrs not sorted and unique: %v", j.Addrs)
		}
		for _, a := range j.Addrs {
			if !a.IsValid() || a.Is4() != (qtype == dns.TypeA) {
				t.Fatalf("address %v for %s", a, dns.TypeToString[qtype])
			}
		}
		if len(j.Addrs) == 0 && j.TTL != 0 {
			t.Fatalf("TTL %d without records", j.TTL)
		}
		if len(j.CNAME) > len(m.Answer) {
			t.Fatalf("CNAME chain longer than the answer")
		}
		expect := addrs("10.0.0.11", "2001:db8::1")
		missing, extra := Compare(j.Addrs, expect)
		for _, a := range missing {
			if slices.Contains(j.Addrs, a) || !slices.Contains(expect, a) {
				t.Fatalf("missing %v is wrong", a)
			}
		}
		for _, a := range extra {
			if !slices.Contains(j.Addrs, a) || slices.Contains(expect, a) {
				t.Fatalf("extra %v is wrong", a)
			}
		}
		if len(j.Addrs)-len(extra) != len(expect)-len(missing) {
			t.Fatalf("got %v expect %v: missing %v extra %v do not add up", j.Addrs, expect, missing, extra)
		}
	})
}

// BenchmarkVerifyOneDead: 4 authoritative servers, one dead, 200 ms timeout.
// ns/op should be one timeout plus a little.
func BenchmarkVerifyOneDead(b *testing.B) {
	p, s := pair(b, true)
	s2, err := dnstest.StartSecondary(p, dnstest.Config{}, true)
	if err != nil {
		b.Fatal(err)
	}
	defer s2.Close()
	dead := start(b, dnstest.Config{Dead: true})
	res := start(b, dnstest.Config{Dead: true}) // an unreachable resolver too
	const timeout = 200 * time.Millisecond
	q := Query{Name: "www.example.test", Expect: addrs("10.0.0.11", "10.0.0.12"), Servers: []string{p.Addr(), s.Addr(), s2.Addr(), dead.Addr()}, Resolver: res.Addr(), Timeout: timeout}
	var worst time.Duration
	for b.Loop() {
		t0 := time.Now()
		r, _ := Verify(b.Context(), q)
		worst = max(worst, time.Since(t0))
		if r.OK || len(r.Problems) != 1 {
			b.Fatalf("%v", r.Problems)
		}
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
	b.ReportMetric(float64((worst-timeout).Microseconds())/1000, "worst-over-timeout-ms")
}

// TestWriteSeedCorpus rewrites the hand-made seeds under testdata/fuzz when
// HAWIZ_WRITE_CORPUS=1 (the fuzzer's own finds sit beside them).
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("HAWIZ_WRITE_CORPUS") != "1" {
		t.Skip("set HAWIZ_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	for i, b := range seedMessages(t) {
		text := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nstring(%q)\nbool(%v)\n", b, "www.example.test.", i%2 == 1)
		if err := os.WriteFile(filepath.Join("testdata", "fuzz", "FuzzJudge", fmt.Sprintf("seed-%d", i)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
