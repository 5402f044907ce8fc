package dnscheck

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// target is one server to ask.
type target struct {
	name, addr string // addr "" when name could not be resolved
	err        string
	primary    bool
}

// Verify asks every authoritative server of q.Name's zone and the resolver.
// The error is only for bad input (an *InputError); everything the network
// says, including failures, is in the Report.
func Verify(ctx context.Context, q Query) (Report, error) {
	q, err := normalize(q)
	if err != nil {
		return Report{}, err
	}
	start := time.Now()
	rep := Report{Name: q.Name, Expect: q.Expect, TTL: q.TTL}

	resolver := q.Resolver
	var resolverErr error
	if resolver == "" {
		resolver, resolverErr = systemResolver()
	}

	var targets []target
	if len(q.Servers) > 0 {
		targets = explicitTargets(ctx, q, resolver)
	} else if resolverErr != nil {
		rep.Problems = append(rep.Problems, "cannot find the zone's servers: no resolver: "+resolverErr.Error()+" (use --resolver or --server)")
	} else {
		var problem string
		rep.Zone, targets, problem = discover(ctx, q, resolver)
		if problem != "" {
			rep.Problems = append(rep.Problems, problem)
		}
	}

	var wg sync.WaitGroup
	rep.Servers = make([]ServerReport, len(targets))
	for i, t := range targets {
		wg.Go(func() { rep.Servers[i] = askServer(ctx, q, t) })
	}
	if resolverErr == nil {
		wg.Go(func() { rep.Resolver = askResolver(ctx, q, resolver) })
	} else {
		rep.Resolver = &ServerReport{Name: "resolver", Error: resolverErr.Error()}
	}
	wg.Wait()

	judgeReport(&rep)
	rep.Duration = time.Since(start)
	return rep, nil
}

// explicitTargets resolves --server names (through the resolver) in parallel.
func explicitTargets(ctx context.Context, q Query, resolver string) []target {
	ts := make([]target, len(q.Servers))
	var wg sync.WaitGroup
	for i, s := range q.Servers {
		ts[i] = target{name: s, primary: i == 0}
		host, port, _ := net.SplitHostPort(s)
		if _, err := netip.ParseAddr(host); err == nil {
			ts[i].addr = s
			continue
		}
		ts[i].name = host
		wg.Go(func() {
			addrs, err := lookupA(ctx, resolver, dns.Fqdn(host), q.Timeout)
			if err != nil {
				ts[i].err = "cannot resolve " + host + ": " + err.Error()
				return
			}
			ts[i].addr = net.JoinHostPort(addrs[0].String(), port)
		})
	}
	wg.Wait()
	return ts
}

// lookupA asks the resolver for name's IPv4 addresses.
func lookupA(ctx context.Context, resolver, name string, timeout time.Duration) ([]netip.Addr, error) {
	return lookupAddrs(ctx, resolver, name, dns.TypeA, timeout)
}

// lookupAddrs asks the resolver for name's A or AAAA records.
func lookupAddrs(ctx context.Context, resolver, name string, qtype uint16, timeout time.Duration) ([]netip.Addr, error) {
	if resolver == "" {
		return nil, fmt.Errorf("no resolver")
	}
	cctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	r, _, err := exchange(cctx, resolver, name, qtype, true)
	if err != nil {
		return nil, fmt.Errorf("resolver %s: %w", resolver, err)
	}
	j := Judge(r, name, qtype)
	if len(j.Addrs) == 0 {
		return nil, fmt.Errorf("resolver %s: no address (%s)", resolver, dns.RcodeToString[j.Rcode])
	}
	return j.Addrs, nil
}

// nsAddrs gives a name server's addresses: its IPv4 ones (glue, else the
// resolver's), or, for a server with none (IPv6-only), its IPv6 ones. A
// server with both is asked over IPv4 only: once per server is the check,
// and IPv4 reaches it from machines without an IPv6 route.
func nsAddrs(ctx context.Context, resolver, name string, glue4, glue6 []netip.Addr, timeout time.Duration) ([]netip.Addr, error) {
	if len(glue4) > 0 {
		return glue4, nil
	}
	v4, err := lookupA(ctx, resolver, name, timeout)
	if err == nil {
		return v4, nil
	}
	if len(glue6) > 0 {
		return glue6, nil
	}
	if v6, err6 := lookupAddrs(ctx, resolver, name, dns.TypeAAAA, timeout); err6 == nil {
		return v6, nil
	}
	return nil, err
}

