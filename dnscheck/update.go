package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DefaultTTL is the TTL of added records when the name has no RRset yet.
const DefaultTTL = 300

// Change is an RFC 2136 update of one name's address records.
type Change struct {
	Zone    string       `json:"zone"`
	Name    string       `json:"name"`
	Add     []netip.Addr `json:"add"`
	Remove  []netip.Addr `json:"remove"`
	TTL     uint32       `json:"ttl"`
	OldTTL  uint32       `json:"old_ttl,omitempty"` // set when the change rewrites the RRset for a new TTL
	Primary string       `json:"primary"`           // "ip:port" the UPDATE goes to
	Have    []netip.Addr `json:"have"`              // what the primary had when read: the prerequisite
}

// Empty reports whether there is nothing to add or remove.
func (c Change) Empty() bool { return len(c.Add) == 0 && len(c.Remove) == 0 }

// ErrRefused: the server refused the update (TSIG, policy, not the primary).
// ErrPrerequisite: the records changed since they were read; nothing was changed.
// Both are wrapped by *UpdateError; errors.Is works with either.
var (
	ErrRefused      = errors.New("DNS update refused")
	ErrPrerequisite = errors.New("the records changed since they were read")
)

// UpdateError is an UPDATE the server answered with an error.
type UpdateError struct {
	Server    string
	Rcode     int // dns.RcodeNotAuth, dns.RcodeRefused, dns.RcodeNXRrset, ...
	TSIGError int // from the answer's TSIG record; 0 when none
}

// Prerequisite reports whether the server refused because a prerequisite failed.
func (e *UpdateError) Prerequisite() bool {
	switch e.Rcode {
	case dns.RcodeNXRrset, dns.RcodeYXRrset, dns.RcodeNameError, dns.RcodeYXDomain:
		return true
	}
	return false
}

func (e *UpdateError) Is(target error) bool {
	return target == ErrRefused || (target == ErrPrerequisite && e.Prerequisite())
}

func (e *UpdateError) Error() string {
	rc := rcodeName(e.Rcode)
	if e.Prerequisite() {
		return fmt.Sprintf("update to %s: %s: the records changed since they were read; nothing was changed, run again", e.Server, rc)
	}
	msg := fmt.Sprintf("update refused by %s: %s", e.Server, rc)
	if e.TSIGError != 0 {
		msg += ", TSIG error " + rcodeName(e.TSIGError)
	}
	switch {
	case e.TSIGError == dns.RcodeBadSig:
		msg += " (the key's secret does not match the server's)"
	case e.TSIGError == dns.RcodeBadKey:
		msg += " (the server does not know this key name or algorithm)"
	case e.TSIGError == dns.RcodeBadTime:
		msg += " (the clocks of this machine and the server differ)"
	case e.Rcode == dns.RcodeRefused:
		msg += " (the server does not allow this key to update the zone, or it is not the zone's primary)"
	case e.Rcode == dns.RcodeNotAuth:
		msg += " (the server is not authoritative for the zone, or rejected the signature)"
	}
	return msg + "; nothing was changed"
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

// PlanChange computes the update that makes the primary's records equal
// expect, from the primary's answer in r. ttl 0 keeps the existing RRset's
// TTL, or DefaultTTL when there is none. A ttl other than the existing
// RRset's rewrites it: an RRset has one TTL, so every record is deleted and
// added again with ttl in the same update (OldTTL says so).
func PlanChange(r Report, expect []netip.Addr, ttl uint32) (Change, error) {
	if len(expect) == 0 {
		return Change{}, inputErrorf("expect", "at least one IP address is required")
	}
	var p *ServerReport
	for i := range r.Servers {
		if r.Servers[i].Primary {
			p = &r.Servers[i]
			break
		}
	}
	switch {
	case p == nil:
		return Change{}, fmt.Errorf("cannot tell the primary of %s (no SOA MNAME among the servers); name it with --server", strings.TrimSuffix(r.Name, "."))
	case !p.Answered:
		return Change{}, fmt.Errorf("the primary %s did not answer: %s", label(p), p.Error)
	case !p.AA:
		return Change{}, fmt.Errorf("the primary %s is not authoritative for %s (no AA bit)", label(p), strings.TrimSuffix(r.Name, "."))
	case len(p.CNAME) > 0:
		return Change{}, fmt.Errorf("%s is a CNAME to %s on the primary: hawiz does not replace a CNAME", strings.TrimSuffix(r.Name, "."), strings.TrimSuffix(p.CNAME[0], "."))
	}
	zone := p.Zone
	if zone == "" {
		zone = r.Zone
	}
	if zone == "" {
		return Change{}, fmt.Errorf("the primary %s gave no SOA for %s: cannot tell the zone", label(p), strings.TrimSuffix(r.Name, "."))
	}
	c := Change{Zone: zone, Name: dns.CanonicalName(r.Name), Primary: p.Address, Have: sortAddrs(append([]netip.Addr(nil), p.Got...))}
	c.Add, c.Remove = Compare(p.Got, expect)
	switch {
	case ttl > 0:
		c.TTL = ttl
	case len(p.Got) > 0:
		c.TTL = p.TTL
	default:
		c.TTL = DefaultTTL
	}
	if ttl > 0 && len(p.Got) > 0 && p.TTL != ttl {
		c.OldTTL = p.TTL
		c.Remove = sortAddrs(append([]netip.Addr(nil), p.Got...))
		c.Add = sortAddrs(append([]netip.Addr(nil), expect...))
	}
	return c, nil
}

// Script is the change in nsupdate syntax, prerequisites first: what Apply sends.
func (c Change) Script() []string {
	host, port, err := net.SplitHostPort(c.Primary)
	if err != nil {
		host, port = c.Primary, "53"
	}
	lines := []string{"server " + host + " " + port, "zone " + c.Zone}
	for _, t := range c.types(c.Have) {
		have := filter(c.Have, t)
		if len(have) == 0 {
			lines = append(lines, fmt.Sprintf("prereq nxrrset %s %s", c.Name, dns.TypeToString[t]))
			continue
		}
		for _, a := range have {
			lines = append(lines, fmt.Sprintf("prereq yxrrset %s %s %s", c.Name, dns.TypeToString[t], a))
		}
	}
	for _, a := range c.Remove {
		lines = append(lines, fmt.Sprintf("update delete %s %s %s", c.Name, typeOf(a), a))
	}
	for _, a := range c.Add {
		lines = append(lines, fmt.Sprintf("update add %s %d %s %s", c.Name, c.TTL, typeOf(a), a))
	}
	return append(lines, "send")
}

func typeOf(a netip.Addr) string {
	if a.Is4() {
		return "A"
	}
	return "AAAA"
}

// types are the RR types the change and prerequisite touch (A always).
func (c Change) types(prereq []netip.Addr) []uint16 {
	t := []uint16{dns.TypeA}
	for _, list := range [][]netip.Addr{c.Add, c.Remove, prereq} {
		for _, a := range list {
			if !a.Is4() {
				return append(t, dns.TypeAAAA)
			}
		}
	}
	return t
}

func filter(list []netip.Addr, t uint16) []netip.Addr {
	var out []netip.Addr
	for _, a := range list {
		if a.Is4() == (t == dns.TypeA) {
			out = append(out, a)
		}
	}
	return out
}

func addrRR(name string, a netip.Addr, ttl uint32) dns.RR {
	h := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: ttl}
	if a.Is4() {
		h.Rrtype = dns.TypeA
		return &dns.A{Hdr: h, A: a.AsSlice()}
	}
	h.Rrtype = dns.TypeAAAA
	return &dns.AAAA{Hdr: h, AAAA: a.AsSlice()}
}

