package dnscheck

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/miekg/dns"
)

const otherSecret = "b3RoZXItb3RoZXItb3RoZXItb3RoZXItc2VjcmV0IQ==" // test-only

// hostilePrimary is a fresh primary for example.test behind a proxy that
// rewrites its replies with f; the update is sent to the proxy.
func hostilePrimary(t *testing.T, f dnstest.Tamper) (p *dnstest.Server, proxy *dnstest.Proxy) {
	t.Helper()
	p = start(t, dnstest.Config{Zones: map[string]string{"example.test": testZone}, Keys: map[string]string{keyName: keySecret}, AllowUpdate: true})
	proxy, err := dnstest.StartProxy("", p.Addr(), f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	return p, proxy
}

// wwwChange replaces 10.0.0.12 by 10.0.0.13, read from the zone as it starts.
var wwwChange = Change{Zone: "example.test.", Name: "www.example.test.", Add: addrs("10.0.0.13"), Remove: addrs("10.0.0.12"), TTL: 300}

var wwwHave = addrs("10.0.0.11", "10.0.0.12")

// TestApplyRefusesUnauthenticatedReplies: a reply to the signed update
// counts only with a TSIG from the same key whose MAC verifies, whose
// error is 0 and whose time is within the fudge, with the update's ID,
// opcode UPDATE and zone (RFC 8945 5.3). Anything else is ErrRefused and
// ErrUnverified (hawiz dns apply: exit 4), naming the server and the
// reason, and never claims that nothing changed.
func TestApplyRefusesUnauthenticatedReplies(t *testing.T) {
	edit := func(e func(m *dns.Msg, ts *dns.TSIG)) dnstest.Tamper {
		return dnstest.Resign(keyName, dns.HmacSHA256, keySecret, e)
	}
	cases := []struct {
		name   string
		tamper dnstest.Tamper
		says   string // what the reply claims
		want   string // the reason given
	}{
		{"unsigned", dnstest.StripTSIG, "says NOERROR", "it is not signed (no TSIG record)"},
		{"another key", dnstest.Resign("other-key", dns.HmacSHA256, otherSecret, nil), "says NOERROR",
			"it is signed with the key other-key (hmac-sha256), not hawiz-test (hmac-sha256)"},
		{"another algorithm", dnstest.Resign(keyName, dns.HmacSHA512, keySecret, nil), "says NOERROR",
			"it is signed with the key hawiz-test (hmac-sha512), not hawiz-test (hmac-sha256)"},
		{"another secret", dnstest.Resign(keyName, dns.HmacSHA256, otherSecret, nil), "says NOERROR",
			"its MAC does not verify with the key hawiz-test (the reply was altered on the way, or signed with another secret)"},
		{"tampered", func(req *dns.Msg, reply []byte) []byte {
			b := append([]byte(nil), reply...)
			b[3] |= 0x80 // the RA bit: nothing hawiz reads, but the MAC covers it
			return b
		}, "says NOERROR", "its MAC does not verify with the key hawiz-test"},
		{"TSIG error BADTIME", edit(func(m *dns.Msg, ts *dns.TSIG) { ts.Error = dns.RcodeBadTime }), "says NOERROR", "its TSIG error is BADTIME"},
		{"TSIG error BADSIG", edit(func(m *dns.Msg, ts *dns.TSIG) { ts.Error = dns.RcodeBadSig }), "says NOERROR", "its TSIG record carries no MAC"},
		// The MAC covers the TSIG's original ID, not the header's: a man in
		// the middle can change the latter without the key.
		// ("its ID N is not the update's M")
		{"ID", func(req *dns.Msg, reply []byte) []byte {
			b := append([]byte(nil), reply...)
			binary.BigEndian.PutUint16(b, req.Id^0x5a5a)
			return b
		}, "says NOERROR", "is not the update's"},
		{"TSIG original ID", func(req *dns.Msg, reply []byte) []byte {
			b := edit(func(m *dns.Msg, ts *dns.TSIG) { ts.OrigId ^= 0x5a5a })(req, reply)
			binary.BigEndian.PutUint16(b, req.Id) // miekg/dns writes the original ID into the header
			return b
		}, "says NOERROR", "its TSIG is for message ID"},
		{"opcode", edit(func(m *dns.Msg, ts *dns.TSIG) { m.Opcode = dns.OpcodeQuery }), "says NOERROR", "its opcode is QUERY, not UPDATE"},
		{"zone", edit(func(m *dns.Msg, ts *dns.TSIG) { m.Question[0].Name = "other.test." }), "says NOERROR",
			"its zone section names other.test IN SOA, not the zone example.test"},
		{"not a response", edit(func(m *dns.Msg, ts *dns.TSIG) { m.Response = false }), "says NOERROR", "the QR bit is clear"},
		{"time outside the fudge", edit(func(m *dns.Msg, ts *dns.TSIG) { ts.TimeSigned -= 3600 }), "says NOERROR",
			"from this machine's clock, beyond the fudge of 5m0s"},
		{"time within a fudge of its own", edit(func(m *dns.Msg, ts *dns.TSIG) { ts.TimeSigned -= 3600; ts.Fudge = 7200 }), "says NOERROR",
			"from this machine's clock, beyond the fudge of 5m0s"},
		{"unsigned prerequisite failure", func(req *dns.Msg, reply []byte) []byte {
			m := new(dns.Msg)
			m.Unpack(dnstest.StripTSIG(req, reply))
			m.Rcode = dns.RcodeNXRrset
			b, _ := m.Pack()
			return b
		}, "says NXRRSET", "it is not signed (no TSIG record)"},
		{"unsigned BADSIG from another key", dnstest.Resign("other-key", dns.HmacSHA256, otherSecret, func(m *dns.Msg, ts *dns.TSIG) {
			m.Rcode, ts.Error = dns.RcodeNotAuth, dns.RcodeBadSig
		}), "says NOTAUTH, TSIG error BADSIG", "it is signed with the key other-key"},
		{"NOTAUTH BADTIME with another secret", dnstest.Resign(keyName, dns.HmacSHA256, otherSecret, func(m *dns.Msg, ts *dns.TSIG) {
			m.Rcode, ts.Error = dns.RcodeNotAuth, dns.RcodeBadTime
		}), "says NOTAUTH, TSIG error BADTIME", "its MAC does not verify"},
		{"garbage", func(*dns.Msg, []byte) []byte { return []byte{1, 2, 3} }, "does not count", "it does not parse"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, proxy := hostilePrimary(t, tc.tamper)
			err := Apply(context.Background(), proxy.Addr(), wwwChange, testKey, wwwHave)
			if err == nil {
				t.Fatal("the reply counted as success")
			}
			var ue *UpdateError
			if !errors.Is(err, ErrRefused) || !errors.Is(err, ErrUnverified) || errors.Is(err, ErrPrerequisite) || !errors.As(err, &ue) || ue.Server != proxy.Addr() {
				t.Fatalf("err %#v: %v", err, err)
			}
			msg := err.Error()
			for _, want := range []string{"update to " + proxy.Addr() + ": ", tc.says, tc.want, "the zone may or may not have changed: verify"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q:\n%s", want, msg)
				}
			}
			if strings.Contains(msg, "nothing was changed") || strings.Contains(msg, keySecret) || strings.Contains(msg, otherSecret) {
				t.Errorf("message: %s", msg)
			}
		})
	}
}

