package steps

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/remote/sshtest"
)

// Preflight's forwarding check asks once per host, records the verdict as
// a fact, and a later session of the run (a new connection, the facts of
// the state) starts from it without asking any forward again.
func TestCheckForwardingRecordedForResume(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	yes, err := sshtest.Start(sshtest.Config{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}, Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer yes.Close()
	no, err := sshtest.Start(sshtest.Config{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}, Root: t.TempDir(), NoForwarding: true})
	if err != nil {
		t.Fatal(err)
	}
	defer no.Close()
	dir := t.TempDir()
	blk, _ := ssh.MarshalPrivateKey(priv, "")
	key := filepath.Join(dir, "id_ed25519")
	os.WriteFile(key, pem.EncodeToMemory(blk), 0o600)
	connect := func() *remote.Fleet {
		known := ""
		for _, s := range []*sshtest.Server{yes, no} {
			known += "[127.0.0.1]:" + strconv.Itoa(s.Port()) + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey()))) + "\n"
		}
		os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(known), 0o600)
		f, err := remote.Connect(context.Background(), remote.Options{SSHConfigFile: "none", KnownHostsFile: filepath.Join(dir, "known_hosts"), AgentSocket: "none", DialTimeout: 5 * time.Second},
			[]remote.HostConfig{{Name: "h1", Address: "127.0.0.1", Port: yes.Port(), User: "tester", IdentityFiles: []string{key}},
				{Name: "h2", Address: "127.0.0.1", Port: no.Port(), User: "tester", IdentityFiles: []string{key}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	ctx := context.Background()
	e := NewEnv(ctx, nil, connect(), nil)
	ok1, ev1, err1 := CheckForwarding(ctx, e, "h1")
	ok2, ev2, err2 := CheckForwarding(ctx, e, "h2")
	if err1 != nil || err2 != nil || !ok1 || ok2 {
		t.Fatalf("h1 %v %v, h2 %v %v", ok1, err1, ok2, err2)
	}
	if !strings.Contains(ev2, "h2: sshd refuses TCP forwarding") || !strings.Contains(ev1, "h1: TCP forwarding allowed") {
		t.Fatalf("evidence: %q / %q", ev1, ev2)
	}
	if v, _ := e.Fact("ssh.tcp-forwarding.h1"); v != "yes" {
		t.Fatalf("h1 fact %q", v)
	}
	if v, _ := e.Fact("ssh.tcp-forwarding.h2"); v != "no" {
		t.Fatalf("h2 fact %q", v)
	}
	if yes.Forwards() != 1 || no.Forwards() != 1 {
		t.Fatalf("forwards %d %d, want 1 each", yes.Forwards(), no.Forwards())
	}

	// resume: a new connection, the recorded facts
	e2 := NewEnv(ctx, nil, connect(), nil)
	e2.facts = map[string]string{"ssh.tcp-forwarding.h1": "yes", "ssh.tcp-forwarding.h2": "no"}
	h2, err := e2.Host("h2")
	if err != nil {
		t.Fatal(err)
	}
	if works, known := h2.Forwarding(); works || !known {
		t.Fatalf("resumed h2: forwarding %v known %v", works, known)
	}
	if h2.PortListening(ctx, no.Port()) != true { // the sshd's own port, read from /proc/net/tcp on the host
		t.Fatal("resumed h2: its sshd's port not seen listening")
	}
	if _, _, err := CheckForwarding(ctx, e2, "h2"); err != nil {
		t.Fatal(err)
	}
	if no.Forwards() != 1 {
		t.Fatalf("resumed run asked %d forwards of h2 in all, want the first session's 1", no.Forwards())
	}

	// a refusal found mid-run (no preflight) is recorded at the next Host
	e3 := NewEnv(ctx, nil, connect(), nil)
	h, _ := e3.Host("h2")
	if h.PortListening(ctx, no.Port()) != true {
		t.Fatal("h2's sshd port not seen listening after the refused forward")
	}
	e3.Host("h2")
	if v, _ := e3.Fact("ssh.tcp-forwarding.h2"); v != "no" {
		t.Fatalf("mid-run refusal not recorded: %q", v)
	}
	if no.Forwards() != 2 {
		t.Fatalf("forwards %d, want 2 (one per session that did not know)", no.Forwards())
	}
}
