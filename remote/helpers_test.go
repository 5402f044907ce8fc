package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote/sshtest"
	"golang.org/x/crypto/ssh"
)

// testKey is a client key written to a file.
type testKey struct {
	path   string
	signer ssh.Signer
	priv   ed25519.PrivateKey
}

func newTestKey(t testing.TB, dir, name string, passphrase []byte) testKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var blk *pem.Block
	if passphrase != nil {
		blk, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", passphrase)
	} else {
		blk, err = ssh.MarshalPrivateKey(priv, "")
	}
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{path: p, signer: s, priv: priv}
}

type lab struct {
	t          testing.TB
	dir        string
	key        testKey
	knownHosts string
	servers    []*sshtest.Server
}

// newLab makes a temp dir and a client key.
func newLab(t testing.TB) *lab {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	t.Setenv("HOME", home) // no real ~/.ssh, agent or config leaks into tests
	t.Setenv("SSH_AUTH_SOCK", "")
	l := &lab{t: t, dir: dir, knownHosts: filepath.Join(dir, "known_hosts")}
	l.key = newTestKey(t, dir, "id_ed25519", nil)
	return l
}

// server starts an sshtest server accepting the lab key; its root is a new
// directory under the lab.
func (l *lab) server(mod func(*sshtest.Config)) *sshtest.Server {
	l.t.Helper()
	root, err := os.MkdirTemp(l.dir, "root")
	if err != nil {
		l.t.Fatal(err)
	}
	cfg := sshtest.Config{AuthorizedKeys: []ssh.PublicKey{l.key.signer.PublicKey()}, Root: root}
	if mod != nil {
		mod(&cfg)
	}
	s, err := sshtest.Start(cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { s.Close() })
	l.servers = append(l.servers, s)
	return s
}

// trust writes s's key into the lab's known_hosts.
func (l *lab) trust(s *sshtest.Server) {
	l.t.Helper()
	line := "[127.0.0.1]:" + itoa(s.Port()) + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey()))) + "\n"
	f, err := os.OpenFile(l.knownHosts, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		l.t.Fatal(err)
	}
	f.WriteString(line)
	f.Close()
}

func itoa(n int) string { return strconv.Itoa(n) }

func (l *lab) opts() Options {
	return Options{SSHConfigFile: "none", KnownHostsFile: l.knownHosts, AgentSocket: "none", DialTimeout: 5 * time.Second}
}

func (l *lab) hostConfig(name string, s *sshtest.Server) HostConfig {
	return HostConfig{Name: name, Address: "127.0.0.1", Port: s.Port(), User: "tester", IdentityFiles: []string{l.key.path}}
}

// connect trusts every server and connects one host per server (web1, web2…).
func (l *lab) connect(opts Options, servers ...*sshtest.Server) *Fleet {
	l.t.Helper()
	var hcs []HostConfig
	for i, s := range servers {
		l.trust(s)
		hcs = append(hcs, l.hostConfig("web"+itoa(i+1), s))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := Connect(ctx, opts, hcs)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { f.Close() })
	return f
}

// transcript collects actions.
type transcript struct {
	mu      sync.Mutex
	actions []Action
}

func (tr *transcript) add(a Action) {
	tr.mu.Lock()
	tr.actions = append(tr.actions, a)
	tr.mu.Unlock()
}

func (tr *transcript) all() []Action {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]Action(nil), tr.actions...)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// writeScript writes an executable script into dir.
func writeExec(t testing.TB, dir, name, body string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
