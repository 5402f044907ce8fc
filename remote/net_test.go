package remote

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
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
