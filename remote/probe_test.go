package remote

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/remote/sshtest"
)

// A host whose sshd forbids TCP forwarding: the first refused forward
// switches the host to on-host probes, which give the same verdicts, and no
// further forward is asked for.
func TestNoForwardingUsesOnHostProbes(t *testing.T) {
	l := newLab(t)
	s := l.server(func(c *sshtest.Config) { c.NoForwarding = true })
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	open := ln.Addr().(*net.TCPAddr).Port
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln2.Addr().(*net.TCPAddr).Port
	ln2.Close()

	if _, err := h.DialTCP(ctx, open); !errors.Is(err, ErrForwardingProhibited) {
		t.Fatalf("DialTCP on a host without forwarding: %v, want ErrForwardingProhibited", err)
	}
	if works, known := h.Forwarding(); works || !known {
		t.Fatalf("Forwarding() = %v, %v after a prohibited dial", works, known)
	}
	for i := 0; i < 50; i++ {
		if !h.PortListening(ctx, open) {
			t.Fatalf("port %d listens but PortListening says no", open)
		}
		if h.PortListening(ctx, closed) {
			t.Fatalf("port %d is closed but PortListening says yes", closed)
		}
	}
	if n := s.Forwards(); n != 1 {
		t.Fatalf("%d forwards asked of a host that refused the first", n)
	}

	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/monitor/health" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusTeapot)
	}))
	defer web.Close()
	wport := web.Listener.Addr().(*net.TCPAddr).Port
	if st, err := h.HTTPStatus(ctx, wport, "/monitor/health", false); err != nil || st != http.StatusTeapot {
		t.Fatalf("HTTPStatus on the host: %d %v", st, err)
	}
	if st, err := h.HTTPStatus(ctx, wport, "/other", false); err != nil || st != http.StatusNotFound {
		t.Fatalf("HTTPStatus 404 on the host: %d %v", st, err)
	}
	if st, err := h.HTTPStatus(ctx, closed, "/monitor/health", false); err == nil || st != 0 {
		t.Fatalf("HTTPStatus on a closed port: %d %v, want an error", st, err)
	}
	if n := s.Forwards(); n != 1 {
		t.Fatalf("%d forwards asked of a host that refused the first", n)
	}
}

// HTTPStatus's first refused forward falls back in the same call, and the
// https form skips certificate verification on the host too.
func TestHTTPStatusFallsBackOnFirstRefusal(t *testing.T) {
	l := newLab(t)
	s := l.server(func(c *sshtest.Config) { c.NoForwarding = true })
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)
	web := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer web.Close()
	wport := web.Listener.Addr().(*net.TCPAddr).Port
	if st, err := h.HTTPStatus(ctx, wport, "/monitor/health", true); err != nil || st != 200 {
		t.Fatalf("HTTPStatus https on the host: %d %v", st, err)
	}
	if n := s.Forwards(); n != 1 {
		t.Fatalf("%d forwards", n)
	}
}

func TestCheckForwarding(t *testing.T) {
	l := newLab(t)
	yes := l.server(nil)
	no := l.server(func(c *sshtest.Config) { c.NoForwarding = true })
	f := l.connect(l.opts(), yes, no)
	ctx := ctxT(t)
	if ok, err := f.Host("web1").CheckForwarding(ctx); err != nil || !ok {
		t.Fatalf("web1 allows forwarding: %v %v", ok, err)
	}
	if ok, err := f.Host("web2").CheckForwarding(ctx); err != nil || ok {
		t.Fatalf("web2 refuses forwarding: %v %v", ok, err)
	}
	if works, known := f.Host("web1").Forwarding(); !works || !known {
		t.Fatal("web1's verdict not kept")
	}
	if no.Forwards() != 1 || yes.Forwards() != 1 {
		t.Fatalf("forwards: %d %d, want one each", yes.Forwards(), no.Forwards())
	}
	// a verdict recorded earlier (a resumed run) is used without asking
	h := f.Host("web1")
	h.SetForwarding(false)
	if _, err := h.DialTCP(ctx, yes.Port()); !errors.Is(err, ErrForwardingProhibited) {
		t.Fatalf("dial after SetForwarding(false): %v", err)
	}
	if yes.Forwards() != 1 {
		t.Fatalf("forwards after SetForwarding(false): %d", yes.Forwards())
	}
}

// Without curl the probe uses wget; with neither it refuses clearly.
func TestProbeHTTPWgetAndNone(t *testing.T) {
	wget, err := exec.LookPath("wget")
	if err != nil {
		t.Skip("no wget on this machine")
	}
	binWget := t.TempDir()
	binNone := t.TempDir()
	for _, d := range []string{binWget, binNone} {
		os.Symlink("/bin/sh", filepath.Join(d, "sh"))
	}
	os.Symlink(wget, filepath.Join(binWget, "wget"))
	l := newLab(t)
	sw := l.server(func(c *sshtest.Config) { c.NoForwarding = true; c.Env = []string{"PATH=" + binWget} })
	sn := l.server(func(c *sshtest.Config) { c.NoForwarding = true; c.Env = []string{"PATH=" + binNone} })
	f := l.connect(l.opts(), sw, sn)
	ctx := ctxT(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer web.Close()
	wport := web.Listener.Addr().(*net.TCPAddr).Port
	if st, err := f.Host("web1").ProbeHTTP(ctx, wport, "/monitor/health", false); err != nil || st != http.StatusServiceUnavailable {
		t.Fatalf("wget probe: %d %v", st, err)
	}
	_, err = f.Host("web2").ProbeHTTP(ctx, wport, "/monitor/health", false)
	if !errors.Is(err, ErrNoHTTPClient) || !strings.Contains(err.Error(), "host web2") {
		t.Fatalf("no curl, no wget: %v", err)
	}
}

func TestProcNetListens(t *testing.T) {
	text := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:04CF 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:04CF 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   3: 0D00007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000C00007F:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
   2: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
`
	for _, c := range []struct {
		port int
		addr string
		want bool
	}{
		{1231, "127.0.0.1", true},   // bound to the address
		{1231, "127.0.0.13", false}, // another lab host's 1231 on the same kernel
		{1231, "central1", true},    // a name: any address
		{8080, "127.0.0.1", false},  // not LISTEN
		{22, "10.1.2.3", true},      // 0.0.0.0
		{8081, "127.0.0.1", true},   // ::
		{80, "127.0.0.13", true},    // 127.0.0.13
		{80, "127.0.0.1", false},
		{443, "127.0.0.12", true}, // ::ffff:127.0.0.12
		{53, "::1", true},
		{53, "127.0.0.1", false},
	} {
		if got := procNetListens(text, c.port, c.addr); got != c.want {
			t.Errorf("port %d on %s: %v, want %v", c.port, c.addr, got, c.want)
		}
	}
}

func TestProbeStatus(t *testing.T) {
	for out, want := range map[string]int{
		"hawiz-status:200\n": 200,
		"hawiz-status:000\n": 0,
		"  HTTP/1.1 302 Found\n  Location: /x\n  HTTP/1.1 503 Service Unavailable\n": 503,
		"wget: unable to resolve host address\n":                                     0,
		"hawiz-status:404\r\n":                                                       404,
	} {
		if got := probeStatus(out); got != want {
			t.Errorf("%q: %d, want %d", out, got, want)
		}
	}
}
