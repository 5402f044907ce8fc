package remote

import (
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Fleet.HostKeys lists the key each connection was made with and how it was
// trusted: a certificate from a @cert-authority CA (with the CA's
// fingerprint), a key accepted through ConfirmHostKeys in this Connect, a
// key already in known_hosts (also one recorded for a host a CA covers).
func TestFleetHostKeysSayHowEachWasTrusted(t *testing.T) {
	l := newLab(t)
	ca := newCA(t)
	cs := l.certServer(ca, nil)
	ps := l.server(nil)
	kh := caLine("[127.0.0.1]:"+itoa(cs.Port()), ca.PublicKey())
	l.writeKnownHosts(kh)
	var shown atomic.Int32
	f, err := Connect(ctxT(t), l.yesOpts(&shown), []HostConfig{l.hostConfig("web1", cs), l.hostConfig("web2", ps)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]VerifiedHostKey{}
	for _, k := range f.HostKeys() {
		got[k.Host] = k
	}
	f.Close()
	caFP := ca.PublicKey().Type() + " " + ssh.FingerprintSHA256(ca.PublicKey())
	if k := got["web1"]; len(got) != 2 || k.Trust != TrustCertificate || k.CA != caFP || k.KeyType != ssh.CertAlgoED25519v01 ||
		k.Fingerprint != ssh.FingerprintSHA256(cs.HostKey()) || k.Address != "127.0.0.1:"+itoa(cs.Port()) {
		t.Fatalf("web1 %+v (all %+v)", k, got)
	}
	if k := got["web2"]; k.Trust != TrustAccepted || k.Fingerprint != ssh.FingerprintSHA256(ps.HostKey()) || k.CA != "" {
		t.Fatalf("web2 %+v", k)
	}

	// again: web2's key is in known_hosts now; an expired certificate
	// falls back to the key recorded for web1
	exp := l.certServer(ca, func(c *ssh.Certificate) { c.ValidBefore = uint64(time.Now().Add(-time.Minute).Unix()) })
	l.writeKnownHosts(caLine("[127.0.0.1]:"+itoa(exp.Port()), ca.PublicKey()) + "[127.0.0.1]:" + itoa(exp.Port()) + " " + authorizedLine(exp.HostKey()) + "\n" +
		"[127.0.0.1]:" + itoa(ps.Port()) + " " + authorizedLine(ps.HostKey()) + "\n")
	f, err = Connect(ctxT(t), l.opts(), []HostConfig{l.hostConfig("web1", exp), l.hostConfig("web2", ps)})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ks := f.HostKeys()
	if len(ks) != 2 {
		t.Fatalf("host keys %+v", ks)
	}
	for _, k := range ks {
		if k.Trust != TrustKnownHosts || k.CA != "" {
			t.Errorf("%+v: want known_hosts", k)
		}
	}
}
