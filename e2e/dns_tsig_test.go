//go:build e2e

package e2e

// The TSIG of BIND's replies to hawiz's signed UPDATE (RFC 8945 5.3): a real
// signed update counts only because BIND's reply verifies; the same reply
// with its TSIG stripped or one bit changed on the way does not, though
// BIND did the update; a wrong key gets BIND's NOTAUTH with BADSIG or
// BADKEY, reported naming the server. A proxy (dnstest.Proxy) stands in
// front of BIND's primary as the man in the middle.
//
//	go test -tags e2e -run DNSTSIG ./e2e/

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hawiz/hawiz/dnscheck"
	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/miekg/dns"
)

// mitm starts a proxy in front of BIND's primary that rewrites its replies with f.
func (l *bindLab) mitm(t *testing.T, f dnstest.Tamper) *dnstest.Proxy {
	t.Helper()
	p, err := dnstest.StartProxy("", l.Primary, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// planCreate is the change that creates name with addrs, read from the primary.
func (l *bindLab) planCreate(t *testing.T, name string, addrs []string) dnscheck.Change {
	t.Helper()
	r := verifyOK(t, l.query(name, mustAddrs(addrs...), l.Primary))
	c, err := dnscheck.PlanChange(r, mustAddrs(addrs...), 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDNSTSIGLabReplyVerified(t *testing.T) {
	l := needBind(t)

	// A real signed update through a proxy that changes nothing: BIND signs
	// its reply with the key, and it counts.
	var mu sync.Mutex
	var seen []*dns.TSIG
	record := l.mitm(t, func(req *dns.Msg, reply []byte) []byte {
		m := new(dns.Msg)
		if req != nil && req.Opcode == dns.OpcodeUpdate && m.Unpack(reply) == nil {
			mu.Lock()
			seen = append(seen, m.IsTsig())
			mu.Unlock()
		}
		return reply
	})
	name := l.uniqueName("tsig-ok")
	c := l.planCreate(t, name, []string{"10.7.0.1"})
	if err := dnscheck.Apply(context.Background(), record.Addr(), c, l.Key, c.Have); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(seen) != 1 || seen[0] == nil || !strings.EqualFold(seen[0].Hdr.Name, dns.Fqdn(l.Key.Name)) || seen[0].MAC == "" || seen[0].Error != 0 {
		t.Fatalf("BIND's reply TSIG: %v", seen)
	}
	t.Logf("BIND's reply: TSIG key %s, algorithm %s, error %d, MAC of %d bytes", seen[0].Hdr.Name, seen[0].Algorithm, seen[0].Error, seen[0].MACSize)
	mu.Unlock()
	if got, _ := primaryA(t, l, name); fmt.Sprint(got) != "[10.7.0.1]" {
		t.Fatalf("primary has %v", got)
	}

	// The same kind of update, BIND's reply stripped of its TSIG or with
	// one bit changed (the RA bit, which hawiz does not read): BIND did
	// the update, but hawiz cannot know it from that reply.
	for _, tc := range []struct {
		name   string
		tamper dnstest.Tamper
		want   string
	}{
		{"unsigned", dnstest.StripTSIG, "it is not signed (no TSIG record)"},
		{"tampered", func(req *dns.Msg, reply []byte) []byte {
			b := append([]byte(nil), reply...)
			if req != nil && req.Opcode == dns.OpcodeUpdate {
				b[3] |= 0x80
			}
			return b
		}, "its MAC does not verify with the key " + l.Key.Name},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := l.mitm(t, tc.tamper)
			name := l.uniqueName("tsig-" + tc.name)
			c := l.planCreate(t, name, []string{"10.7.0.2"})
			err := dnscheck.Apply(context.Background(), p.Addr(), c, l.Key, c.Have)
			var ue *dnscheck.UpdateError
			if !errors.Is(err, dnscheck.ErrUnverified) || !errors.Is(err, dnscheck.ErrRefused) || !errors.As(err, &ue) || ue.Server != p.Addr() {
				t.Fatalf("err %v", err)
			}
			t.Logf("%s: %v", tc.name, err)
			if !strings.Contains(err.Error(), "update to "+p.Addr()+": the reply says NOERROR but is not authenticated") || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "the zone may or may not have changed: verify") {
				t.Errorf("message: %v", err)
			}
			if got, _ := primaryA(t, l, name); fmt.Sprint(got) != "[10.7.0.2]" {
				t.Fatalf("BIND did not get the update (%v): the test proves nothing", got)
			}
		})
	}

	// BIND's signed NOTAUTH for a zone it does not serve: miekg/dns does not
	// verify NOTAUTH replies, hawiz does, and it is a refusal.
	other := dnscheck.Change{Zone: "not-served.hawiz.test.", Name: "x.not-served.hawiz.test.", Add: mustAddrs("10.7.0.3"), TTL: 60}
	err := dnscheck.Apply(context.Background(), l.Primary, other, l.Key, nil)
	var ue *dnscheck.UpdateError
	if !errors.As(err, &ue) || errors.Is(err, dnscheck.ErrUnverified) || ue.Rcode != dns.RcodeNotAuth || ue.TSIGError != 0 ||
		!strings.Contains(err.Error(), "update refused by "+l.Primary+": NOTAUTH") {
		t.Fatalf("zone not served: %v", err)
	}
	t.Logf("zone not served: %v", err)

	// The secondary's signed REFUSED verifies too: a refusal, nothing changed.
	err = dnscheck.Apply(context.Background(), l.Secondary, dnscheck.Change{Zone: l.Zone, Name: l.uniqueName("tsig-secondary"), Add: mustAddrs("10.7.0.4"), TTL: 60}, l.Key, nil)
	if !errors.As(err, &ue) || errors.Is(err, dnscheck.ErrUnverified) || ue.Rcode != dns.RcodeRefused || !strings.HasSuffix(err.Error(), "; nothing was changed") {
		t.Fatalf("secondary: %v", err)
	}
}

func TestDNSTSIGLabWrongKeys(t *testing.T) {
	l := needBind(t)
	name := l.uniqueName("tsig-wrong")
	l.applyExpect(t, name, mustAddrs("10.8.0.1"))
	before, serial := primaryA(t, l, name)

	wrong, err := dnscheck.LoadTSIGFile(l.WrongKeyFile) // the lab key's name, another secret
	if err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	unknown := dnscheck.TSIGKey{Name: "hawiz-unknown-key", Algorithm: "hmac-sha256", Secret: base64.StdEncoding.EncodeToString(secret)}

	for _, tc := range []struct {
		name     string
		key      dnscheck.TSIGKey
		tsigErr  int
		wantText string
	}{
		{"wrong secret", wrong, dns.RcodeBadSig, "NOTAUTH, TSIG error BADSIG (the key's secret does not match the server's); nothing was changed"},
		{"unknown key", unknown, dns.RcodeBadKey, "NOTAUTH, TSIG error BADKEY (the server does not know this key name or algorithm); nothing was changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := l.planCreate(t, name, []string{"10.8.0.9"})
			err := dnscheck.Apply(context.Background(), l.Primary, c, tc.key, c.Have)
			var ue *dnscheck.UpdateError
			if !errors.Is(err, dnscheck.ErrRefused) || errors.Is(err, dnscheck.ErrUnverified) || !errors.As(err, &ue) {
				t.Fatalf("err %v, want a refusal", err)
			}
			t.Logf("%s: %v", tc.name, err)
			if ue.Rcode != dns.RcodeNotAuth || ue.TSIGError != tc.tsigErr || ue.Server != l.Primary || !strings.Contains(err.Error(), "update refused by "+l.Primary+": "+tc.wantText) {
				t.Errorf("rcode %d tsig %d: %v", ue.Rcode, ue.TSIGError, err)
			}
			if strings.Contains(err.Error(), tc.key.Secret) || strings.Contains(err.Error(), l.Key.Secret) {
				t.Fatal("a secret is in the error")
			}
			after, serial2 := primaryA(t, l, name)
			if fmt.Sprint(before) != fmt.Sprint(after) || serial != serial2 {
				t.Fatalf("zone changed: %v serial %d -> %v serial %d", before, serial, after, serial2)
			}
		})
	}
}

