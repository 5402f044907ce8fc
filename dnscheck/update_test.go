package dnscheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/miekg/dns"
)

var testKey = TSIGKey{Name: keyName, Algorithm: "hmac-sha256", Secret: keySecret}

func wwwA(s interface{ Records(string, uint16) []dns.RR }) string {
	var out []string
	for _, rr := range s.Records("www.example.test", dns.TypeA) {
		out = append(out, rr.(*dns.A).A.String())
	}
	return strings.Join(out, ",")
}

func TestApplyAcceptedThenConsistent(t *testing.T) {
	p, s := pair(t, true)
	expect := addrs("10.0.0.11", "10.0.0.13")
	q := Query{Name: "www.example.test", Expect: expect, Servers: []string{p.Addr(), s.Addr()}, Resolver: "127.0.0.1:1", Timeout: time.Second}
	r, _ := Verify(context.Background(), q)
	c, err := PlanChange(r, expect, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Zone != "example.test." || c.Primary != p.Addr() || c.TTL != 300 || !equal(c.Add, addrs("10.0.0.13")) || !equal(c.Remove, addrs("10.0.0.12")) {
		t.Fatalf("change %+v", c)
	}
	script := strings.Join(c.Script(), "\n")
	for _, want := range []string{
		"zone example.test.",
		"prereq yxrrset www.example.test. A 10.0.0.11",
		"prereq yxrrset www.example.test. A 10.0.0.12",
		"update delete www.example.test. A 10.0.0.12",
		"update add www.example.test. 300 A 10.0.0.13",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if err := Apply(context.Background(), c.Primary, c, testKey, c.Have); err != nil {
		t.Fatal(err)
	}
	r, err = WaitConsistent(context.Background(), q, 5*time.Second)
	if err != nil || !r.OK {
		t.Fatalf("after apply: %v %s", err, problems(r))
	}
	if r.Servers[0].Serial != 2026112202 || wwwA(s) != "10.0.0.11,10.0.0.13" {
		t.Errorf("serial %d, secondary has %s", r.Servers[0].Serial, wwwA(s))
	}

	// A TTL asked for: every server that gives another is a problem, and
	// the change rewrites the whole RRset with it.
	q.TTL = 60
	r, _ = Verify(context.Background(), q)
	if r.OK || len(r.Problems) != 2 || !strings.Contains(r.Problems[0], "TTL 300, not 60") {
		t.Fatalf("ttl 60 asked: %s", problems(r))
	}
	c, err = PlanChange(r, expect, 60)
	if err != nil || c.OldTTL != 300 || c.TTL != 60 || !equal(c.Remove, expect) || !equal(c.Add, expect) {
		t.Fatalf("ttl change %+v: %v", c, err)
	}
	if err := Apply(context.Background(), c.Primary, c, testKey, c.Have); err != nil {
		t.Fatal(err)
	}
	r, err = WaitConsistent(context.Background(), q, 5*time.Second)
	if err != nil || !r.OK || r.Servers[1].TTL != 60 || wwwA(s) != "10.0.0.11,10.0.0.13" {
		t.Fatalf("after the ttl change: %v %s (secondary ttl %d)", err, problems(r), r.Servers[1].TTL)
	}
}

func TestApplyCreatesWithDefaultTTL(t *testing.T) {
	p, _ := pair(t, true)
	expect := addrs("10.0.0.21", "10.0.0.22", "2001:db8::21")
	q := Query{Name: "new.example.test", Expect: expect, Servers: []string{p.Addr()}, Resolver: "127.0.0.1:1"}
	r, _ := Verify(context.Background(), q)
	c, err := PlanChange(r, expect, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.TTL != DefaultTTL || len(c.Add) != 3 {
		t.Fatalf("change %+v", c)
	}
	script := strings.Join(c.Script(), "\n")
	if !strings.Contains(script, "prereq nxrrset new.example.test. A") || !strings.Contains(script, "prereq nxrrset new.example.test. AAAA") {
		t.Errorf("script:\n%s", script)
	}
	if err := Apply(context.Background(), c.Primary, c, testKey, c.Have); err != nil {
		t.Fatal(err)
	}
	if r, _ := Verify(context.Background(), q); !r.OK || r.Servers[0].TTL != 300 {
		t.Fatalf("after apply: %s", problems(r))
	}
}

func TestApplyRefused(t *testing.T) {
	p, s := pair(t, true)
	expect := addrs("10.0.0.11", "10.0.0.13")
	r, _ := Verify(context.Background(), Query{Name: "www.example.test", Expect: expect, Servers: []string{p.Addr()}, Resolver: "127.0.0.1:1"})
	c, err := PlanChange(r, expect, 0)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		server string
		key    TSIGKey
		want   string
		rcode  int
	}{
		{"wrong secret", p.Addr(), TSIGKey{Name: keyName, Secret: "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmc="}, "NOTAUTH, TSIG error BADSIG", dns.RcodeNotAuth},
		{"unknown key", p.Addr(), TSIGKey{Name: "other-key", Secret: keySecret}, "NOTAUTH, TSIG error BADKEY", dns.RcodeNotAuth},
		{"secondary", s.Addr(), testKey, "REFUSED", dns.RcodeRefused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Apply(context.Background(), tc.server, c, tc.key, c.Have)
			var ue *UpdateError
			if !errors.Is(err, ErrRefused) || errors.Is(err, ErrPrerequisite) || !errors.As(err, &ue) || ue.Rcode != tc.rcode {
				t.Fatalf("err %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.server) {
				t.Errorf("message %q lacks %q or the server", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.key.Secret) {
				t.Error("the secret is in the error")
			}
			if got := wwwA(p); got != "10.0.0.11,10.0.0.12" || p.Updates() != 0 || p.Serial("example.test") != 2026112201 {
				t.Errorf("zone changed: %s serial %d", got, p.Serial("example.test"))
			}
		})
	}
}

func TestApplyPrerequisiteFails(t *testing.T) {
	p, _ := pair(t, true)
	expect := addrs("10.0.0.11", "10.0.0.13")
	r, _ := Verify(context.Background(), Query{Name: "www.example.test", Expect: expect, Servers: []string{p.Addr()}, Resolver: "127.0.0.1:1"})
	c, _ := PlanChange(r, expect, 0)
	// Someone else changes the records between read and update.
	p.Replace("www.example.test", dns.TypeA, "www.example.test. 300 IN A 10.0.0.11", "www.example.test. 300 IN A 10.0.0.12", "www.example.test. 300 IN A 10.0.0.99")
	err := Apply(context.Background(), c.Primary, c, testKey, c.Have)
	if !errors.Is(err, ErrPrerequisite) || !errors.Is(err, ErrRefused) {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(err.Error(), "the records changed since they were read; nothing was changed, run again") {
		t.Errorf("message %q", err)
	}
	if got := wwwA(p); got != "10.0.0.11,10.0.0.12,10.0.0.99" {
		t.Errorf("zone changed: %s", got)
	}
	// A name that appeared since it was read as absent.
	c2 := Change{Zone: "example.test.", Name: "www.example.test.", Add: addrs("10.0.0.1"), TTL: 60}
	if err := Apply(context.Background(), p.Addr(), c2, testKey, nil); !errors.Is(err, ErrPrerequisite) {
		t.Fatalf("nxrrset prereq: %v", err)
	}
}

func TestApplyDeadPrimaryIsBounded(t *testing.T) {
	dead := start(t, dnstest.Config{Dead: true})
	c := Change{Zone: "example.test.", Name: "www.example.test.", Add: addrs("10.0.0.1"), TTL: 60}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Apply(ctx, dead.Addr(), c, testKey, nil)
	if err == nil || errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "timeout") || time.Since(start) > time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestPlanChangeNeedsAnsweringPrimary(t *testing.T) {
	r := Report{Name: "www.example.test.", Servers: []ServerReport{{Name: "ns1", Address: "192.0.2.1:53", Primary: true, Error: "no answer within 2s (timeout)"}}}
	if _, err := PlanChange(r, addrs("10.0.0.1"), 0); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("err %v", err)
	}
	if _, err := PlanChange(Report{Name: "x."}, addrs("10.0.0.1"), 0); err == nil {
		t.Fatal("no primary accepted")
	}
}

func TestTSIGFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o600)
		return p
	}
	good := write("good.key", "# made by tsig-keygen\nkey \"hawiz-update\" {\n\talgorithm hmac-sha512;\n\tsecret \""+keySecret+"\";\n};\n")
	k, err := LoadTSIGFile(good)
	if err != nil || k.Name != "hawiz-update" || k.Algorithm != "hmac-sha512" || k.Secret != keySecret {
		t.Fatalf("%v %v", k, err)
	}
	for _, s := range []string{k.String(), fmt.Sprintf("%v %+v %#v", k, k, k), mustJSON(t, k), slogText(k)} {
		if strings.Contains(s, keySecret) || !strings.Contains(s, "hawiz-update") {
			t.Errorf("secret shown or name missing: %s", s)
		}
	}
	bad := map[string]string{
		"missing":   filepath.Join(dir, "nope.key"),
		"empty":     write("empty.key", ""),
		"nosecret":  write("nosecret.key", `key "k" { algorithm hmac-sha256; };`),
		"badalg":    write("badalg.key", `key "k" { algorithm hmac-sha3000; secret "`+keySecret+`"; };`),
		"badbase64": write("badb64.key", `key "k" { algorithm hmac-sha256; secret "not base64!!"; };`),
		"garbage":   write("garbage.key", `key "k" { algorithm hmac-sha256; "`+keySecret+`"; };`),
		"unclosed":  write("unclosed.key", `key "k" { algorithm hmac-sha256; secret "`+keySecret+`";`),
	}
	for name, path := range bad {
		_, err := LoadTSIGFile(path)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != "tsig-file" || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), keySecret) {
			t.Errorf("%s: the secret is in the error: %v", name, err)
		}
	}
	if _, err := LoadTSIGFile(bad["badalg"]); err == nil || !strings.Contains(err.Error(), "unknown algorithm") {
		t.Errorf("badalg: %v", err)
	}
	if err := (TSIGKey{Name: "k", Algorithm: "hmac-foo", Secret: keySecret}).Validate(); err == nil || !strings.Contains(err.Error(), "tsig algorithm") {
		t.Errorf("validate: %v", err)
	}
}