// findZone asks server for the SOA of name (the zone is the SOA's owner, in
// the answer or, for names below the apex, in the authority section), walking
// up the labels when an answer carries no SOA.
func findZone(ctx context.Context, server, name string, timeout time.Duration, recurse bool) (*dns.SOA, error) {
	labels := dns.SplitDomainName(name)
	for i := range labels {
		qname := dns.Fqdn(strings.Join(labels[i:], "."))
		cctx, cancel := withTimeout(ctx, timeout)
		r, _, err := exchange(cctx, server, qname, dns.TypeSOA, recurse)
		cancel()
		if err != nil {
			return nil, err
		}
		j := Judge(r, qname, dns.TypeSOA)
		if j.SOA != nil && j.Malformed == "" && dns.IsSubDomain(dns.CanonicalName(j.SOA.Hdr.Name), name) {
			return j.SOA, nil
		}
		if j.Rcode == dns.RcodeRefused || j.Rcode == dns.RcodeServerFailure {
			return nil, fmt.Errorf("answered %s for %s SOA", dns.RcodeToString[j.Rcode], qname)
		}
	}
	return nil, fmt.Errorf("no SOA found for %s or its parents", name)
}

// discover finds the zone, its NS names and their addresses through the resolver.
func discover(ctx context.Context, q Query, resolver string) (zone string, ts []target, problem string) {
	soa, err := findZone(ctx, resolver, q.Name, q.Timeout, true)
	if err != nil {
		return "", nil, fmt.Sprintf("cannot find the zone of %s: resolver %s: %v", q.Name, resolver, err)
	}
	zone = dns.CanonicalName(soa.Hdr.Name)
	mname := dns.CanonicalName(soa.Ns)

	cctx, cancel := withTimeout(ctx, q.Timeout)
	r, _, err := exchange(cctx, resolver, zone, dns.TypeNS, true)
	cancel()
	if err != nil {
		return zone, nil, fmt.Sprintf("cannot list the servers of %s: resolver %s: %v", zone, resolver, err)
	}
	var names []string
	for _, rr := range r.Answer {
		if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(dns.CanonicalName(ns.Hdr.Name), zone) {
			n := dns.CanonicalName(ns.Ns)
			if !contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return zone, nil, fmt.Sprintf("resolver %s lists no NS records for %s", resolver, zone)
	}
	if !contains(names, mname) && mname != "." {
		names = append(names, mname) // a hidden primary still serves the zone
	}
	glue, glue6 := map[string][]netip.Addr{}, map[string][]netip.Addr{}
	for _, rr := range r.Extra {
		switch a := rr.(type) {
		case *dns.A:
			if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
				n := dns.CanonicalName(a.Hdr.Name)
				glue[n] = append(glue[n], ip)
			}
		case *dns.AAAA:
			if ip, ok := netip.AddrFromSlice(a.AAAA.To16()); ok && !ip.Is4In6() {
				n := dns.CanonicalName(a.Hdr.Name)
				glue6[n] = append(glue6[n], ip)
			}
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	port := strconv.Itoa(q.Port)
	for _, n := range names {
		wg.Go(func() {
			addrs, lerr := nsAddrs(ctx, resolver, n, glue[n], glue6[n], q.Timeout)
			mu.Lock()
			defer mu.Unlock()
			if lerr != nil {
				ts = append(ts, target{name: strings.TrimSuffix(n, "."), err: "cannot resolve the server's name: " + lerr.Error(), primary: n == mname})
				return
			}
			for _, a := range sortAddrs(addrs) {
				ts = append(ts, target{name: strings.TrimSuffix(n, "."), addr: net.JoinHostPort(a.String(), port), primary: n == mname})
			}
		})
	}
	wg.Wait()
	// Stable order: by name, then address; one entry per address.
	sortTargets(ts)
	return zone, ts, ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortTargets(ts []target) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && (ts[j].name < ts[j-1].name || (ts[j].name == ts[j-1].name && ts[j].addr < ts[j-1].addr)); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
	out := ts[:0]
	seen := map[string]bool{}
	for _, t := range ts {
		if t.addr != "" && seen[t.addr] {
			continue
		}
		seen[t.addr] = true
		out = append(out, t)
	}
	copy(ts, out)
	clear(ts[len(out):])
}

// askServer asks one server for the name's A (and AAAA) records and the
// zone's SOA, all at once under one deadline.
func askServer(ctx context.Context, q Query, t target) ServerReport {
	sr := ServerReport{Name: t.name, Address: t.addr, Primary: t.primary, Got: []netip.Addr{}}
	if t.addr == "" {
		sr.Error = t.err
		return sr
	}
	ctx, cancel := withTimeout(ctx, q.Timeout)
	defer cancel()
	type result struct {
		r   *dns.Msg
		tcp bool
		err error
		rtt time.Duration
	}
	qtypes := []uint16{dns.TypeA, dns.TypeSOA}
	if wantV6(q.Expect) {
		qtypes = append(qtypes, dns.TypeAAAA)
	}
	res := make([]result, len(qtypes))
	var wg sync.WaitGroup
	start := time.Now()
	for i, qt := range qtypes {
		wg.Go(func() {
			r, tcp, err := exchange(ctx, t.addr, q.Name, qt, false)
			res[i] = result{r, tcp, err, time.Since(start)}
		})
	}
	wg.Wait()

	a := res[0]
	sr.Latency = a.rtt
	sr.LatencyMS = float64(a.rtt.Microseconds()) / 1000
	if a.err != nil {
		sr.Error = a.err.Error()
		return sr
	}
	sr.Answered = true
	ja := Judge(a.r, q.Name, dns.TypeA)
	sr.Rcode = dns.RcodeToString[ja.Rcode]
	sr.AA = ja.AA
	sr.TCP = a.tcp
	sr.CNAME = ja.CNAME
	sr.Got = append(sr.Got, ja.Addrs...)
	sr.TTL = ja.TTL
	if ja.Malformed != "" {
		sr.Error = ja.Malformed
	}
	if len(res) > 2 {
		if r6 := res[2]; r6.err == nil {
			j6 := Judge(r6.r, q.Name, dns.TypeAAAA)
			sr.Got = append(sr.Got, j6.Addrs...)
			sr.TCP = sr.TCP || r6.tcp
			sr.AA = sr.AA && j6.AA
			if len(j6.Addrs) > 0 && (len(ja.Addrs) == 0 || j6.TTL < sr.TTL) {
				sr.TTL = j6.TTL
			}
		} else if sr.Error == "" {
			sr.Error = "AAAA: " + r6.err.Error()
		}
	}
	sr.Got = sortAddrs(sr.Got)
	sr.Missing, sr.Extra = Compare(sr.Got, q.Expect)
	if s := res[1]; s.err == nil {
		if js := Judge(s.r, q.Name, dns.TypeSOA); js.SOA != nil {
			sr.Serial, sr.HasSerial = js.SOA.Serial, true
			sr.Zone = dns.CanonicalName(js.SOA.Hdr.Name)
		}
	}
	return sr
}

// askResolver asks the resolver what clients see (recursion desired).
func askResolver(ctx context.Context, q Query, resolver string) *ServerReport {
	sr := &ServerReport{Name: "resolver", Address: resolver, Got: []netip.Addr{}}
	ctx, cancel := withTimeout(ctx, q.Timeout)
	defer cancel()
	start := time.Now()
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		if qt == dns.TypeAAAA && !wantV6(q.Expect) {
			continue
		}
		r, tcp, err := exchange(ctx, resolver, q.Name, qt, true)
		if err != nil {
			sr.Error = err.Error()
			break
		}
		j := Judge(r, q.Name, qt)
		sr.Answered = true
		sr.Rcode = dns.RcodeToString[j.Rcode]
		sr.AA = j.AA
		sr.TCP = sr.TCP || tcp
		sr.CNAME = j.CNAME
		sr.Got = append(sr.Got, j.Addrs...)
		sr.TTL = j.TTL
	}
	sr.Latency = time.Since(start)
	sr.LatencyMS = float64(sr.Latency.Microseconds()) / 1000
	sr.Got = sortAddrs(sr.Got)
	sr.Missing, sr.Extra = Compare(sr.Got, q.Expect)
	sr.OK = sr.Answered && len(sr.Missing) == 0 && len(sr.Extra) == 0
	return sr
}

// judgeReport decides OK per server and overall and writes the problems.
func judgeReport(rep *Report) {
	// Zone and newest serial among the servers that answered.
	var newest *ServerReport
	for i := range rep.Servers {
		s := &rep.Servers[i]
		if rep.Zone == "" && s.Zone != "" {
			rep.Zone = s.Zone
		}
		if s.Primary && s.Address != "" {
			rep.Primary = s.Address
		}
		if s.HasSerial && s.AA && (newest == nil || serialNewer(s.Serial, newest.Serial)) {
			newest = s
		}
	}
	if len(rep.Servers) == 0 && len(rep.Problems) == 0 {
		rep.Problems = append(rep.Problems, "no authoritative server to ask")
	}
	for i := range rep.Servers {
		s := &rep.Servers[i]
		var p []string
		switch {
		case s.Address == "" || !s.Answered:
			p = append(p, s.Error)
		default:
			if s.Error != "" {
				p = append(p, s.Error)
			}
			if s.Rcode != "NOERROR" && s.Rcode != "NXDOMAIN" {
				p = append(p, "answered "+s.Rcode)
			} else if !s.AA {
				z := rep.Zone
				if z == "" {
					z = "the zone"
				}
				p = append(p, "answered without the AA bit: it is not authoritative for "+strings.TrimSuffix(z, "."))
			}
			if len(s.CNAME) > 0 {
				p = append(p, strings.TrimSuffix(rep.Name, ".")+" is a CNAME to "+strings.TrimSuffix(s.CNAME[0], "."))
			}
			if len(s.Missing) > 0 || len(s.Extra) > 0 {
				p = append(p, describeDiff(s))
			}
			if rep.TTL > 0 && len(s.Got) > 0 && s.TTL != rep.TTL {
				p = append(p, fmt.Sprintf("TTL %d, not %d", s.TTL, rep.TTL))
			}
			if s.Zone != "" && rep.Zone != "" && s.Zone != rep.Zone {
				p = append(p, fmt.Sprintf("serves zone %s, not %s", strings.TrimSuffix(s.Zone, "."), strings.TrimSuffix(rep.Zone, ".")))
			}
			switch {
			case !s.HasSerial:
				p = append(p, "no SOA serial in its answer")
			case newest != nil && newest != s && s.Serial != newest.Serial:
				if serialNewer(newest.Serial, s.Serial) {
					p = append(p, fmt.Sprintf("serial %d, %s has %d: the zone has not reached %s",
						s.Serial, short(newest), newest.Serial, short(s)))
				}
			}
		}
		s.OK = len(p) == 0
		if !s.OK {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %s", label(s), strings.Join(p, "; ")))
		}
	}
	rep.OK = len(rep.Problems) == 0
	for _, s := range rep.Servers {
		rep.OK = rep.OK && s.OK
	}
}

// describeDiff says "has A only, missing B" / "has A, B; extra C".
func describeDiff(s *ServerReport) string {
	var b strings.Builder
	switch {
	case len(s.Got) == 0:
		b.WriteString("has no address records")
	case len(s.Extra) == 0:
		b.WriteString("has " + joinAddrs(s.Got) + " only")
	default:
		b.WriteString("has " + joinAddrs(s.Got))
	}
	if len(s.Missing) > 0 {
		b.WriteString(", missing " + joinAddrs(s.Missing))
	}
	if len(s.Extra) > 0 {
		b.WriteString(", extra " + joinAddrs(s.Extra))
	}
	return b.String()
}

func joinAddrs(a []netip.Addr) string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = x.String()
	}
	return strings.Join(s, ", ")
}

