package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote/sshtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func newCA(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// certServer starts a server whose host key carries a certificate signed by
// ca: a host cert for principal 127.0.0.1, valid from an hour ago to an hour
// from now, changed by mod before it is signed.
func (l *lab) certServer(ca ssh.Signer, mod func(*ssh.Certificate)) *sshtest.Server {
	return l.server(func(c *sshtest.Config) {
		c.HostCertificate = func(k ssh.PublicKey) (*ssh.Certificate, error) {
			now := time.Now()
			cert := &ssh.Certificate{Key: k, Serial: 7, CertType: ssh.HostCert, KeyId: "web1 host key",
				ValidPrincipals: []string{"127.0.0.1"},
				ValidAfter:      uint64(now.Add(-time.Hour).Unix()), ValidBefore: uint64(now.Add(time.Hour).Unix())}
			if mod != nil {
				mod(cert)
			}
			return cert, cert.SignCert(rand.Reader, ca)
		}
	})
}

func authorizedLine(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func caLine(pattern string, ca ssh.PublicKey) string {
	return "@cert-authority " + pattern + " " + authorizedLine(ca) + "\n"
}

func (l *lab) writeKnownHosts(content string) {
	l.t.Helper()
	if err := os.WriteFile(l.knownHosts, []byte(content), 0o600); err != nil {
		l.t.Fatal(err)
	}
}

// yesOpts are the lab's options with a ConfirmHostKeys that accepts every key
// it is shown, as --yes does, and counts the keys shown.
func (l *lab) yesOpts(shown *atomic.Int32) Options {
	o := l.opts()
	o.ConfirmHostKeys = func(_ context.Context, keys []NewHostKey) (map[string]bool, error) {
		shown.Add(int32(len(keys)))
		m := map[string]bool{}
		for _, k := range keys {
			m[k.Host] = true
		}
		return m, nil
	}
	return o
}

// TestHostCertAccepted: a host that a @cert-authority line covers and that
// presents a certificate from that CA is connected to without any prompt and
// without anything written to known_hosts, whatever form of pattern covers
// it (OpenSSH's matching: wildcards over "[host]:port", negation, case,
// hashed names, several CAs on one line's host).
func TestHostCertAccepted(t *testing.T) {
	l := newLab(t)
	ca := newCA(t)
	s := l.certServer(ca, nil)
	port := itoa(s.Port())
	other := newCA(t)
	for _, kh := range []string{
		caLine("*", ca.PublicKey()),
		caLine("[127.0.0.1]:*", ca.PublicKey()),
		caLine("[127.0.0.?]:"+port, ca.PublicKey()),
		caLine("[127.0.0.1]:"+port, ca.PublicKey()),
		caLine("!*.example.com,[127.0.0.1]:"+port, ca.PublicKey()),
		caLine(knownhosts.HashHostname("[127.0.0.1]:"+port), ca.PublicKey()),
		caLine("*", other.PublicKey()) + caLine("[127.0.0.1]:*", ca.PublicKey()), // the right CA among several
	} {
		l.writeKnownHosts(kh)
		var shown atomic.Int32
		f, err := Connect(ctxT(t), l.yesOpts(&shown), []HostConfig{l.hostConfig("web1", s)})
		if err != nil {
			t.Fatalf("known_hosts %q: %v", kh, err)
		}
		res, err := f.Host("web1").Run(ctxT(t), Cmd{Program: "echo", Args: []string{"ok"}})
		f.Close()
		if err != nil || string(res.Stdout) != "ok\n" {
			t.Fatalf("known_hosts %q: %v %q", kh, err, res.Stdout)
		}
		if n := shown.Load(); n != 0 {
			t.Errorf("known_hosts %q: %d keys shown for confirmation, want none", kh, n)
		}
		if b, _ := os.ReadFile(l.knownHosts); string(b) != kh {
			t.Errorf("known_hosts changed:\n%s", b)
		}
	}
}

// TestHostCertPlainKeyRefused: a host that a CA line covers but that
// presents a plain key (no certificate) is refused by name, even by an
// operator who accepts every key (--yes); nothing is pinned, nothing is
// sent to the host.
func TestHostCertPlainKeyRefused(t *testing.T) {
	l := newLab(t)
	ca := newCA(t)
	s := l.server(nil) // no certificate
	kh := "# site CA\n" + caLine("[127.0.0.1]:*", ca.PublicKey())
	l.writeKnownHosts(kh)
	var shown atomic.Int32
	_, err := Connect(ctxT(t), l.yesOpts(&shown), []HostConfig{l.hostConfig("web1", s)})
	var ce *HostCertError
	if !errors.As(err, &ce) || ce.Reason != "" || ce.Host != "web1" {
		t.Fatalf("err = %v", err)
	}
	if ce.KeyType != ssh.KeyAlgoED25519 || ce.Fingerprint != ssh.FingerprintSHA256(s.HostKey()) || ce.Authority != l.knownHosts+":2" {
		t.Fatalf("%+v", ce)
	}
	for _, want := range []string{"host web1", "127.0.0.1:" + itoa(s.Port()), "no certificate signed by its CA", l.knownHosts + ":2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if shown.Load() != 0 || s.Accepted() != 0 {
		t.Fatalf("shown %d keys, authenticated %d times", shown.Load(), s.Accepted())
	}
	if b, _ := os.ReadFile(l.knownHosts); string(b) != kh {
		t.Fatalf("known_hosts changed:\n%s", b)
	}

	// A key the operator recorded for the host is accepted, as by OpenSSH:
	// that is not trust on first use.
	l.writeKnownHosts(kh + "[127.0.0.1]:" + itoa(s.Port()) + " " + authorizedLine(s.HostKey()) + "\n")
	f, err := Connect(ctxT(t), l.yesOpts(&shown), []HostConfig{l.hostConfig("web1", s)})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if shown.Load() != 0 {
		t.Fatal("asked to confirm a recorded key")
	}
}

// TestHostCertRefused: every way a certificate can be wrong for the host
// refuses the connection with the reason, before anything is sent to the
// host, with no prompt and nothing written.
func TestHostCertRefused(t *testing.T) {
	ca := newCA(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaCA, err := ssh.NewSignerFromKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	sha1CA, err := ssh.NewSignerWithAlgorithms(rsaCA.(ssh.AlgorithmSigner), []string{ssh.KeyAlgoRSA})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, tc := range []struct {
		name    string
		signer  ssh.Signer                     // the CA that signs (default ca)
		trusted ssh.Signer                     // the CA known_hosts lists (default ca)
		extra   func(s *sshtest.Server) string // more known_hosts lines
		mod     func(*ssh.Certificate)
		reason  string
	}{
		{name: "another CA", signer: newCA(t), reason: "which no @cert-authority line for this host lists"},
		{name: "expired", reason: "it expired at",
			mod: func(c *ssh.Certificate) { c.ValidBefore = uint64(now.Add(-time.Minute).Unix()) }},
		{name: "not yet valid", reason: "not valid before",
			mod: func(c *ssh.Certificate) { c.ValidAfter = uint64(now.Add(time.Hour).Unix()) }},
		{name: "other principals", reason: `do not include the host name "127.0.0.1"`,
			mod: func(c *ssh.Certificate) { c.ValidPrincipals = []string{"web1.example.com", "127.0.0.2"} }},
		{name: "no principals", reason: "lists no principals",
			mod: func(c *ssh.Certificate) { c.ValidPrincipals = nil }},
		{name: "user certificate", reason: "a user certificate, not a host certificate",
			mod: func(c *ssh.Certificate) { c.CertType = ssh.UserCert }},
		{name: "critical option", reason: `unsupported critical option "force-command"`,
			mod: func(c *ssh.Certificate) { c.CriticalOptions = map[string]string{"force-command": "true"} }},
		{name: "ssh-rsa CA signature", signer: sha1CA, trusted: rsaCA, reason: "its CA signature uses ssh-rsa"},
		{name: "revoked host key", reason: "its key is marked @revoked",
			extra: func(s *sshtest.Server) string {
				return "@revoked * " + authorizedLine(s.HostKey()) + "\n"
			}},
		{name: "revoked CA", reason: "its CA key is marked @revoked",
			extra: func(*sshtest.Server) string {
				return "@revoked * " + authorizedLine(ca.PublicKey()) + "\n"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			signer, trusted := ca, ca
			if tc.signer != nil {
				signer = tc.signer
			}
			if tc.trusted != nil {
				trusted = tc.trusted
			}
			s := l.certServer(signer, tc.mod)
			kh := caLine("[127.0.0.1]:*", trusted.PublicKey())
			if tc.extra != nil {
				kh += tc.extra(s)
			}
			l.writeKnownHosts(kh)
			var shown atomic.Int32
			_, err := Connect(ctxT(t), l.yesOpts(&shown), []HostConfig{l.hostConfig("web1", s)})
			var ce *HostCertError
			if !errors.As(err, &ce) || !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("err = %v, want a HostCertError saying %q", err, tc.reason)
			}
			if ce.Host != "web1" || ce.Fingerprint != ssh.FingerprintSHA256(s.HostKey()) || ce.KeyType != ssh.CertAlgoED25519v01 {
				t.Fatalf("%+v", ce)
			}
			if !strings.Contains(err.Error(), "host web1") || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("message: %v", err)
			}
			if shown.Load() != 0 || s.Accepted() != 0 {
				t.Fatalf("shown %d keys, authenticated %d times", shown.Load(), s.Accepted())
			}
			if b, _ := os.ReadFile(l.knownHosts); string(b) != kh {
				t.Fatalf("known_hosts changed:\n%s", b)
			}
		})
	}
}

// TestHostCertPrincipalIsTheNameDialled: the principal checked is the host
// name hawiz dials, lower-case, not the address it resolves to (OpenSSH's
// check_host_cert; CheckHostIP does not apply to certificates).
func TestHostCertPrincipalIsTheNameDialled(t *testing.T) {
	l := newLab(t)
	ca := newCA(t)
	byName := l.certServer(ca, func(c *ssh.Certificate) { c.ValidPrincipals = []string{"localhost"} })
	byAddr := l.certServer(ca, func(c *ssh.Certificate) { c.ValidPrincipals = []string{"127.0.0.1"} })
	l.writeKnownHosts(caLine("[localhost]:*", ca.PublicKey()))
	o := l.opts()
	hc := l.hostConfig("web1", byName)
	hc.Address = "LocalHost"
	f, err := Connect(ctxT(t), o, []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	hc = l.hostConfig("web2", byAddr)
	hc.Address = "localhost"
	_, err = Connect(ctxT(t), o, []HostConfig{hc})
	var ce *HostCertError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, `do not include the host name "localhost"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestHostCertRefusedFallsBackToARecordedKey: a refused certificate whose
// key the operator recorded for the host is accepted on that record, as by
// OpenSSH; without the record it is refused.
func TestHostCertRefusedFallsBackToARecordedKey(t *testing.T) {
	l := newLab(t)
	ca := newCA(t)
	s := l.certServer(ca, func(c *ssh.Certificate) { c.ValidBefore = uint64(time.Now().Add(-time.Minute).Unix()) })
	kh := caLine("*", ca.PublicKey()) + "[127.0.0.1]:" + itoa(s.Port()) + " " + authorizedLine(s.HostKey()) + "\n"
	l.writeKnownHosts(kh)
	f, err := Connect(ctxT(t), l.opts(), []HostConfig{l.hostConfig("web1", s)})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestHostNotCoveredKeepsTrustOnFirstUse: a CA line for other hosts changes
// nothing for this one: its plain key is shown for confirmation and pinned,
// even when the server also holds a certificate.
func TestHostNotCoveredKeepsTrustOnFirstUse(t *testing.T) {
	l := newLab(t)
	ca := newCA(t)
	s := l.certServer(ca, nil)
	kh := caLine("*.example.com,[127.0.0.2]:*", ca.PublicKey())
	l.writeKnownHosts(kh)
	var shown atomic.Int32
	f, err := Connect(ctxT(t), l.yesOpts(&shown), []HostConfig{l.hostConfig("web1", s)})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if shown.Load() != 1 {
		t.Fatalf("shown %d keys, want 1", shown.Load())
	}
	want := kh + "[127.0.0.1]:" + itoa(s.Port()) + " " + authorizedLine(s.HostKey()) + "\n"
	if b, _ := os.ReadFile(l.knownHosts); string(b) != want {
		t.Fatalf("known_hosts:\n%s\nwant:\n%s", b, want)
	}
}

// TestHostCertProxyJump: a jump host covered by a CA line is verified by its
// certificate, and one that presents a plain key is refused by name.
func TestHostCertProxyJump(t *testing.T) {
	l := newLab(t)
	ca := newCA(t)
	jump := l.certServer(ca, nil)
	target := l.server(nil)
	l.writeKnownHosts(caLine("[127.0.0.1]:"+itoa(jump.Port()), ca.PublicKey()))
	l.trust(target)
	hc := l.hostConfig("app", target)
	hc.ProxyJump = "tester@127.0.0.1:" + itoa(jump.Port())
	f, err := Connect(ctxT(t), l.opts(), []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()

	plainJump := l.server(nil)
	l.writeKnownHosts(caLine("[127.0.0.1]:"+itoa(plainJump.Port()), ca.PublicKey()))
	l.trust(target)
	hc.ProxyJump = "tester@127.0.0.1:" + itoa(plainJump.Port())
	var shown atomic.Int32
	_, err = Connect(ctxT(t), l.yesOpts(&shown), []HostConfig{hc})
	var ce *HostCertError
	if !errors.As(err, &ce) || ce.Host != hc.ProxyJump || !strings.Contains(err.Error(), "host app") {
		t.Fatalf("err = %v", err)
	}
	if shown.Load() != 0 || plainJump.Accepted() != 0 {
		t.Fatalf("shown %d, authenticated %d", shown.Load(), plainJump.Accepted())
	}
}

func TestKnownAlgorithmsOffersCertificatesToCoveredHosts(t *testing.T) {
	l := newLab(t)
	ca := newCA(t)
	pinned := newTestKey(t, l.dir, "pinned", nil)
	l.writeKnownHosts(caLine("*.lan", ca.PublicKey()) +
		"db1.lan " + authorizedLine(pinned.signer.PublicKey()) + "\n")
	algs := knownAlgorithms([]string{l.knownHosts}, "db1.lan:22")
	want := append(certAlgorithms[:], ssh.KeyAlgoED25519,
		ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
	if !slices.Equal(algs, want) {
		t.Fatalf("covered host: %v\nwant %v", algs, want)
	}
	// *.lan does not cover another port (OpenSSH matches "[db1.lan]:2222")
	if algs := knownAlgorithms([]string{l.knownHosts}, "db1.lan:2222"); slices.Contains(algs, ssh.CertAlgoED25519v01) {
		t.Fatalf("port 2222: %v", algs)
	}
	if algs := knownAlgorithms([]string{l.knownHosts}, "web.example.com:22"); !slices.Equal(algs, openSSHHostKeyOrder[:]) {
		t.Fatalf("uncovered host: %v", algs)
	}
}

func TestMatchHostPatterns(t *testing.T) {
	hashed := knownhosts.HashHostname("[db1.lan]:2222")
	for _, tc := range []struct {
		field, name string
		want        bool
	}{
		{"*", "db1.lan", true},
		{"*", "[db1.lan]:2222", true},
		{"*.lan", "db1.lan", true},
		{"*.lan", "[db1.lan]:2222", false},
		{"[*.lan]:2222", "[db1.lan]:2222", true},
		{"[*.lan]:*", "[db1.lan]:2222", true},
		{"[*.lan]:*", "db1.lan", false},
		{"DB?.LAN", "db1.lan", true},
		{"db?.lan", "db12.lan", false},
		{"*.lan,!db2.lan", "db2.lan", false},
		{"!db2.lan,*.lan", "db1.lan", true},
		{"!db2.lan", "db1.lan", false},
		{"10.0.*", "10.0.3.4", true},
		{"10.0.*", "110.0.3.4", false},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{hashed, "[db1.lan]:2222", true},
		{hashed, "db1.lan", false},
		{"|1|bad", "db1.lan", false},
	} {
		if got := matchHostPatterns(tc.field, tc.name); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.field, tc.name, got, tc.want)
		}
	}
	if lookupName("DB1.lan:22") != "db1.lan" || lookupName("db1.lan:2222") != "[db1.lan]:2222" || lookupName("[::1]:2222") != "[::1]:2222" {
		t.Fatal("lookupName")
	}
}

func TestKnownHostsDBRejectsMalformedLines(t *testing.T) {
	l := newLab(t)
	ca := newCA(t)
	for _, bad := range []string{
		"@cert-authorty * " + authorizedLine(ca.PublicKey()),
		"@cert-authority " + authorizedLine(ca.PublicKey()),
		"@cert-authority * ssh-rsa " + strings.Fields(authorizedLine(ca.PublicKey()))[1],
		"@cert-authority * ssh-ed25519 !!!",
		"@cert-authority |2|abc|def " + authorizedLine(ca.PublicKey()),
	} {
		l.writeKnownHosts("# ok\n" + bad + "\n")
		_, err := readKnownHostsDB([]string{l.knownHosts})
		if err == nil || !strings.Contains(err.Error(), l.knownHosts+":2") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
