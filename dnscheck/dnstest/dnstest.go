// Package dnstest runs small in-process authoritative DNS servers
// (github.com/miekg/dns) for go test and `hawiz demo`: zones in memory with
// SOA serials, an AA-bit switch, forced truncation on UDP, TSIG-signed RFC
// 2136 updates with prerequisites, secondaries that serve a stale copy until
// told to sync (or follow their primary at once, like NOTIFY), and dead
// servers that hold a port and never answer.
//
// Every server listens on UDP and TCP on the same address and port.
package dnstest

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Config describes one server.
type Config struct {
	Addr        string            // "127.0.0.1:0" by default; any 127/8 address works on Linux
	Zones       map[string]string // origin -> zone text in master-file format ($TTL, SOA, NS, A, ...)
	Keys        map[string]string // TSIG key name -> base64 secret (any algorithm miekg/dns supports)
	AllowUpdate bool              // accept updates signed with a key in Keys (a primary's update-policy)
	NoAA        bool              // answer without the AA bit
	Truncate    bool              // answer every UDP query with TC set and no records
	Dead        bool              // hold the port, never answer
}

// Server is one running server. Its methods are safe for concurrent use.
type Server struct {
	mu        sync.Mutex
	zones     map[string]*zone
	keys      map[string]string
	allowUpd  bool
	aa        bool
	truncate  bool
	dead      bool
	primary   *Server   // set for secondaries
	followers []*Server // secondaries that sync at once when this zone changes
	autoSync  bool

	addr     string
	udp, tcp *dns.Server
	queries  atomic.Int64
	updates  atomic.Int64
}

// zone is one zone's records; records[0] is the SOA.
type zone struct {
	origin  string
	records []dns.RR
}

func (z *zone) soa() *dns.SOA { return z.records[0].(*dns.SOA) }

func (z *zone) clone() *zone {
	c := &zone{origin: z.origin, records: make([]dns.RR, len(z.records))}
	for i, rr := range z.records {
		c.records[i] = dns.Copy(rr)
	}
	return c
}

// ParseZone parses master-file text for origin; the SOA must be present.
func parseZone(origin, text string) (*zone, error) {
	origin = dns.CanonicalName(origin)
	z := &zone{origin: origin}
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	var soa dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rr.Header().Name = dns.CanonicalName(rr.Header().Name)
		if !dns.IsSubDomain(origin, rr.Header().Name) {
			return nil, fmt.Errorf("zone %s: %s is outside the zone", origin, rr.Header().Name)
		}
		if rr.Header().Rrtype == dns.TypeSOA {
			if soa != nil || rr.Header().Name != origin {
				return nil, fmt.Errorf("zone %s: one SOA at the apex is required", origin)
			}
			soa = rr
			continue
		}
		z.records = append(z.records, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("zone %s: %w", origin, err)
	}
	if soa == nil {
		return nil, fmt.Errorf("zone %s: no SOA record", origin)
	}
	z.records = append([]dns.RR{soa}, z.records...)
	return z, nil
}

// Start starts a server.
func Start(cfg Config) (*Server, error) {
	s := &Server{
		zones:    map[string]*zone{},
		keys:     map[string]string{},
		allowUpd: cfg.AllowUpdate,
		aa:       !cfg.NoAA,
		truncate: cfg.Truncate,
		dead:     cfg.Dead,
	}
	for origin, text := range cfg.Zones {
		z, err := parseZone(origin, text)
		if err != nil {
			return nil, err
		}
		s.zones[z.origin] = z
	}
	for name, secret := range cfg.Keys {
		s.keys[dns.CanonicalName(name)] = secret
	}
	if err := s.listen(cfg.Addr); err != nil {
		return nil, err
	}
	return s, nil
}

// StartSecondary starts a server holding a copy of primary's zones. With
// autoSync it follows every change at once (like NOTIFY + transfer);
// without it, it serves the copy it has until Sync is called. Unless
// cfg.Keys is set, it knows the primary's TSIG keys; it refuses updates.
func StartSecondary(primary *Server, cfg Config, autoSync bool) (*Server, error) {
	cfg.Zones = nil
	cfg.AllowUpdate = false
	if cfg.Keys == nil { // it knows the primary's keys, and refuses updates as BIND does
		primary.mu.Lock()
		cfg.Keys = make(map[string]string, len(primary.keys))
		for k, v := range primary.keys {
			cfg.Keys[k] = v
		}
		primary.mu.Unlock()
	}
	s, err := Start(cfg)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.primary = primary
	s.autoSync = autoSync
	s.mu.Unlock()
	primary.mu.Lock()
	primary.followers = append(primary.followers, s)
	primary.mu.Unlock()
	s.Sync()
	return s, nil
}