// TestTSIGKeyLine: nsupdate -y's [ALGORITHM:]NAME:SECRET, in a file or given
// directly; errors name the part and never hold the secret.
func TestTSIGKeyLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "y.key")
	os.WriteFile(p, []byte("hmac-sha512:hawiz-update:"+keySecret+"\n"), 0o600)
	if k, err := LoadTSIGFile(p); err != nil || k.Name != "hawiz-update" || k.Algorithm != "hmac-sha512" || k.Secret != keySecret {
		t.Fatalf("file: %v %v", k, err)
	}
	if k, err := ParseTSIGKeyLine("hawiz-update:" + keySecret); err != nil || k.Algorithm != "hmac-sha256" || k.Name != "hawiz-update" {
		t.Fatalf("two parts: %v %v", k, err)
	}
	for line, want := range map[string]string{
		keySecret:                                   "expected [ALGORITHM:]NAME:SECRET",
		"a:b:c:" + keySecret:                        "expected [ALGORITHM:]NAME:SECRET",
		"hmac-sha3000:k:" + keySecret:               "unknown algorithm",
		"k:not base64!!" + keySecret[:4]:            "tsig secret",
		":" + keySecret:                             "tsig key name",
		"hmac-sha256:hawiz-update:" + keySecret[:5]: "tsig secret",
	} {
		_, err := ParseTSIGKeyLine(line)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", line, err, want)
		}
		if err != nil && strings.Contains(err.Error(), keySecret[:8]) {
			t.Errorf("%q: the secret is in the error: %v", line, err)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func slogText(v any) string {
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("key", "key", v)
	return b.String()
}