// TestDNSTSIGLabCLI: hawiz dns apply exits 4 naming the server when the
// primary's reply is unsigned, and when BIND does not know the key.
func TestDNSTSIGLabCLI(t *testing.T) {
	l := needBind(t)
	p := l.mitm(t, dnstest.StripTSIG)
	name := l.uniqueName("tsig-cli")
	code, out := runHawiz(t, "dns", "apply", name, "--expect", "10.9.0.1", "--server", p.Addr(), "--server", l.Secondary, "--resolver", l.Primary,
		"--tsig-file", l.KeyFile, "--yes")
	if code != 4 || !strings.Contains(out, "update to "+p.Addr()+": the reply says NOERROR but is not authenticated") || strings.Contains(out, "update accepted") {
		t.Fatalf("unsigned reply: exit %d\n%s", code, out)
	}

	secret := make([]byte, 32)
	rand.Read(secret)
	keyFile := filepath.Join(t.TempDir(), "unknown.key")
	if err := os.WriteFile(keyFile, []byte("key \"hawiz-unknown-key\" {\n\talgorithm hmac-sha256;\n\tsecret \""+base64.StdEncoding.EncodeToString(secret)+"\";\n};\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	name = l.uniqueName("tsig-cli-badkey")
	code, out = runHawiz(t, "dns", "apply", name, "--expect", "10.9.0.2", "--server", l.Primary, "--server", l.Secondary, "--resolver", l.Primary,
		"--tsig-file", keyFile, "--yes")
	if code != 4 || !strings.Contains(out, "update refused by "+l.Primary+": NOTAUTH, TSIG error BADKEY") || strings.Contains(out, base64.StdEncoding.EncodeToString(secret)) {
		t.Fatalf("unknown key: exit %d\n%s", code, out)
	}
}