// TestApplyAuthenticatedReplies: what a server holding the key signs counts,
// NOTAUTH included (miekg/dns does not verify those itself); the unsigned
// BADKEY/BADSIG error of RFC 8945 5.3.2 is a refusal.
func TestApplyAuthenticatedReplies(t *testing.T) {
	// Through a proxy that changes nothing: done.
	p, proxy := hostilePrimary(t, nil)
	if err := Apply(context.Background(), proxy.Addr(), wwwChange, testKey, wwwHave); err != nil {
		t.Fatal(err)
	}
	if got := wwwA(p); got != "10.0.0.11,10.0.0.13" {
		t.Fatalf("zone has %s", got)
	}
	// Re-signed with the key, unchanged: done (Resign makes a valid reply).
	_, proxy = hostilePrimary(t, dnstest.Resign(keyName, dns.HmacSHA256, keySecret, nil))
	if err := Apply(context.Background(), proxy.Addr(), wwwChange, testKey, wwwHave); err != nil {
		t.Fatal(err)
	}
	// Without a zone section, as RFC 2136 3.8 allows: done.
	_, proxy = hostilePrimary(t, dnstest.Resign(keyName, dns.HmacSHA256, keySecret, func(m *dns.Msg, ts *dns.TSIG) { m.Question = nil }))
	if err := Apply(context.Background(), proxy.Addr(), wwwChange, testKey, wwwHave); err != nil {
		t.Fatal(err)
	}

	refusals := []struct {
		name   string
		tamper dnstest.Tamper
		want   string
	}{
		{"signed BADTIME", dnstest.Resign(keyName, dns.HmacSHA256, keySecret, func(m *dns.Msg, ts *dns.TSIG) {
			m.Rcode, ts.Error = dns.RcodeNotAuth, dns.RcodeBadTime
		}), "NOTAUTH, TSIG error BADTIME (the clocks of this machine and the server differ); nothing was changed"},
		{"signed NOTAUTH", dnstest.Resign(keyName, dns.HmacSHA256, keySecret, func(m *dns.Msg, ts *dns.TSIG) { m.Rcode = dns.RcodeNotAuth }),
			"NOTAUTH (the server is not authoritative for the zone, or rejected the signature); nothing was changed"},
		{"unsigned BADSIG", dnstest.Resign(keyName, dns.HmacSHA256, keySecret, func(m *dns.Msg, ts *dns.TSIG) {
			m.Rcode, ts.Error = dns.RcodeNotAuth, dns.RcodeBadSig
		}), "NOTAUTH, TSIG error BADSIG (the key's secret does not match the server's); nothing was changed"},
		{"signed REFUSED", dnstest.Resign(keyName, dns.HmacSHA256, keySecret, func(m *dns.Msg, ts *dns.TSIG) { m.Rcode = dns.RcodeRefused }),
			"REFUSED (the server does not allow"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			_, proxy := hostilePrimary(t, tc.tamper)
			err := Apply(context.Background(), proxy.Addr(), wwwChange, testKey, wwwHave)
			if !errors.Is(err, ErrRefused) || errors.Is(err, ErrUnverified) || !strings.Contains(err.Error(), "update refused by "+proxy.Addr()+": "+tc.want) {
				t.Fatalf("err %v", err)
			}
		})
	}
}

