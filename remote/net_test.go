package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote/sshtest"
)

func TestDialTCPAndHTTPGet(t *testing.T) {
	l := newLab(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Path", r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("hello from " + r.Host))
	}))
	defer web.Close()
	// the host's port 8080 is the httptest server (a demo stand-in)
	s := l.server(func(c *sshtest.Config) { c.PortMap = map[int]string{8080: web.Listener.Addr().String()} })
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)
	status, hdr, body, err := h.HTTPGet(ctx, 8080, "/api/health")
	if err != nil || status != http.StatusTeapot || hdr.Get("X-Path") != "/api/health" || string(body) != "hello from 127.0.0.1:8080" {
		t.Fatalf("%v %d %v %q", err, status, hdr, body)
	}
	if !h.PortListening(ctx, 8080) {
		t.Fatal("8080 not listening")
	}
	// a real port on the host's address, not in PortMap
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("banner\n"))
			c.Close()
		}
	}()
	c, err := h.DialTCP(ctx, port)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if n, _ := c.Read(buf); string(buf[:n]) != "banner\n" {
		t.Fatalf("read %q", buf[:n])
	}
	c.Close()
	ln.Close()
	if h.PortListening(ctx, port) {
		t.Fatal("closed port reported listening")
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, _, _, err := h.HTTPGet(cctx, port, "/"); err == nil {
		t.Fatal("GET on a closed port succeeded")
	}
}

// TestDialTCPAddr: a connection to an address the host reaches (a name
// only it resolves, through sshtest's AddrMap; or any address it can dial),
// tunnelled through the SSH connection; bad addresses are refused before
// anything is sent; a dropped connection is re-dialled once.
func TestDialTCPAddr(t *testing.T) {
	l := newLab(t)
	echo := func() (net.Listener, string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
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
				go func() { io.Copy(c, c); c.Close() }()
			}
		}()
		return ln, ln.Addr().String()
	}
	_, db := echo()
	s := l.server(func(c *sshtest.Config) { c.AddrMap = map[string]string{"db1.private.test:27017": db} })
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)
	roundTrip := func(addr string) error {
		c, err := h.DialTCPAddr(ctx, addr)
		if err != nil {
			return err
		}
		defer c.Close()
		// deadlines work (drivers set them on every operation)
		if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
			return err
		}
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("read past the deadline: %v", err)
		}
		if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return err
		}
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			return fmt.Errorf("echo %q %v", buf, err)
		}
		return nil
	}
	if err := roundTrip("db1.private.test:27017"); err != nil {
		t.Fatalf("through the host to a name only it knows: %v", err)
	}
	_, other := echo()
	if err := roundTrip(other); err != nil {
		t.Fatalf("through the host to %s: %v", other, err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	if err := roundTrip(closed); err == nil || !strings.Contains(err.Error(), "host web1: dial "+closed+" through SSH") {
		t.Fatalf("closed port: %v", err)
	}
	execs := s.Execs()
	for _, bad := range []string{"db1.private.test", ":27017", "db1:0", "db1:99999", "db1:http"} {
		if _, err := h.DialTCPAddr(ctx, bad); err == nil || !strings.Contains(err.Error(), "host web1: dial") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if s.Execs() != execs {
		t.Error("bad addresses sent something")
	}
	s.KillConnections()
	if err := roundTrip("db1.private.test:27017"); err != nil {
		t.Fatalf("after the connection dropped: %v", err)
	}
	if got := s.Accepted(); got != 2 {
		t.Fatalf("%d connections accepted, want 2 (one re-dial)", got)
	}
}

// An open still waiting when its connection dies returns errConnDead at
// once (x/crypto/ssh can leave such an open waiting forever), and what the
// abandoned open gets later is closed.
func TestOpenOnConnectionDies(t *testing.T) {
	c := &conn{dead: make(chan struct{})}
	release := make(chan struct{})
	closed := make(chan int, 1)
	done := make(chan error, 1)
	go func() {
		_, err := openOn(context.Background(), c, func() (int, error) { <-release; return 7, nil },
			func(v int) { closed <- v })
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("returned before the connection died: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(c.dead)
	if err := <-done; !errors.Is(err, errConnDead) {
		t.Fatalf("err = %v, want errConnDead", err)
	}
	close(release)
	if v := <-closed; v != 7 {
		t.Fatalf("closed %d", v)
	}

	// ctx ending gives ctx's error; an open that already failed gives its own
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := openOn(ctx, &conn{dead: make(chan struct{})}, func() (int, error) { select {} }, func(int) {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
	boom := errors.New("boom")
	if _, err := openOn(context.Background(), &conn{dead: make(chan struct{})}, func() (int, error) { return 0, boom }, func(int) {}); err != boom {
		t.Fatalf("failed open: err = %v", err)
	}
}