// StartDead holds addr ("127.0.0.1:0" when empty) on UDP and TCP and never answers.
func StartDead(addr string) (*Server, error) { return Start(Config{Addr: addr, Dead: true}) }

func (s *Server) listen(addr string) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		pc, err = net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		p := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			break
		}
		pc.Close()
		if port != "0" || try > 20 {
			return err
		}
	}
	s.addr = pc.LocalAddr().String()
	secrets := map[string]string{}
	for k, v := range s.keys {
		secrets[k] = v
	}
	accept := func(dh dns.Header) dns.MsgAcceptAction {
		if dh.Bits&(1<<15) != 0 { // a response
			return dns.MsgIgnore
		}
		return dns.MsgAccept
	}
	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	s.udp = &dns.Server{PacketConn: pc, Handler: s, TsigSecret: secrets, MsgAcceptFunc: accept, UDPSize: 65535, NotifyStartedFunc: notify}
	s.tcp = &dns.Server{Listener: ln, Handler: s, TsigSecret: secrets, MsgAcceptFunc: accept, NotifyStartedFunc: notify}
	errs := make(chan error, 2)
	go func() { errs <- s.udp.ActivateAndServe() }()
	go func() { errs <- s.tcp.ActivateAndServe() }()
	for range 2 {
		select {
		case <-started:
		case err := <-errs:
			s.Close()
			return err
		case <-time.After(5 * time.Second):
			s.Close()
			return errors.New("dnstest: server did not start")
		}
	}
	return nil
}

