package dnscheck

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Judgement is what one DNS response says about one name and type. It is
// computed by Judge from the message alone, without any network access.
type Judgement struct {
	Rcode     int          // the response code (dns.RcodeSuccess, dns.RcodeNameError, ...)
	AA        bool         // the authoritative-answer bit
	TC        bool         // the truncation bit
	Addrs     []netip.Addr // addresses of the asked type at the end of any CNAME chain, sorted, unique
	TTL       uint32       // the smallest TTL of those address records (0 when none)
	CNAME     []string     // the CNAME chain followed inside the answer, if any
	SOA       *dns.SOA     // the SOA in the answer (SOA queries) or in the authority section (negative answers)
	Malformed string       // non-empty when the message does not answer the question asked
}

// Judge reads a response to a query for name and qtype (dns.TypeA,
// dns.TypeAAAA or dns.TypeSOA). It never panics, whatever m holds.
func Judge(m *dns.Msg, name string, qtype uint16) Judgement {
	var j Judgement
	if m == nil {
		j.Malformed = "no message"
		return j
	}
	j.Rcode = m.Rcode
	j.AA = m.Authoritative
	j.TC = m.Truncated
	name = dns.CanonicalName(name)
	switch {
	case !m.Response:
		j.Malformed = "not a response (QR bit clear)"
	case len(m.Question) != 1:
		// A truncated or FORMERR answer may come without a question; judge it anyway.
		if !m.Truncated && m.Rcode == dns.RcodeSuccess {
			j.Malformed = "the response does not repeat the question"
		}
	case !strings.EqualFold(dns.CanonicalName(m.Question[0].Name), name) || m.Question[0].Qtype != qtype:
		j.Malformed = "the response answers another question (" + m.Question[0].Name + " " + dns.TypeToString[m.Question[0].Qtype] + ")"
	}

	// Follow the CNAME chain inside the answer, bounded by the answer's size.
	owner := name
	for range len(m.Answer) + 1 {
		next := ""
		for _, rr := range m.Answer {
			if c, ok := rr.(*dns.CNAME); ok && c.Hdr.Class == dns.ClassINET && strings.EqualFold(dns.CanonicalName(c.Hdr.Name), owner) {
				next = dns.CanonicalName(c.Target)
				break
			}
		}
		if next == "" || qtype == dns.TypeCNAME || slices.Contains(j.CNAME, next) || next == name {
			break
		}
		j.CNAME = append(j.CNAME, next)
		owner = next
	}

	first := true
	for _, rr := range m.Answer {
		h := rr.Header()
		if h.Class != dns.ClassINET || !strings.EqualFold(dns.CanonicalName(h.Name), owner) {
			continue
		}
		var a netip.Addr
		switch v := rr.(type) {
		case *dns.A:
			if qtype != dns.TypeA {
				continue
			}
			a, _ = netip.AddrFromSlice(v.A.To4())
		case *dns.AAAA:
			if qtype != dns.TypeAAAA {
				continue
			}
			// An IPv4-mapped address in an AAAA record stays an IPv6 address.
			a, _ = netip.AddrFromSlice(v.AAAA.To16())
		case *dns.SOA:
			if qtype == dns.TypeSOA && j.SOA == nil {
				j.SOA = v
			}
			continue
		default:
			continue
		}
		if !a.IsValid() {
			continue
		}
		j.Addrs = append(j.Addrs, a)
		if first || h.Ttl < j.TTL {
			j.TTL = h.Ttl
		}
		first = false
	}
	j.Addrs = sortAddrs(j.Addrs)
	if j.SOA == nil {
		for _, rr := range m.Ns {
			if s, ok := rr.(*dns.SOA); ok && s.Hdr.Class == dns.ClassINET {
				j.SOA = s
				break
			}
		}
	}
	return j
}

// Compare returns the expected addresses missing from got and the addresses
// in got that were not expected, both sorted.
func Compare(got, expect []netip.Addr) (missing, extra []netip.Addr) {
	g := sortAddrs(slices.Clone(got))
	e := sortAddrs(slices.Clone(expect))
	for _, a := range e {
		if _, found := slices.BinarySearchFunc(g, a, netip.Addr.Compare); !found {
			missing = append(missing, a)
		}
	}
	for _, a := range g {
		if _, found := slices.BinarySearchFunc(e, a, netip.Addr.Compare); !found {
			extra = append(extra, a)
		}
	}
	return missing, extra
}

// sortAddrs sorts and removes duplicates in place.
func sortAddrs(a []netip.Addr) []netip.Addr {
	slices.SortFunc(a, netip.Addr.Compare)
	return slices.Compact(a)
}

// serialNewer reports whether serial a is newer than b in RFC 1982 arithmetic.
func serialNewer(a, b uint32) bool {
	return a != b && int32(a-b) > 0
}
