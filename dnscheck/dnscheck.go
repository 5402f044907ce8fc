// Package dnscheck proves that a round-robin name resolves to exactly the
// expected servers on every authoritative server of its zone, and repairs
// the records with a TSIG-signed RFC 2136 UPDATE when the operator allows it.
//
// Verify finds the zone (SOA), its authoritative servers (NS and their
// addresses) and asks every one of them directly and concurrently, each
// within one timeout in total (UDP, then TCP when the answer is truncated).
// It knows nothing of procedures; steps and the CLI call it.
package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DefaultTimeout bounds each server's answers (all its queries together).
const DefaultTimeout = 2 * time.Second

// Query says what to verify.
type Query struct {
	Name     string        // the round-robin name, e.g. "micetro.example.com"
	Expect   []netip.Addr  // IPv4 and/or IPv6; AAAA is asked only when an IPv6 address is expected
	Servers  []string      // "host[:port]"; empty = discover (SOA walk + NS + addresses); the first is the primary
	Resolver string        // "host[:port]"; "" = the system resolver (/etc/resolv.conf)
	Timeout  time.Duration // per server, total; default 2s
	Port     int           // port of discovered servers; 0 = 53 (labs and tests serve on other ports)
	TTL      uint32        // when > 0, the address records' TTL every server must give; 0 = any
}

// ServerReport is what one server answered.
type ServerReport struct {
	Name      string        `json:"name"`              // NS name, or the server as given
	Address   string        `json:"address"`           // "ip:port" asked
	Primary   bool          `json:"primary,omitempty"` // the zone's primary (SOA MNAME, or the first --server)
	Answered  bool          `json:"answered"`
	Error     string        `json:"error,omitempty"` // why there is no answer
	Rcode     string        `json:"rcode,omitempty"`
	AA        bool          `json:"aa"`
	TCP       bool          `json:"tcp,omitempty"` // the UDP answer was truncated; asked again over TCP
	Got       []netip.Addr  `json:"got"`
	Missing   []netip.Addr  `json:"missing"`
	Extra     []netip.Addr  `json:"extra"`
	CNAME     []string      `json:"cname,omitempty"`
	TTL       uint32        `json:"ttl"`
	Zone      string        `json:"zone,omitempty"` // the zone this server's SOA names
	Serial    uint32        `json:"serial"`
	HasSerial bool          `json:"has_serial"`
	Latency   time.Duration `json:"-"`
	LatencyMS float64       `json:"latency_ms"`
	OK        bool          `json:"ok"`
}

// Report is the result of Verify. OK only when every authoritative server
// answered with the AA bit, exactly the expected addresses, and the same
// serial (and the TTL asked for, if any).
type Report struct {
	Name     string         `json:"name"`
	Zone     string         `json:"zone"`
	Expect   []netip.Addr   `json:"expect"`
	TTL      uint32         `json:"ttl,omitempty"` // the TTL asked for (Query.TTL), 0 = any
	OK       bool           `json:"ok"`
	Primary  string         `json:"primary,omitempty"` // address of the primary, for Apply
	Servers  []ServerReport `json:"servers"`
	Resolver *ServerReport  `json:"resolver,omitempty"` // what clients see; informational, never fails the run
	Problems []string       `json:"problems"`
	Duration time.Duration  `json:"-"`
}

// InputError is bad input: nothing was sent. Field names the flag or field.
type InputError struct {
	Field string
	Err   error
}

func (e *InputError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(field, format string, args ...any) error {
	return &InputError{Field: field, Err: fmt.Errorf(format, args...)}
}

// ParseName checks and canonicalises a domain name ("www.example.com" → "www.example.com.").
func ParseName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "." {
		return "", inputErrorf("name", "a domain name is required")
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return "", inputErrorf("name", "%q is an address, not a domain name", s)
	}
	if _, ok := dns.IsDomainName(s); !ok || strings.ContainsAny(s, " \t\\") {
		return "", inputErrorf("name", "%q is not a valid domain name", s)
	}
	return dns.CanonicalName(s), nil
}

