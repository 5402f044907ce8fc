package dnstest

import (
	"time"

	"github.com/miekg/dns"
)

// update handles an RFC 2136 UPDATE: zone section, TSIG, prerequisites
// (RFC 2136 2.4.1-2.4.5), then the update section (2.5.1-2.5.4), atomically.
func (s *Server) update(w dns.ResponseWriter, r *dns.Msg) {
	zname := dns.CanonicalName(r.Question[0].Name)
	t := r.IsTsig()

	s.mu.Lock()
	secondary := s.primary != nil
	allow := s.allowUpd
	knownKey := false
	if t != nil {
		_, knownKey = s.keys[dns.CanonicalName(t.Hdr.Name)]
	}
	z := s.zones[zname]
	s.mu.Unlock()

	switch {
	case t != nil && !knownKey:
		s.tsigError(w, r, t, dns.RcodeBadKey)
		return
	case t != nil && w.TsigStatus() != nil:
		s.tsigError(w, r, t, dns.RcodeBadSig)
		return
	}
	reply := func(rcode int) {
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		if t != nil {
			m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
		}
		w.WriteMsg(m)
	}
	switch {
	case r.Question[0].Qtype != dns.TypeSOA:
		reply(dns.RcodeFormatError)
		return
	case z == nil:
		reply(dns.RcodeNotAuth)
		return
	case secondary, !allow, t == nil:
		reply(dns.RcodeRefused)
		return
	}

	s.mu.Lock()
	rcode, changed := applyUpdate(s.zones[zname], r)
	s.mu.Unlock()
	if changed {
		s.updates.Add(1)
		s.changed()
	}
	reply(rcode)
}

// tsigError answers NOTAUTH with an unsigned TSIG record carrying the error,
// as RFC 8945 5.2 asks.
func (s *Server) tsigError(w dns.ResponseWriter, r *dns.Msg, t *dns.TSIG, tsigRcode int) {
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeNotAuth)
	m.Extra = append(m.Extra, &dns.TSIG{
		Hdr:        dns.RR_Header{Name: t.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm:  t.Algorithm,
		TimeSigned: uint64(time.Now().Unix()),
		Fudge:      300,
		OrigId:     r.Id,
		Error:      uint16(tsigRcode),
	})
	b, err := m.Pack()
	if err == nil {
		w.Write(b)
	}
}