// TestApplyNoReply: a server that takes the update and closes the
// connection without a word: not done, and it may have changed the zone.
func TestApplyNoReply(t *testing.T) {
	p, proxy := hostilePrimary(t, func(*dns.Msg, []byte) []byte { return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := Apply(ctx, proxy.Addr(), wwwChange, testKey, wwwHave)
	if err == nil || errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "update to "+proxy.Addr()) || !strings.Contains(err.Error(), "may or may not have changed") {
		t.Fatalf("err %v", err)
	}
	if got := wwwA(p); got != "10.0.0.11,10.0.0.13" {
		t.Errorf("the primary did not get the update: %s", got)
	}
}

// TestApplyUnsupportedAlgorithm: a key hawiz cannot sign with (miekg/dns
// has no HMAC-MD5) is bad input naming the field, and nothing is sent; it
// used to be sent to nobody and reported as "the zone may or may not have
// changed".
func TestApplyUnsupportedAlgorithm(t *testing.T) {
	p, proxy := hostilePrimary(t, nil)
	err := Apply(context.Background(), proxy.Addr(), wwwChange, TSIGKey{Name: keyName, Algorithm: "hmac-md5", Secret: keySecret}, wwwHave)
	var ie *InputError
	if !errors.As(err, &ie) || ie.Field != "tsig algorithm" || !strings.Contains(err.Error(), "hmac-md5 is not supported") || p.Queries() != 0 {
		t.Fatalf("err %v, %d queries", err, p.Queries())
	}
	if _, err := ParseTSIGKeyLine("hmac-md5:k:" + keySecret); err == nil || !strings.Contains(err.Error(), "tsig algorithm: hmac-md5 is not supported") {
		t.Fatalf("key line: %v", err)
	}
}