// ParseAddrs parses "IP[,IP...]" values (each element may hold a comma list).
func ParseAddrs(field string, values []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			a, err := netip.ParseAddr(p)
			if err != nil || a.Zone() != "" {
				return nil, inputErrorf(field, "%q is not an IP address", p)
			}
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, inputErrorf(field, "at least one IP address is required")
	}
	return sortAddrs(out), nil
}

// ParseServer checks "host[:port]" and returns "host:port" (port 53 by default).
func ParseServer(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", inputErrorf(field, "empty server address")
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return "", inputErrorf(field, "%q: port 0", s)
		}
		return ap.String(), nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	host, port := s, "53"
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", inputErrorf(field, "%q: bad port", s)
	}
	if _, ok := dns.IsDomainName(host); !ok || host == "" || strings.ContainsAny(host, " /\\") {
		return "", inputErrorf(field, "%q is not a host name or address", s)
	}
	return net.JoinHostPort(strings.TrimSuffix(host, "."), strconv.Itoa(n)), nil
}

// normalize validates q and fills defaults.
func normalize(q Query) (Query, error) {
	name, err := ParseName(q.Name)
	if err != nil {
		return q, err
	}
	q.Name = name
	if len(q.Expect) == 0 {
		return q, inputErrorf("expect", "at least one IP address is required")
	}
	for _, a := range q.Expect {
		if !a.IsValid() {
			return q, inputErrorf("expect", "invalid address")
		}
	}
	q.Expect = sortAddrs(append([]netip.Addr(nil), q.Expect...))
	servers := make([]string, 0, len(q.Servers))
	for _, s := range q.Servers {
		p, err := ParseServer("server", s)
		if err != nil {
			return q, err
		}
		servers = append(servers, p)
	}
	q.Servers = servers
	if q.Resolver != "" {
		if q.Resolver, err = ParseServer("resolver", q.Resolver); err != nil {
			return q, err
		}
	}
	if q.Timeout < 0 {
		return q, inputErrorf("timeout", "must be positive")
	}
	if q.Timeout == 0 {
		q.Timeout = DefaultTimeout
	}
	if q.Port < 0 || q.Port > 65535 {
		return q, inputErrorf("port", "%d is not a port", q.Port)
	}
	if q.Port == 0 {
		q.Port = 53
	}
	return q, nil
}

// systemResolver returns the first nameserver of /etc/resolv.conf.
func systemResolver() (string, error) {
	cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return "", err
	}
	if len(cc.Servers) == 0 {
		return "", errors.New("/etc/resolv.conf names no nameserver")
	}
	return net.JoinHostPort(cc.Servers[0], cc.Port), nil
}

func wantV6(expect []netip.Addr) bool {
	for _, a := range expect {
		if a.Is6() {
			return true
		}
	}
	return false
}

// exchange asks addr one question within ctx's deadline: UDP first, TCP when
// the answer is truncated. One deadline covers both, so a dead server costs
// one timeout. usedTCP says whether TCP was needed.
func exchange(ctx context.Context, addr, name string, qtype uint16, recurse bool) (r *dns.Msg, usedTCP bool, err error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = recurse
	m.SetEdns0(1232, false)
	c := &dns.Client{Net: "udp", UDPSize: 1232, Timeout: time.Hour} // the context bounds it
	r, _, err = c.ExchangeContext(ctx, m, addr)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		usedTCP = true
		r, _, err = c.ExchangeContext(ctx, m, addr)
	}
	if err != nil {
		return r, usedTCP, describeNetError(ctx, err)
	}
	return r, usedTCP, nil
}

// describeNetError turns a network error into words an operator can act on.
func describeNetError(ctx context.Context, err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		if d, ok := ctx.Value(timeoutKey{}).(time.Duration); ok {
			return fmt.Errorf("no answer within %s (timeout)", d)
		}
		return errors.New("no answer (timeout)")
	}
	if errors.Is(err, context.Canceled) {
		return errors.New("cancelled")
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return errors.New("connection refused (nothing listens there)")
	case strings.Contains(s, "network is unreachable"):
		return errors.New("network is unreachable")
	}
	return err
}

type timeoutKey struct{}

// withTimeout is context.WithTimeout that remembers d for error messages.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithValue(ctx, timeoutKey{}, d), d)
}