// applyUpdate checks prerequisites and applies the update section to z.
// It returns the rcode and whether z changed. Nothing changes unless all
// prerequisites hold and every update RR is valid.
func applyUpdate(z *zone, r *dns.Msg) (int, bool) {
	in := func(name string) bool { return dns.IsSubDomain(z.origin, dns.CanonicalName(name)) }
	nameInUse := func(name string) bool {
		for _, rr := range z.records {
			if rr.Header().Name == name {
				return true
			}
		}
		return false
	}
	rrset := func(name string, t uint16) []dns.RR {
		var out []dns.RR
		for _, rr := range z.records {
			if rr.Header().Name == name && rr.Header().Rrtype == t {
				out = append(out, rr)
			}
		}
		return out
	}

	// Prerequisites.
	type key struct {
		name string
		t    uint16
	}
	valueDep := map[key][]dns.RR{}
	var order []key
	for _, rr := range r.Answer {
		h := rr.Header()
		name := dns.CanonicalName(h.Name)
		if h.Ttl != 0 {
			return dns.RcodeFormatError, false
		}
		if !in(name) {
			return dns.RcodeNotZone, false
		}
		switch h.Class {
		case dns.ClassANY:
			if h.Rrtype == dns.TypeANY {
				if !nameInUse(name) {
					return dns.RcodeNameError, false
				}
			} else if len(rrset(name, h.Rrtype)) == 0 {
				return dns.RcodeNXRrset, false
			}
		case dns.ClassNONE:
			if h.Rrtype == dns.TypeANY {
				if nameInUse(name) {
					return dns.RcodeYXDomain, false
				}
			} else if len(rrset(name, h.Rrtype)) > 0 {
				return dns.RcodeYXRrset, false
			}
		case dns.ClassINET:
			k := key{name, h.Rrtype}
			if _, seen := valueDep[k]; !seen {
				order = append(order, k)
			}
			c := dns.Copy(rr)
			c.Header().Name = name
			valueDep[k] = append(valueDep[k], c)
		default:
			return dns.RcodeFormatError, false
		}
	}
	for _, k := range order {
		if !sameSet(rrset(k.name, k.t), valueDep[k]) {
			return dns.RcodeNXRrset, false
		}
	}

	// Prescan (RFC 2136 3.4.1).
	for _, rr := range r.Ns {
		h := rr.Header()
		if !in(h.Name) {
			return dns.RcodeNotZone, false
		}
		switch h.Class {
		case dns.ClassINET:
			if h.Rrtype == dns.TypeANY || h.Rrtype == dns.TypeAXFR || h.Rrtype == dns.TypeIXFR {
				return dns.RcodeFormatError, false
			}
		case dns.ClassANY, dns.ClassNONE:
			if h.Ttl != 0 {
				return dns.RcodeFormatError, false
			}
		default:
			return dns.RcodeFormatError, false
		}
	}

	// Apply.
	before := len(z.records)
	changed := false
	apexProtected := func(name string, t uint16) bool {
		return name == z.origin && (t == dns.TypeSOA || t == dns.TypeNS)
	}
	for _, rr := range r.Ns {
		h := rr.Header()
		name := dns.CanonicalName(h.Name)
		switch h.Class {
		case dns.ClassINET:
			if h.Rrtype == dns.TypeSOA {
				continue
			}
			c := dns.Copy(rr)
			c.Header().Name = name
			dup := false
			for _, old := range z.records {
				if old.Header().Name == name && old.Header().Rrtype == h.Rrtype {
					if old.Header().Ttl != h.Ttl {
						old.Header().Ttl = h.Ttl // one TTL per RRset
						changed = true
					}
					if dns.IsDuplicate(old, c) {
						dup = true
					}
				}
			}
			if !dup {
				z.records = append(z.records, c)
				changed = true
			}
		case dns.ClassANY:
			kept := z.records[:0:0]
			for _, old := range z.records {
				oh := old.Header()
				if oh.Name == name && (h.Rrtype == dns.TypeANY || oh.Rrtype == h.Rrtype) && !apexProtected(name, oh.Rrtype) {
					changed = true
					continue
				}
				kept = append(kept, old)
			}
			z.records = kept
		case dns.ClassNONE:
			if h.Rrtype == dns.TypeSOA {
				continue
			}
			c := dns.Copy(rr)
			c.Header().Name = name
			c.Header().Class = dns.ClassINET
			kept := z.records[:0:0]
			for _, old := range z.records {
				if old.Header().Rrtype != dns.TypeSOA && sameRdata(old, c) {
					changed = true
					continue
				}
				kept = append(kept, old)
			}
			z.records = kept
		}
	}
	if changed || len(z.records) != before {
		z.soa().Serial++
		return dns.RcodeSuccess, true
	}
	return dns.RcodeSuccess, false
}

// sameRdata compares owner, type and rdata, not class or TTL.
func sameRdata(a, b dns.RR) bool {
	a, b = dns.Copy(a), dns.Copy(b)
	a.Header().Class, b.Header().Class = dns.ClassINET, dns.ClassINET
	return dns.IsDuplicate(a, b)
}

// sameSet reports whether two RRsets hold the same records (TTL ignored).
func sameSet(have, want []dns.RR) bool {
	contains := func(set []dns.RR, rr dns.RR) bool {
		for _, x := range set {
			if sameRdata(x, rr) {
				return true
			}
		}
		return false
	}
	for _, rr := range have {
		if !contains(want, rr) {
			return false
		}
	}
	for _, rr := range want {
		if !contains(have, rr) {
			return false
		}
	}
	return true
}
