package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hawiz/hawiz/remote/sshtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestPasswordAuth(t *testing.T) {
	l := newLab(t)
	s := l.server(func(c *sshtest.Config) { c.AuthorizedKeys = nil; c.Password = "s3cret pw" })
	l.trust(s)
	hc := HostConfig{Name: "db1", Address: "127.0.0.1", Port: s.Port(), User: "u", Password: "s3cret pw"}
	f, err := Connect(ctxT(t), l.opts(), []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if res, err := f.Host("db1").Run(ctxT(t), Cmd{Program: "echo", Args: []string{"ok"}}); err != nil || string(res.Stdout) != "ok\n" {
		t.Fatalf("%v %q", err, res.Stdout)
	}
	hc.Password = "wrong"
	_, err = Connect(ctxT(t), l.opts(), []HostConfig{hc})
	if err == nil || !strings.Contains(err.Error(), "host db1") || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("password leaked into error: %v", err)
	}
}

func serveAgent(t *testing.T, dir string, keys ...any) string {
	t.Helper()
	kr := agent.NewKeyring()
	for _, k := range keys {
		if err := kr.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(kr, c); c.Close() }()
		}
	}()
	return sock
}

func TestAgentAuth(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	l.trust(s)
	sock := serveAgent(t, l.dir, l.key.priv)
	o := l.opts()
	o.AgentSocket = sock
	hc := l.hostConfig("web1", s)
	hc.IdentityFiles = nil // only the agent holds the key; HOME has no ~/.ssh
	f, err := Connect(ctxT(t), o, []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	// without the agent the same config cannot authenticate
	o.AgentSocket = "none"
	if _, err := Connect(ctxT(t), o, []HostConfig{hc}); err == nil {
		t.Fatal("connected without agent or key")
	}
	// SSH_AUTH_SOCK is the default
	t.Setenv("SSH_AUTH_SOCK", sock)
	o.AgentSocket = ""
	f, err = Connect(ctxT(t), o, []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestEncryptedKeyPassphraseAskedOnce(t *testing.T) {
	l := newLab(t)
	enc := newTestKey(t, l.dir, "id_enc", []byte("correct horse"))
	var asked atomic.Int32
	o := l.opts()
	o.Passphrase = func(file string) ([]byte, error) {
		asked.Add(1)
		if file != enc.path {
			t.Errorf("asked for %s", file)
		}
		return []byte("correct horse"), nil
	}
	var hcs []HostConfig
	for i := 0; i < 3; i++ {
		s := l.server(func(c *sshtest.Config) { c.AuthorizedKeys = []ssh.PublicKey{enc.signer.PublicKey()} })
		l.trust(s)
		hc := l.hostConfig("h"+itoa(i), s)
		hc.IdentityFiles = []string{enc.path}
		hcs = append(hcs, hc)
	}
	f, err := Connect(ctxT(t), o, hcs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := asked.Load(); n != 1 {
		t.Fatalf("passphrase asked %d times, want 1", n)
	}
	// a re-dial reuses the decrypted key
	l.servers[0].KillConnections()
	if _, err := f.Host("h0").Run(ctxT(t), Cmd{Program: "true"}); err != nil {
		t.Fatal(err)
	}
	if n := asked.Load(); n != 1 {
		t.Fatalf("passphrase asked %d times after re-dial, want 1", n)
	}
}

func TestEncryptedKeyNotAskedWhenNotAccepted(t *testing.T) {
	l := newLab(t)
	enc := newTestKey(t, l.dir, "id_enc", []byte("pp"))
	s := l.server(func(c *sshtest.Config) { c.Password = "pw" }) // accepts l.key or password, not enc
	l.trust(s)
	o := l.opts()
	var asked atomic.Int32
	o.Passphrase = func(string) ([]byte, error) { asked.Add(1); return []byte("pp"), nil }
	hc := l.hostConfig("web1", s)
	hc.IdentityFiles = []string{enc.path, l.key.path}
	f, err := Connect(ctxT(t), o, []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if asked.Load() != 0 {
		t.Fatalf("passphrase asked for a key the server does not accept")
	}
	// a wrong passphrase is a clear error naming the file
	o.Passphrase = func(string) ([]byte, error) { return []byte("nope"), nil }
	s2 := l.server(func(c *sshtest.Config) { c.AuthorizedKeys = []ssh.PublicKey{enc.signer.PublicKey()} })
	l.trust(s2)
	hc2 := l.hostConfig("web2", s2)
	hc2.IdentityFiles = []string{enc.path}
	_, err = Connect(ctxT(t), o, []HostConfig{hc2})
	if err == nil || !strings.Contains(err.Error(), "host web2") || !strings.Contains(err.Error(), enc.path) {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

func TestUnknownHostKeysConfirmedInOneBatch(t *testing.T) {
	l := newLab(t)
	var servers []*sshtest.Server
	var hcs []HostConfig
	for i := 0; i < 3; i++ {
		s := l.server(nil)
		servers = append(servers, s)
		hcs = append(hcs, l.hostConfig("web"+itoa(i+1), s))
	}
	o := l.opts()
	var calls atomic.Int32
	o.ConfirmHostKeys = func(_ context.Context, keys []NewHostKey) (map[string]bool, error) {
		calls.Add(1)
		for _, s := range servers {
			if s.Accepted() != 0 || s.Execs() != 0 {
				t.Errorf("a host was authenticated to before its key was confirmed")
			}
		}
		if len(keys) != 3 {
			t.Fatalf("keys %+v", keys)
		}
		acc := map[string]bool{}
		for i, k := range keys {
			s := servers[i]
			want := NewHostKey{Host: "web" + itoa(i+1), Address: "127.0.0.1:" + itoa(s.Port()), KeyType: "ssh-ed25519",
				Fingerprint: ssh.FingerprintSHA256(s.HostKey())}
			if k != want {
				t.Errorf("key %d = %+v, want %+v", i, k, want)
			}
			if !strings.HasPrefix(k.Fingerprint, "SHA256:") {
				t.Errorf("fingerprint %q", k.Fingerprint)
			}
			acc[k.Host] = true
		}
		return acc, nil
	}
	f, err := Connect(ctxT(t), o, hcs)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if calls.Load() != 1 {
		t.Fatalf("ConfirmHostKeys called %d times", calls.Load())
	}
	kh, _ := os.ReadFile(l.knownHosts)
	lines := strings.Split(strings.TrimSpace(string(kh)), "\n")
	if len(lines) != 3 {
		t.Fatalf("known_hosts:\n%s", kh)
	}
	for i, s := range servers {
		want := "[127.0.0.1]:" + itoa(s.Port()) + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey())))
		if lines[i] != want {
			t.Errorf("line %d = %q, want %q", i+1, lines[i], want)
		}
	}
	// second connect: silent
	o.ConfirmHostKeys = func(context.Context, []NewHostKey) (map[string]bool, error) {
		t.Fatal("asked again for known keys")
		return nil, nil
	}
	f, err = Connect(ctxT(t), o, hcs)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestUnknownHostKeyRefused(t *testing.T) {
	l := newLab(t)
	s1, s2 := l.server(nil), l.server(nil)
	hcs := []HostConfig{l.hostConfig("web1", s1), l.hostConfig("web2", s2)}
	o := l.opts()
	o.ConfirmHostKeys = func(_ context.Context, keys []NewHostKey) (map[string]bool, error) {
		return map[string]bool{"web1": true}, nil
	}
	_, err := Connect(ctxT(t), o, hcs)
	var uk *UnknownHostKeyError
	if !errors.As(err, &uk) || uk.Host != "web2" || !uk.Refused || !strings.Contains(err.Error(), "host web2") {
		t.Fatalf("err = %v", err)
	}
	if s2.Accepted() != 0 {
		t.Fatal("authenticated to a refused host")
	}
	kh, _ := os.ReadFile(l.knownHosts)
	if strings.Count(string(kh), "\n") != 1 || !strings.Contains(string(kh), itoa(s1.Port())) {
		t.Fatalf("known_hosts:\n%s", kh)
	}
	// no callback = refuse every unknown key
	o.ConfirmHostKeys = nil
	_, err = Connect(ctxT(t), o, []HostConfig{l.hostConfig("web2", s2)})
	if !errors.As(err, &uk) || uk.Refused {
		t.Fatalf("nil callback: %v", err)
	}
}

func TestHashedKnownHostsStayHashed(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	other := newTestKey(t, l.dir, "other", nil)
	hashed := knownhosts.HashHostname("elsewhere.example") + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other.signer.PublicKey())))
	os.WriteFile(l.knownHosts, []byte(hashed+"\n"), 0o600)
	o := l.opts()
	o.ConfirmHostKeys = func(_ context.Context, keys []NewHostKey) (map[string]bool, error) {
		return map[string]bool{keys[0].Host: true}, nil
	}
	f, err := Connect(ctxT(t), o, []HostConfig{l.hostConfig("web1", s)})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	kh, _ := os.ReadFile(l.knownHosts)
	lines := strings.Split(strings.TrimSpace(string(kh)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "|1|") || strings.Contains(lines[1], "127.0.0.1") {
		t.Fatalf("known_hosts:\n%s", kh)
	}
	o.ConfirmHostKeys = nil // now known: must connect without asking
	f, err = Connect(ctxT(t), o, []HostConfig{l.hostConfig("web1", s)})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestChangedHostKeyRefused(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	impostor := newTestKey(t, l.dir, "impostor", nil)
	content := "# comment\n[127.0.0.1]:" + itoa(s.Port()) + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(impostor.signer.PublicKey()))) + "\n"
	os.WriteFile(l.knownHosts, []byte(content), 0o600)
	o := l.opts()
	o.ConfirmHostKeys = func(context.Context, []NewHostKey) (map[string]bool, error) {
		t.Error("a changed key must never be offered for confirmation")
		return map[string]bool{"web1": true}, nil
	}
	_, err := Connect(ctxT(t), o, []HostConfig{l.hostConfig("web1", s)})
	var hk *HostKeyChangedError
	if !errors.As(err, &hk) {
		t.Fatalf("err = %v", err)
	}
	if hk.Host != "web1" || hk.KnownHostsFile != l.knownHosts || hk.Line != 2 || hk.Fingerprint != ssh.FingerprintSHA256(s.HostKey()) {
		t.Fatalf("%+v", hk)
	}
	msg := err.Error()
	for _, want := range []string{"REMOTE HOST IDENTIFICATION HAS CHANGED", l.knownHosts + ":2", "ssh-keygen", "[127.0.0.1]:" + itoa(s.Port()), "host web1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if s.Accepted() != 0 {
		t.Fatal("authenticated to a host with a changed key")
	}
	if b, _ := os.ReadFile(l.knownHosts); string(b) != content {
		t.Fatal("known_hosts modified")
	}
}

func TestSSHConfigAndProxyJump(t *testing.T) {
	l := newLab(t)
	jump1 := l.server(nil)
	jump2 := l.server(nil)
	target := l.server(nil)
	for _, s := range []*sshtest.Server{jump1, jump2, target} {
		l.trust(s)
	}
	cfg := filepath.Join(l.dir, "ssh_config")
	os.WriteFile(cfg, []byte(`
Host bastion
  HostName 127.0.0.1
  Port `+itoa(jump1.Port())+`
  User jumper
  IdentityFile `+l.key.path+`

Host inner
  HostName 127.0.0.1
  Port `+itoa(jump2.Port())+`
  IdentityFile `+l.key.path+`

Host app
  HostName 127.0.0.1
  Port `+itoa(target.Port())+`
  User appuser
  IdentityFile `+l.key.path+`
  ProxyJump bastion
`), 0o600)
	o := l.opts()
	o.SSHConfigFile = cfg
	f, err := Connect(ctxT(t), o, []HostConfig{{Name: "app"}})
	if err != nil {
		t.Fatal(err)
	}
	h := f.Host("app")
	if h.Address() != "127.0.0.1" || h.User() != "appuser" {
		t.Fatalf("resolved %s@%s", h.User(), h.Address())
	}
	if res, err := h.Run(ctxT(t), Cmd{Program: "echo", Args: []string{"via jump"}}); err != nil || string(res.Stdout) != "via jump\n" {
		t.Fatalf("%v %q", err, res.Stdout)
	}
	if jump1.Accepted() != 1 || target.Accepted() != 1 || jump2.Accepted() != 0 {
		t.Fatalf("accepted: jump1 %d jump2 %d target %d", jump1.Accepted(), jump2.Accepted(), target.Accepted())
	}
	f.Close()

	// two hops, overriding ssh_config's ProxyJump from HostConfig
	f, err = Connect(ctxT(t), o, []HostConfig{{Name: "app", ProxyJump: "bastion,inner"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Host("app").Run(ctxT(t), Cmd{Program: "true"}); err != nil {
		t.Fatal(err)
	}
	if jump1.Accepted() != 2 || jump2.Accepted() != 1 || target.Accepted() != 2 {
		t.Fatalf("accepted: jump1 %d jump2 %d target %d", jump1.Accepted(), jump2.Accepted(), target.Accepted())
	}
	f.Close()

	// "none" disables the configured jump: a direct connection
	f, err = Connect(ctxT(t), o, []HostConfig{{Name: "app", ProxyJump: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if jump1.Accepted() != 2 || target.Accepted() != 3 {
		t.Fatalf("ProxyJump none still jumped")
	}
}

func TestProxyJumpUnknownKeys(t *testing.T) {
	l := newLab(t)
	jump := l.server(nil)
	target := l.server(nil)
	o := l.opts()
	var batches [][]NewHostKey
	o.ConfirmHostKeys = func(_ context.Context, keys []NewHostKey) (map[string]bool, error) {
		batches = append(batches, keys)
		acc := map[string]bool{}
		for _, k := range keys {
			acc[k.Host] = true
		}
		return acc, nil
	}
	hc := l.hostConfig("app", target)
	hc.ProxyJump = "tester@127.0.0.1:" + itoa(jump.Port())
	f, err := Connect(ctxT(t), o, []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if len(batches) != 2 || len(batches[0]) != 1 || batches[0][0].Fingerprint != ssh.FingerprintSHA256(jump.HostKey()) ||
		len(batches[1]) != 1 || batches[1][0].Host != "app" {
		t.Fatalf("batches %+v", batches)
	}
}

func TestKnownHostsDevNull(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	o := l.opts()
	o.KnownHostsFile = os.DevNull
	calls := 0
	o.ConfirmHostKeys = func(_ context.Context, keys []NewHostKey) (map[string]bool, error) {
		calls++
		return map[string]bool{keys[0].Host: true}, nil
	}
	f, err := Connect(ctxT(t), o, []HostConfig{l.hostConfig("web1", s)})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if calls != 1 {
		t.Fatalf("asked %d times", calls)
	}
	s.KillConnections() // the re-dial trusts the key accepted in this run
	if _, err := f.Host("web1").Run(ctxT(t), Cmd{Program: "true"}); err != nil {
		t.Fatal(err)
	}
}

func TestAgentHoldsEncryptedIdentity(t *testing.T) {
	l := newLab(t)
	enc := newTestKey(t, l.dir, "id_enc", []byte("pp"))
	s := l.server(func(c *sshtest.Config) { c.AuthorizedKeys = []ssh.PublicKey{enc.signer.PublicKey()} })
	l.trust(s)
	o := l.opts()
	o.AgentSocket = serveAgent(t, l.dir, enc.priv)
	o.Passphrase = func(string) ([]byte, error) {
		t.Error("passphrase asked although the agent holds the key")
		return nil, errors.New("no")
	}
	hc := l.hostConfig("web1", s)
	hc.IdentityFiles = []string{enc.path}
	f, err := Connect(ctxT(t), o, []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestUnknownHostOffersEd25519First: a server with an ECDSA and an ed25519
// host key (as every OpenSSH server has) is shown to the operator with its
// ed25519 key, the one `ssh` would show and ssh_host_ed25519_key.pub holds;
// once that key is recorded, the next connection negotiates it silently.
func TestUnknownHostOffersEd25519First(t *testing.T) {
	l := newLab(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSigner, err := ssh.NewSignerFromKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	s := l.server(func(c *sshtest.Config) { c.ExtraHostKeys = []ssh.Signer{ecSigner} })
	o := l.opts()
	var shown []NewHostKey
	o.ConfirmHostKeys = func(_ context.Context, keys []NewHostKey) (map[string]bool, error) {
		shown = keys
		return map[string]bool{"web1": true}, nil
	}
	hcs := []HostConfig{l.hostConfig("web1", s)}
	f, err := Connect(ctxT(t), o, hcs)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if len(shown) != 1 || shown[0].KeyType != ssh.KeyAlgoED25519 || shown[0].Fingerprint != ssh.FingerprintSHA256(s.HostKey()) {
		t.Fatalf("shown %+v, want the ed25519 key %s", shown, ssh.FingerprintSHA256(s.HostKey()))
	}
	o.ConfirmHostKeys = func(context.Context, []NewHostKey) (map[string]bool, error) {
		t.Fatal("asked again for a recorded key")
		return nil, nil
	}
	f, err = Connect(ctxT(t), o, hcs)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}
