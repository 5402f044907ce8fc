package dnstest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Tamper gets a request as the client sent it (nil when it does not parse)
// and the reply as the server sent it, and returns the bytes the client
// gets instead (nil: no reply at all).
type Tamper func(req *dns.Msg, reply []byte) []byte

// Proxy stands between clients and a DNS server (a Server or a real one,
// such as BIND) on UDP and TCP, and passes every reply through its Tamper:
// a man in the middle, or a hostile server answering in the real one's
// name. With no Tamper it passes replies through unchanged.
type Proxy struct {
	addr, upstream string
	pc             net.PacketConn
	ln             net.Listener

	mu     sync.Mutex
	tamper Tamper
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// proxyTimeout bounds each exchange with the upstream server.
const proxyTimeout = 5 * time.Second

// StartProxy listens on addr ("127.0.0.1:0" when empty), UDP and TCP on
// the same port, and forwards to upstream ("ip:port").
func StartProxy(addr, upstream string, f Tamper) (*Proxy, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	p := &Proxy{upstream: upstream, tamper: f, conns: map[net.Conn]struct{}{}}
	for try := 0; ; try++ {
		if p.pc, err = net.ListenPacket("udp", addr); err != nil {
			return nil, err
		}
		udpPort := p.pc.LocalAddr().(*net.UDPAddr).Port
		if p.ln, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(udpPort))); err == nil {
			break
		}
		p.pc.Close()
		if port != "0" || try > 20 {
			return nil, err
		}
	}
	p.addr = p.pc.LocalAddr().String()
	p.wg.Add(2)
	go p.serveUDP()
	go p.serveTCP()
	return p, nil
}

// Addr is "ip:port", the same port on UDP and TCP.
func (p *Proxy) Addr() string { return p.addr }

// SetTamper replaces the Tamper (nil: pass replies through).
func (p *Proxy) SetTamper(f Tamper) { p.mu.Lock(); p.tamper = f; p.mu.Unlock() }

// Close stops the proxy and waits for its exchanges to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := errors.Join(p.pc.Close(), p.ln.Close())
	p.wg.Wait()
	return err
}

func (p *Proxy) rewrite(req, reply []byte) []byte {
	p.mu.Lock()
	f := p.tamper
	p.mu.Unlock()
	if f == nil {
		return reply
	}
	m := new(dns.Msg)
	if m.Unpack(req) != nil {
		m = nil
	}
	return f(m, reply)
}

func (p *Proxy) serveUDP() {
	defer p.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := p.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		req := append([]byte(nil), buf[:n]...)
		p.wg.Go(func() {
			up, err := net.Dial("udp", p.upstream)
			if err != nil {
				return
			}
			defer up.Close()
			up.SetDeadline(time.Now().Add(proxyTimeout))
			if _, err := up.Write(req); err != nil {
				return
			}
			reply := make([]byte, 65535)
			n, err := up.Read(reply)
			if err != nil {
				return
			}
			if out := p.rewrite(req, reply[:n]); out != nil {
				p.pc.WriteTo(out, from)
			}
		})
	}
}

func (p *Proxy) serveTCP() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Go(func() {
			defer p.untrack(c)
			up, err := net.DialTimeout("tcp", p.upstream, proxyTimeout)
			if err != nil {
				return
			}
			if !p.track(up) {
				up.Close()
				return
			}
			defer p.untrack(up)
			for {
				req, err := readTCPMsg(c)
				if err != nil {
					return
				}
				up.SetDeadline(time.Now().Add(proxyTimeout))
				if writeTCPMsg(up, req) != nil {
					return
				}
				reply, err := readTCPMsg(up)
				if err != nil {
					return
				}
				out := p.rewrite(req, reply)
				if out == nil {
					return // no reply: the client times out or sees the connection close
				}
				if writeTCPMsg(c, out) != nil {
					return
				}
			}
		})
	}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func readTCPMsg(r io.Reader) ([]byte, error) {
	var n uint16
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

func writeTCPMsg(w io.Writer, b []byte) error {
	out := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(out, uint16(len(b)))
	copy(out[2:], b)
	_, err := w.Write(out)
	return err
}

// StripTSIG is a Tamper that removes the TSIG record of replies to signed
// requests: the answer of a server that does not hold the key, or of a man
// in the middle, otherwise unchanged.
func StripTSIG(req *dns.Msg, reply []byte) []byte {
	if req == nil || req.IsTsig() == nil {
		return reply
	}
	m := new(dns.Msg)
	if m.Unpack(reply) != nil {
		return reply
	}
	var extra []dns.RR
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeTSIG {
			extra = append(extra, rr)
		}
	}
	m.Extra = extra
	b, err := m.Pack()
	if err != nil {
		return reply
	}
	return b
}

// Resign returns a Tamper that edits replies to signed requests and signs
// them again, over the request's MAC, with the key name (algorithm alg, a
// miekg/dns name such as dns.HmacSHA256; base64 secret): a server holding
// that key that lies about what it did, or one holding another key. edit
// (nil: none) may change the message and the TSIG record before signing;
// the TSIG starts with the time now, fudge 300 and the reply's ID as
// original ID. As miekg/dns does, a TSIG error BADKEY or BADSIG leaves the
// MAC empty.
func Resign(name, alg, secret string, edit func(m *dns.Msg, t *dns.TSIG)) Tamper {
	return func(req *dns.Msg, reply []byte) []byte {
		if req == nil || req.IsTsig() == nil {
			return reply
		}
		reqMAC := req.IsTsig().MAC
		m := new(dns.Msg)
		if m.Unpack(reply) != nil {
			return reply
		}
		var extra []dns.RR
		for _, rr := range m.Extra {
			if rr.Header().Rrtype != dns.TypeTSIG {
				extra = append(extra, rr)
			}
		}
		m.Extra = extra
		t := &dns.TSIG{
			Hdr:        dns.RR_Header{Name: dns.CanonicalName(name), Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
			Algorithm:  dns.CanonicalName(alg),
			TimeSigned: uint64(time.Now().Unix()),
			Fudge:      300,
			OrigId:     m.Id,
		}
		if edit != nil {
			edit(m, t)
		}
		m.Extra = append(m.Extra, t)
		b, _, err := dns.TsigGenerate(m, secret, reqMAC, false)
		if err != nil {
			return reply
		}
		return b
	}
}
