package sshtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func client(t *testing.T, s *Server, auth ...ssh.AuthMethod) *ssh.Client {
	t.Helper()
	c, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{User: "u", Auth: auth,
		HostKeyCallback: ssh.FixedHostKey(s.HostKey()), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServer(t *testing.T) {
	before := runtime.NumGoroutine()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	root := t.TempDir()
	s, err := Start(Config{HostKeySeed: []byte("seed"), AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}, Password: "pw",
		Root: root, Env: []string{"EXTRA=1"}})
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := Start(Config{HostKeySeed: []byte("seed"), NoClientAuth: true})
	if !bytes.Equal(s.HostKey().Marshal(), s2.HostKey().Marshal()) {
		t.Fatal("host key not deterministic from seed")
	}
	s2.Close()

	c := client(t, s, ssh.PublicKeys(signer))
	sess, _ := c.NewSession()
	sess.Setenv("FROM_CLIENT", "yes")
	sess.Stdin = strings.NewReader("in")
	var out, errb bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errb
	err = sess.Run(`pwd; echo "$HAWIZ_ROOT $EXTRA $FROM_CLIENT"; cat; echo e >&2; exit 5`)
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 5 {
		t.Fatalf("exit: %v", err)
	}
	rr, _ := filepath.EvalSymlinks(root)
	if out.String() != rr+"\n"+root+" 1 yes\nin" && out.String() != root+"\n"+root+" 1 yes\nin" {
		t.Fatalf("stdout %q", out.String())
	}
	if errb.String() != "e\n" {
		t.Fatalf("stderr %q", errb.String())
	}
	// a signal kills the process group
	sess, _ = c.NewSession()
	if err := sess.Start("sleep 30 & echo $$ > sig; sleep 30; echo survived"); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(root, "sig"))
	sess.Signal(ssh.SIGKILL)
	err = sess.Wait()
	if !errors.As(err, &ee) || ee.Signal() != "KILL" {
		t.Fatalf("signal: %v", err)
	}
	// password auth
	c2 := client(t, s, ssh.Password("pw"))
	c2.Close()
	if _, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{User: "u", Auth: []ssh.AuthMethod{ssh.Password("no")},
		HostKeyCallback: ssh.FixedHostKey(s.HostKey())}); err == nil {
		t.Fatal("wrong password accepted")
	}
	// direct-tcpip
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() {
		if cc, err := ln.Accept(); err == nil {
			io.Copy(cc, cc)
			cc.Close()
		}
	}()
	tc, err := c.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("echo"))
	buf := make([]byte, 4)
	io.ReadFull(tc, buf)
	if string(buf) != "echo" {
		t.Fatalf("tunnel %q", buf)
	}
	tc.Close()
	ln.Close()
	// KillConnections drops the connection and its processes
	sess, _ = c.NewSession()
	pidf := filepath.Join(root, "pid")
	sess.Start("echo $$ > pid; exec sleep 30")
	pid := waitFile(t, pidf)
	s.KillConnections()
	c.Wait()
	for i := 0; ; i++ {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(b), ") Z") {
			break
		}
		if i > 500 {
			t.Fatal("process of a killed connection survived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.Accepted() != 2 {
		t.Fatalf("accepted %d", s.Accepted())
	}
	// Close leaves nothing behind
	c3 := client(t, s, ssh.PublicKeys(signer))
	sess, _ = c3.NewSession()
	sess.Start("sleep 30")
	addr := s.Addr()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c3.Close()
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("still listening after Close")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for runtime.NumGoroutine() > before+1 { // the test's own helpers may linger briefly
		if ctx.Err() != nil {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines %d > %d:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitFile(t *testing.T, p string) string {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if b, _ := os.ReadFile(p); bytes.HasSuffix(b, []byte("\n")) {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s", p)
	return ""
}

// PortFunc maps a requested port per request (a service's port published
// after it started), before PortMap; ok with "" refuses; not ok falls through.
func TestPortFunc(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("dynamic\n"))
			c.Close()
		}
	}()
	static, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer static.Close()
	go func() {
		for {
			c, err := static.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("static\n"))
			c.Close()
		}
	}()
	var up atomic.Bool
	s, err := Start(Config{NoClientAuth: true,
		PortMap: map[int]string{1231: static.Addr().String(), 2000: static.Addr().String()},
		PortFunc: func(port int) (string, bool) {
			if port != 1231 {
				return "", false
			}
			if !up.Load() {
				return "", true
			}
			return ln.Addr().String(), true
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := client(t, s)
	defer c.Close()
	read := func(addr string) (string, error) {
		tc, err := c.Dial("tcp", addr)
		if err != nil {
			return "", err
		}
		defer tc.Close()
		b, err := io.ReadAll(tc)
		return string(b), err
	}
	if _, err := read("127.0.0.1:1231"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("service down: %v, want refused", err)
	}
	up.Store(true)
	if got, err := read("127.0.0.1:1231"); err != nil || got != "dynamic\n" {
		t.Fatalf("PortFunc port: %q %v", got, err)
	}
	if got, err := read("127.0.0.1:2000"); err != nil || got != "static\n" {
		t.Fatalf("PortMap port: %q %v", got, err)
	}
}