// Apply sends c to primary ("host[:port]") as one RFC 2136 UPDATE signed
// with key, with the prerequisite that the name's address RRsets are
// exactly prereq (or absent, when prereq holds none of that type). A refusal
// is an *UpdateError (errors.Is ErrRefused; ErrPrerequisite when the
// records changed). Errors never contain the secret.
func Apply(ctx context.Context, primary string, c Change, key TSIGKey, prereq []netip.Addr) error {
	if err := key.Validate(); err != nil {
		return err
	}
	server, err := ParseServer("server", primary)
	if err != nil {
		return err
	}
	if c.Zone == "" || c.Name == "" {
		return inputErrorf("change", "zone and name are required")
	}
	if !dns.IsSubDomain(dns.CanonicalName(c.Zone), dns.CanonicalName(c.Name)) {
		return inputErrorf("change", "%s is not in zone %s", c.Name, c.Zone)
	}
	if c.Empty() {
		return nil
	}
	name, zone := dns.CanonicalName(c.Name), dns.CanonicalName(c.Zone)
	m := new(dns.Msg)
	m.SetUpdate(zone)
	for _, t := range c.types(prereq) {
		have := filter(sortAddrs(append([]netip.Addr(nil), prereq...)), t)
		if len(have) == 0 {
			m.RRsetNotUsed([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: t}}})
			continue
		}
		rrs := make([]dns.RR, len(have))
		for i, a := range have {
			rrs[i] = addrRR(name, a, 0)
		}
		m.Used(rrs)
	}
	if len(c.Remove) > 0 {
		rrs := make([]dns.RR, len(c.Remove))
		for i, a := range c.Remove {
			rrs[i] = addrRR(name, a, 0)
		}
		m.Remove(rrs)
	}
	if len(c.Add) > 0 {
		rrs := make([]dns.RR, len(c.Add))
		for i, a := range c.Add {
			rrs[i] = addrRR(name, a, c.TTL)
		}
		m.Insert(rrs)
	}
	keyName, alg := key.wire()
	m.SetTsig(keyName, alg, 300, time.Now().Unix())

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = withTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	cl := &dns.Client{Net: "tcp", Timeout: time.Hour, TsigSecret: map[string]string{keyName: key.Secret}}
	r, _, err := cl.ExchangeContext(ctx, m, server)
	if r == nil {
		if err == nil {
			err = errors.New("no answer")
		}
		return fmt.Errorf("update to %s: %w; the zone may or may not have changed: verify", server, describeNetError(ctx, err))
	}
	tsigErr := 0
	if t := r.IsTsig(); t != nil {
		tsigErr = int(t.Error)
	}
	if r.Rcode != dns.RcodeSuccess {
		return &UpdateError{Server: server, Rcode: r.Rcode, TSIGError: tsigErr}
	}
	if err != nil {
		return fmt.Errorf("update to %s answered NOERROR but the answer did not verify (%v): verify the zone", server, err)
	}
	return nil
}
