package dnscheck

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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

// ErrRefused: the update does not count as done: the server refused it
// (TSIG, policy, not the primary), or its reply is not authenticated
// (ErrUnverified as well). ErrPrerequisite: the records changed since they
// were read; nothing was changed. ErrUnverified: the reply is not an
// authenticated answer to the update (RFC 8945 5.3), whatever it says; the
// zone may or may not have changed. All are wrapped by *UpdateError;
// errors.Is works with each.
var (
	ErrRefused      = errors.New("DNS update refused")
	ErrPrerequisite = errors.New("the records changed since they were read")
	ErrUnverified   = errors.New("the DNS server's reply is not authenticated")
)

// UpdateError is an UPDATE that does not count as done: the server
// answered with an error, or its reply is not authenticated.
type UpdateError struct {
	Server    string
	Rcode     int // dns.RcodeNotAuth, dns.RcodeRefused, dns.RcodeNXRrset, ...; -1 when the reply does not parse
	TSIGError int // from the answer's TSIG record; 0 when none
	// Unverified says why the reply is not an authenticated answer to the
	// update (unsigned, signed with another key, a MAC that does not
	// verify, a TSIG error in a NOERROR, a time beyond the fudge, another
	// ID, opcode or zone): what it says, success or error, does not count.
	// Empty for an authenticated reply, and for the unsigned BADKEY or
	// BADSIG error RFC 8945 5.3.2 prescribes.
	Unverified string
}

// Prerequisite reports whether the server refused, in an authenticated
// reply, because a prerequisite failed.
func (e *UpdateError) Prerequisite() bool {
	if e.Unverified != "" {
		return false
	}
	switch e.Rcode {
	case dns.RcodeNXRrset, dns.RcodeYXRrset, dns.RcodeNameError, dns.RcodeYXDomain:
		return true
	}
	return false
}

func (e *UpdateError) Is(target error) bool {
	return target == ErrRefused || (target == ErrPrerequisite && e.Prerequisite()) || (target == ErrUnverified && e.Unverified != "")
}

func (e *UpdateError) Error() string {
	rc := rcodeName(e.Rcode)
	if e.Unverified != "" {
		const tail = "; the zone may or may not have changed: verify"
		switch {
		case e.Rcode < 0:
			return fmt.Sprintf("update to %s: the reply does not count: %s%s", e.Server, e.Unverified, tail)
		case e.Rcode == dns.RcodeSuccess:
			return fmt.Sprintf("update to %s: the reply says NOERROR but is not authenticated, so hawiz does not count it as done: %s%s", e.Server, e.Unverified, tail)
		}
		msg := fmt.Sprintf("update to %s: the reply says %s", e.Server, rc)
		if e.TSIGError != 0 {
			msg += ", TSIG error " + rcodeName(e.TSIGError)
		}
		return msg + " but is not authenticated: " + e.Unverified + tail
	}
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
// records changed). Only a reply authenticated with key counts as done
// (RFC 8945 5.3): any other one is an *UpdateError that is ErrUnverified
// too. Errors never contain the secret.
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
	signer, err := newOneKey(key)
	if err != nil {
		return err
	}
	m.SetTsig(signer.name, signer.alg, maxFudge, time.Now().Unix())
	wire, reqMAC, err := signer.sign(m)
	if err != nil {
		return fmt.Errorf("update to %s: cannot sign it: %w; nothing was sent", server, err)
	}

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = withTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	raw, err := exchangeTCP(ctx, server, wire)
	if err != nil {
		return fmt.Errorf("update to %s: %w; the zone may or may not have changed: verify", server, describeNetError(ctx, err))
	}
	return judgeReply(server, m, raw, signer, reqMAC, time.Now())
}

// judgeReply turns the primary's reply raw to the signed update req into
// Apply's result. Only an authenticated NOERROR with TSIG error 0 counts as
// done (RFC 8945 5.3); an authenticated refusal, or the unsigned BADKEY or
// BADSIG error RFC 8945 5.3.2 prescribes, is an *UpdateError; any other
// reply is an *UpdateError whose Unverified says why it does not count.
func judgeReply(server string, req *dns.Msg, raw []byte, k oneKey, reqMAC string, now time.Time) error {
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		return &UpdateError{Server: server, Rcode: -1, Unverified: "it does not parse: " + err.Error()}
	}
	tsigErr := 0
	if t := r.IsTsig(); t != nil {
		tsigErr = int(t.Error)
	}
	why := checkReply(req, r, raw, k, reqMAC, now)
	switch {
	case why == "" && r.Rcode == dns.RcodeSuccess && tsigErr == 0:
		return nil
	case why == "" && r.Rcode == dns.RcodeSuccess:
		return &UpdateError{Server: server, Rcode: r.Rcode, TSIGError: tsigErr, Unverified: "its TSIG error is " + rcodeName(tsigErr)}
	case why == "", keyErrorReply(req, r, k):
		return &UpdateError{Server: server, Rcode: r.Rcode, TSIGError: tsigErr}
	}
	return &UpdateError{Server: server, Rcode: r.Rcode, TSIGError: tsigErr, Unverified: why}
}

// exchangeTCP sends the packed message wire to server over TCP and returns
// the first message it answers, within ctx.
func exchangeTCP(ctx context.Context, server string, wire []byte) ([]byte, error) {
	c := &dns.Client{Net: "tcp", Timeout: time.Hour} // the context bounds it
	conn, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	if _, err := conn.Write(wire); err != nil {
		return nil, ctxErr(ctx, err)
	}
	// The message as it comes, however short: judgeReply says what is wrong with it.
	var size [2]byte
	if _, err := io.ReadFull(conn.Conn, size[:]); err != nil {
		return nil, ctxErr(ctx, err)
	}
	raw := make([]byte, binary.BigEndian.Uint16(size[:]))
	if _, err := io.ReadFull(conn.Conn, raw); err != nil {
		return nil, ctxErr(ctx, err)
	}
	return raw, nil
}

// ctxErr prefers ctx's error, when it ended, to the I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