// label is "ns2.example.com (192.0.2.2)" or the address alone.
func label(s *ServerReport) string {
	host, port, _ := net.SplitHostPort(s.Address)
	addr := s.Address
	if port == "53" {
		addr = host
	}
	switch {
	case s.Address == "":
		return s.Name
	case s.Name == "" || s.Name == s.Address:
		return s.Address
	}
	return s.Name + " (" + addr + ")"
}

// short is the server's first label ("ns1") or its address.
func short(s *ServerReport) string {
	if s.Name == "" || s.Name == s.Address {
		return s.Address
	}
	if _, err := netip.ParseAddr(s.Name); err == nil {
		return s.Address
	}
	if i := strings.IndexByte(s.Name, '.'); i > 0 {
		return s.Name[:i]
	}
	return s.Name
}

// WaitConsistent verifies q until it passes or maxWait has passed, polling
// every 150 ms, and returns the last report. The error is only for bad input
// or a cancelled ctx.
func WaitConsistent(ctx context.Context, q Query, maxWait time.Duration) (Report, error) {
	deadline := time.Now().Add(maxWait)
	for {
		rep, err := Verify(ctx, q)
		if err != nil || rep.OK || !time.Now().Add(150*time.Millisecond).Before(deadline) {
			return rep, err
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(150 * time.Millisecond):
		}
	}
}
