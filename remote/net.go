package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"
)

// DialTCP opens a TCP connection from the host to its own address
// (Address()) and port, tunnelled through the SSH connection (direct-tcpip):
// DialTCPAddr(ctx, Address():port).
func (h *Host) DialTCP(ctx context.Context, port int) (net.Conn, error) {
	return h.DialTCPAddr(ctx, net.JoinHostPort(h.t.addr, strconv.Itoa(port)))
}

// DialTCPAddr opens a TCP connection to addr ("host:port") as the host
// reaches it, tunnelled through the SSH connection (OpenSSH's direct-tcpip:
// the server resolves host and connects; sshd's AllowTcpForwarding must
// allow it). For a service only the host can reach, e.g. a database on a
// private network. A dead connection is re-dialled once, as for commands.
func (h *Host) DialTCPAddr(ctx context.Context, addr string) (_ net.Conn, err error) {
	defer func() { err = h.f.redactErr(err) }()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("host %s: dial %q through SSH: %w", h.cfg.Name, addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
		return nil, fmt.Errorf("host %s: dial %q through SSH: want host:port with a port 1-65535", h.cfg.Name, addr)
	}
	if h.forwardingRefused() {
		return nil, fmt.Errorf("host %s: dial %s through SSH: %w", h.cfg.Name, addr, ErrForwardingProhibited)
	}
	c, err := h.current(ctx)
	if err != nil {
		return nil, err
	}
	dialOn := func(c *conn) (net.Conn, error) {
		return openOn(ctx, c, func() (net.Conn, error) { return c.client.DialContext(ctx, "tcp", addr) },
			func(nc net.Conn) { nc.Close() })
	}
	nc, err := dialOn(c)
	// The server's own refusal (connect failed, prohibited) is an
	// OpenChannelError on a live connection: final. Anything else (EOF: the
	// connection dropped, perhaps before its reader noticed) re-dials once,
	// as newSession does; nothing was sent yet, so retrying is safe.
	var oce *ssh.OpenChannelError
	if err != nil && ctx.Err() == nil && (!errors.As(err, &oce) || c.isDead()) {
		if c, err = h.redial(ctx, c); err != nil {
			return nil, err
		}
		nc, err = dialOn(c)
	}
	if isProhibited(err) {
		// AllowTcpForwarding no: every later dial would be refused the
		// same way; the host's proofs switch to on-host probes (probe.go).
		h.fwd.Store(fwdRefused)
		return nil, fmt.Errorf("host %s: dial %s through SSH: %w (%v)", h.cfg.Name, addr, ErrForwardingProhibited, err)
	}
	if err != nil {
		return nil, fmt.Errorf("host %s: dial %s through SSH: %w", h.cfg.Name, addr, err)
	}
	return newTunnelConn(nc), nil
}

// tunnelConn gives a direct-tcpip channel the deadlines of a net.Conn
// (x/crypto/ssh's has none: "ssh: tcpChan: deadline not supported", and
// clients such as database drivers set them on every operation): the
// caller holds one end of a net.Pipe, whose deadlines work, and the channel
// is copied to and from the other end. Closing either side ends both.
type tunnelConn struct {
	net.Conn          // the caller's end of the pipe
	ch       net.Conn // the SSH channel
}

func newTunnelConn(ch net.Conn) net.Conn {
	mine, theirs := net.Pipe()
	go func() { io.Copy(theirs, ch); theirs.Close() }()
	go func() { io.Copy(ch, theirs); ch.Close() }()
	return &tunnelConn{Conn: mine, ch: ch}
}

func (c *tunnelConn) Close() error {
	err := c.Conn.Close()
	c.ch.Close()
	return err
}

func (c *tunnelConn) LocalAddr() net.Addr  { return c.ch.LocalAddr() }
func (c *tunnelConn) RemoteAddr() net.Addr { return c.ch.RemoteAddr() }

// PortListening reports whether DialTCP(port) succeeds; on a host whose
// sshd refuses TCP forwarding (known, or refused now), whether ProbeTCP
// finds a socket listening on port there (false when it cannot tell).
func (h *Host) PortListening(ctx context.Context, port int) bool {
	if !h.forwardingRefused() {
		c, err := h.DialTCP(ctx, port)
		if err == nil {
			c.Close()
			return true
		}
		if !errors.Is(err, ErrForwardingProhibited) {
			return false
		}
	}
	ok, err := h.ProbeTCP(ctx, port)
	return err == nil && ok
}

const maxHTTPBody = 4 << 20

// HTTPGet fetches http://ADDRESS:port/path through DialTCP (10 s timeout
// unless ctx ends sooner). The body is limited to 4 MiB.
func (h *Host) HTTPGet(ctx context.Context, port int, path string) (int, http.Header, []byte, error) {
	return h.get(ctx, "http", port, path)
}

// httpsStatus is the status code of GET https://ADDRESS:port/path through
// DialTCP, TLS without certificate verification (HTTPStatus).
func (h *Host) httpsStatus(ctx context.Context, port int, path string) (int, error) {
	code, _, _, err := h.get(ctx, "https", port, path)
	if code != 0 {
		err = nil // the status is the answer; a body cut short does not matter here
	}
	return code, err
}

// get is one GET of scheme://ADDRESS:port/path through DialTCP (10 s
// timeout unless ctx ends sooner; https without certificate verification:
// only status codes are read over it, no credentials are sent), recorded in
// the transcript. The body is limited to 4 MiB.
func (h *Host) get(ctx context.Context, scheme string, port int, path string) (int, http.Header, []byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	tr := &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return h.DialTCP(ctx, port) },
		DisableKeepAlives: true,
	}
	if scheme == "https" {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // status code only, no credentials sent
	}
	defer tr.CloseIdleConnections()
	url := scheme + "://" + net.JoinHostPort(h.t.addr, strconv.Itoa(port)) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("host %s: GET %s: %w", h.cfg.Name, url, err)
	}
	start := time.Now()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		h.f.record(Action{Time: start, Host: h.cfg.Name, Kind: "dial", Detail: "GET " + url, Duration: time.Since(start), Err: err.Error()})
		return 0, nil, nil, fmt.Errorf("host %s: GET %s: %w", h.cfg.Name, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody))
	h.f.record(Action{Time: start, Host: h.cfg.Name, Kind: "dial", Detail: "GET " + url, ExitStatus: resp.StatusCode,
		Duration: time.Since(start), Err: h.f.errString(err)})
	if err != nil {
		return resp.StatusCode, resp.Header, body, fmt.Errorf("host %s: GET %s: %w", h.cfg.Name, url, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}