// Addr is "ip:port", the same port on UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Close stops the server.
func (s *Server) Close() error {
	var errs []error
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		if srv != nil {
			if err := srv.Shutdown(); err != nil && !strings.Contains(err.Error(), "not started") {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// SetAA switches the AA bit of answers.
func (s *Server) SetAA(on bool) { s.mu.Lock(); s.aa = on; s.mu.Unlock() }

// SetTruncate switches forced truncation of UDP answers.
func (s *Server) SetTruncate(on bool) { s.mu.Lock(); s.truncate = on; s.mu.Unlock() }

// SetDead makes the server stop (or resume) answering.
func (s *Server) SetDead(on bool) { s.mu.Lock(); s.dead = on; s.mu.Unlock() }

// SetAutoSync makes a secondary follow its primary at once (true) or stay stale (false).
func (s *Server) SetAutoSync(on bool) { s.mu.Lock(); s.autoSync = on; s.mu.Unlock() }

// Queries is the number of messages received (answered or not).
func (s *Server) Queries() int { return int(s.queries.Load()) }

// Updates is the number of updates that changed a zone.
func (s *Server) Updates() int { return int(s.updates.Load()) }

// Sync copies the primary's zones now (secondaries only; a no-op otherwise).
func (s *Server) Sync() {
	s.mu.Lock()
	p := s.primary
	s.mu.Unlock()
	if p == nil {
		return
	}
	p.mu.Lock()
	copies := make(map[string]*zone, len(p.zones))
	for o, z := range p.zones {
		copies[o] = z.clone()
	}
	p.mu.Unlock()
	s.mu.Lock()
	s.zones = copies
	s.mu.Unlock()
}

// Serial is the SOA serial of zone on this server (0 when it has no such zone).
func (s *Server) Serial(zoneName string) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.zones[dns.CanonicalName(zoneName)]; z != nil {
		return z.soa().Serial
	}
	return 0
}

// Records returns copies of the records at name of type t (dns.TypeANY for all).
func (s *Server) Records(name string, t uint16) []dns.RR {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = dns.CanonicalName(name)
	z := s.findZone(name)
	if z == nil {
		return nil
	}
	var out []dns.RR
	for _, rr := range z.records {
		if rr.Header().Name == name && (t == dns.TypeANY || rr.Header().Rrtype == t) {
			out = append(out, dns.Copy(rr))
		}
	}
	return out
}

// Replace replaces the RRset (name, type of the records) with records given
// in master-file syntax ("www.example.com. 300 IN A 192.0.2.1"), or deletes
// the RRset of type t when no records are given, then bumps the serial: an
// out-of-band change, as an operator's edit would be.
func (s *Server) Replace(name string, t uint16, records ...string) error {
	name = dns.CanonicalName(name)
	var rrs []dns.RR
	for _, text := range records {
		rr, err := dns.NewRR(text)
		if err != nil {
			return err
		}
		if rr == nil || dns.CanonicalName(rr.Header().Name) != name || rr.Header().Rrtype != t {
			return fmt.Errorf("dnstest: %q is not a %s record of %s", text, dns.TypeToString[t], name)
		}
		rr.Header().Name = name
		rrs = append(rrs, rr)
	}
	s.mu.Lock()
	z := s.findZone(name)
	if z == nil {
		s.mu.Unlock()
		return fmt.Errorf("dnstest: no zone for %s", name)
	}
	kept := z.records[:0:0]
	for _, rr := range z.records {
		if !(rr.Header().Name == name && rr.Header().Rrtype == t) {
			kept = append(kept, rr)
		}
	}
	z.records = append(kept, rrs...)
	z.soa().Serial++
	s.mu.Unlock()
	s.changed()
	return nil
}

// SetSerial sets zone's SOA serial (for stale- and newer-serial tests).
func (s *Server) SetSerial(zoneName string, serial uint32) {
	s.mu.Lock()
	if z := s.zones[dns.CanonicalName(zoneName)]; z != nil {
		z.soa().Serial = serial
	}
	s.mu.Unlock()
	s.changed()
}

// changed lets auto-syncing secondaries follow.
func (s *Server) changed() {
	s.mu.Lock()
	fs := append([]*Server(nil), s.followers...)
	s.mu.Unlock()
	for _, f := range fs {
		f.mu.Lock()
		auto := f.autoSync
		f.mu.Unlock()
		if auto {
			f.Sync()
		}
	}
}

// findZone is the longest zone containing name; s.mu held.
func (s *Server) findZone(name string) *zone {
	var best *zone
	for o, z := range s.zones {
		if dns.IsSubDomain(o, name) && (best == nil || len(o) > len(best.origin)) {
			best = z
		}
	}
	return best
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	s.queries.Add(1)
	s.mu.Lock()
	dead := s.dead
	s.mu.Unlock()
	if dead {
		return
	}
	if len(r.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	switch r.Opcode {
	case dns.OpcodeQuery:
		s.query(w, r)
	case dns.OpcodeUpdate:
		s.update(w, r)
	default:
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNotImplemented)
		w.WriteMsg(m)
	}
}

func (s *Server) query(w dns.ResponseWriter, r *dns.Msg) {
	q := r.Question[0]
	name := dns.CanonicalName(q.Name)
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionDesired = r.RecursionDesired

	s.mu.Lock()
	m.Authoritative = s.aa
	truncate := s.truncate
	z := s.findZone(name)
	if z == nil {
		m.Rcode = dns.RcodeRefused
		m.Authoritative = false
	} else {
		answer(z, m, name, q.Qtype)
	}
	s.mu.Unlock()

	size := dns.MinMsgSize
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(1232, false)
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		if truncate {
			m.Answer, m.Ns = nil, nil
			m.Extra = dropAllButOPT(m.Extra)
			m.Truncated = true
		} else {
			m.Truncate(size)
		}
	}
	w.WriteMsg(m)
}

func dropAllButOPT(extra []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}

// answer fills m for name/qtype from z (records copied).
func answer(z *zone, m *dns.Msg, name string, qtype uint16) {
	owner := name
	for hops := 0; hops < 8; hops++ {
		var found, cname []dns.RR
		exists := false
		for _, rr := range z.records {
			h := rr.Header()
			if h.Name != owner {
				continue
			}
			exists = true
			if h.Rrtype == qtype || qtype == dns.TypeANY {
				found = append(found, dns.Copy(rr))
			} else if h.Rrtype == dns.TypeCNAME {
				cname = append(cname, dns.Copy(rr))
			}
		}
		switch {
		case len(found) > 0:
			m.Answer = append(m.Answer, found...)
			if qtype == dns.TypeNS && owner == z.origin {
				m.Extra = append(m.Extra, glue(z, found)...)
			}
			return
		case len(cname) > 0:
			m.Answer = append(m.Answer, cname[0])
			target := dns.CanonicalName(cname[0].(*dns.CNAME).Target)
			if !dns.IsSubDomain(z.origin, target) {
				return
			}
			owner = target
			continue
		case !exists && !hasDescendant(z, owner) && len(m.Answer) == 0:
			m.Rcode = dns.RcodeNameError
		}
		m.Ns = append(m.Ns, dns.Copy(z.records[0]))
		return
	}
}

func hasDescendant(z *zone, name string) bool {
	for _, rr := range z.records {
		if h := rr.Header().Name; h != name && dns.IsSubDomain(name, h) {
			return true
		}
	}
	return false
}

func glue(z *zone, ns []dns.RR) []dns.RR {
	var out []dns.RR
	for _, n := range ns {
		target := dns.CanonicalName(n.(*dns.NS).Ns)
		for _, rr := range z.records {
			if t := rr.Header().Rrtype; rr.Header().Name == target && (t == dns.TypeA || t == dns.TypeAAAA) {
				out = append(out, dns.Copy(rr))
			}
		}
	}
	return out
}

// Port is the server's port (UDP and TCP).
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}
