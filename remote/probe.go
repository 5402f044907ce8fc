package remote

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// This file holds the proofs that need no TCP forwarding: a host whose sshd
// has AllowTcpForwarding no answers every direct-tcpip channel with
// "administratively prohibited". The first such refusal (or CheckForwarding
// in a preflight, or SetForwarding from a recorded fact) switches the host
// to on-host probes: a command run on the host with the same verdicts.

// ErrForwardingProhibited: the host's sshd refuses TCP forwarding
// (AllowTcpForwarding no, or a Match block / permitopen that forbids it).
var ErrForwardingProhibited = errors.New("TCP forwarding is administratively prohibited by the host's sshd")

// ErrNoHTTPClient: the host has neither curl nor wget to ask an HTTP URL
// itself.
var ErrNoHTTPClient = errors.New("neither curl nor wget is on the host's PATH")

const (
	fwdUnknown int32 = iota
	fwdWorks
	fwdRefused
)

// isProhibited reports whether err is the server's "administratively
// prohibited" answer to a channel open.
func isProhibited(err error) bool {
	var oce *ssh.OpenChannelError
	return errors.As(err, &oce) && oce.Reason == ssh.Prohibited
}

// Forwarding reports what is known of TCP forwarding on h: known false
// until CheckForwarding, SetForwarding or a refused dial found out.
func (h *Host) Forwarding() (works, known bool) {
	switch h.fwd.Load() {
	case fwdWorks:
		return true, true
	case fwdRefused:
		return false, true
	}
	return false, false
}

// SetForwarding records whether TCP forwarding works on h (a fact found
// earlier, e.g. by a previous session of the same run).
func (h *Host) SetForwarding(works bool) {
	if works {
		h.fwd.Store(fwdWorks)
	} else {
		h.fwd.Store(fwdRefused)
	}
}

// forwardingRefused: a dial was (or is known to be) refused as prohibited.
func (h *Host) forwardingRefused() bool { return h.fwd.Load() == fwdRefused }

// CheckForwarding finds out whether h's sshd allows TCP forwarding: one
// direct-tcpip open to the host's own address at its SSH port. Any answer
// but "administratively prohibited" (connected, or the port refused) means
// forwarding works. The verdict is kept on h (Forwarding).
func (h *Host) CheckForwarding(ctx context.Context) (bool, error) {
	port := h.t.port
	if port == 0 {
		port = 22
	}
	c, err := h.DialTCP(ctx, port)
	if err == nil {
		c.Close()
		h.fwd.Store(fwdWorks)
		return true, nil
	}
	if errors.Is(err, ErrForwardingProhibited) {
		return false, nil
	}
	var oce *ssh.OpenChannelError
	if errors.As(err, &oce) {
		h.fwd.Store(fwdWorks) // the channel was allowed; the port answered no
		return true, nil
	}
	return false, err
}

// procNetScript prints /proc/net/tcp and, when the kernel has IPv6,
// /proc/net/tcp6. A constant: nothing of the caller's is in it.
const procNetScript = `cat /proc/net/tcp || exit 1; if [ -r /proc/net/tcp6 ]; then cat /proc/net/tcp6; fi`

// ProbeTCP reports whether something listens on TCP port on h, asked on the
// host itself (no forwarding): on Linux a LISTEN socket on that local port
// in /proc/net/tcp or tcp6 that a connection to the host's address would
// reach (bound to it or to the wildcard address; the same verdict as a
// forward to ADDRESS:port); on Windows Get-NetTCPConnection
// -State Listen.
func (h *Host) ProbeTCP(ctx context.Context, port int) (_ bool, err error) {
	defer func() { err = h.f.redactErr(err) }()
	if port < 1 || port > 65535 {
		return false, fmt.Errorf("host %s: probe port %d: want a port 1-65535", h.cfg.Name, port)
	}
	if h.cfg.OS == Windows {
		ps := "if (Get-NetTCPConnection -State Listen -LocalPort " + strconv.Itoa(port) +
			" -ErrorAction SilentlyContinue) { 'listen' } else { 'closed' }"
		res, err := h.exec(ctx, &execReq{kind: "run", detail: "probe TCP port " + strconv.Itoa(port), ps: ps, read: true})
		if err != nil {
			return false, fmt.Errorf("host %s: probe TCP port %d: %w", h.cfg.Name, port, err)
		}
		if res.ExitStatus != 0 {
			return false, fmt.Errorf("host %s: probe TCP port %d: exit %d: %s", h.cfg.Name, port, res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
		}
		return strings.TrimSpace(string(res.Stdout)) == "listen", nil
	}
	res, err := h.exec(ctx, &execReq{kind: "run", detail: "probe TCP port " + strconv.Itoa(port) + " (/proc/net/tcp)",
		argv: []string{"sh", "-c", procNetScript}, read: true, noOutput: true})
	if err != nil {
		return false, fmt.Errorf("host %s: probe TCP port %d: %w", h.cfg.Name, port, err)
	}
	if res.ExitStatus != 0 {
		return false, fmt.Errorf("host %s: probe TCP port %d: reading /proc/net/tcp: exit %d: %s", h.cfg.Name, port, res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
	}
	return procNetListens(string(res.Stdout), port, h.t.addr), nil
}

// procNetListens reports whether /proc/net/tcp{,6} text holds a socket in
// state LISTEN (0A) on local port port that a connection to addr reaches:
// bound to the wildcard address or to addr itself (an IP literal, also as
// an IPv4-mapped IPv6 address). With addr a name, any local address counts.
func procNetListens(text string, port int, addr string) bool {
	want, _ := netip.ParseAddr(addr)
	want = want.Unmap()
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || f[3] != "0A" {
			continue
		}
		hexAddr, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(hexPort, 16, 16); err != nil || int(p) != port {
			continue
		}
		if !want.IsValid() {
			return true
		}
		local, ok := procNetAddr(hexAddr)
		if ok && (local.IsUnspecified() || local.Unmap() == want) {
			return true
		}
	}
	return false
}

// procNetAddr decodes /proc/net/tcp's address: 8 hex digits (IPv4) or 32
// (IPv6), each 32-bit word in the kernel's (little-endian) byte order.
func procNetAddr(h string) (netip.Addr, bool) {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return netip.Addr{}, false
	}
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	a, ok := netip.AddrFromSlice(b)
	return a.Unmap(), ok
}

// httpProbeScript asks URL $2 with curl, else wget, and prints the status
// line(s): curl's "%{http_code}", wget's server response headers. $1 is
// "k" to skip certificate verification (the status code only is used). A
// constant: the URL is a positional parameter, never part of the script.
const httpProbeScript = `url=$2
if command -v curl >/dev/null 2>&1; then
  if [ "$1" = k ]; then set -- -k; else set --; fi
  exec curl -sS "$@" --max-time 10 -o /dev/null -w 'hawiz-status:%{http_code}\n' -- "$url"
elif command -v wget >/dev/null 2>&1; then
  if [ "$1" = k ]; then set -- --no-check-certificate; else set --; fi
  wget -S -O /dev/null -T 10 -t 1 "$@" -- "$url" 2>&1
  exit 0
else
  echo 'hawiz-nohttp' >&2; exit 127
fi`

// httpClientScript prints which HTTP client ProbeHTTP would use on the
// host: curl, else wget, else nothing (exit 127). A constant.
const httpClientScript = `if command -v curl >/dev/null 2>&1; then echo curl
elif command -v wget >/dev/null 2>&1; then echo wget
else echo 'hawiz-nohttp' >&2; exit 127; fi`

// HTTPProbeClient says which client ProbeHTTP runs on h: "curl" or "wget"
// (looked up on the PATH the probe itself gets, in the same order),
// "Invoke-WebRequest" on Windows. A host with neither curl nor wget is an
// error wrapping ErrNoHTTPClient that names the host: a preflight asks it
// before anything changes, so a host whose sshd refuses forwarding is
// refused then, not after a start.
func (h *Host) HTTPProbeClient(ctx context.Context) (_ string, err error) {
	defer func() { err = h.f.redactErr(err) }()
	if h.cfg.OS == Windows {
		return "Invoke-WebRequest", nil
	}
	res, err := h.exec(ctx, &execReq{kind: "run", detail: "which HTTP client the host has (curl, wget)",
		argv: []string{"sh", "-c", httpClientScript}, read: true})
	if err != nil {
		return "", fmt.Errorf("host %s: looking for curl or wget: %w", h.cfg.Name, err)
	}
	if res.ExitStatus == 127 && strings.Contains(string(res.Stderr), "hawiz-nohttp") {
		return "", fmt.Errorf("host %s: %w; install curl or wget there, or allow TCP forwarding (AllowTcpForwarding) for this user", h.cfg.Name, ErrNoHTTPClient)
	}
	out := strings.TrimSpace(string(res.Stdout))
	if res.ExitStatus != 0 || (out != "curl" && out != "wget") {
		return "", fmt.Errorf("host %s: looking for curl or wget: exit %d: %s", h.cfg.Name, res.ExitStatus, lastLine(strings.TrimSpace(string(res.Stderr)+out)))
	}
	return out, nil
}

// ProbeHTTP asks GET http(s)://ADDRESS:port/path on h itself (no
// forwarding), ADDRESS being the address hawiz dials, as HTTPGet through
// forwarding asks it: curl or wget on Linux (ErrNoHTTPClient when neither
// is there), Invoke-WebRequest on Windows. It returns the status code;
// with insecure TLS the certificate is not verified (status code only).
func (h *Host) ProbeHTTP(ctx context.Context, port int, path string, https bool) (_ int, err error) {
	defer func() { err = h.f.redactErr(err) }()
	if port < 1 || port > 65535 {
		return 0, fmt.Errorf("host %s: probe HTTP port %d: want a port 1-65535", h.cfg.Name, port)
	}
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	scheme := "http"
	if https {
		scheme = "https"
	}
	url := scheme + "://" + net.JoinHostPort(h.t.addr, strconv.Itoa(port)) + path
	if strings.ContainsAny(url, "\x00\r\n") {
		return 0, fmt.Errorf("host %s: probe GET %q: control characters in the URL", h.cfg.Name, url)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	detail := "GET " + url + " on the host"
	var res Result
	if h.cfg.OS == Windows {
		ps := "$ProgressPreference = 'SilentlyContinue'\n"
		if https {
			ps += "[Net.ServicePointManager]::ServerCertificateValidationCallback = { $true }\n"
		}
		ps += "try { $r = Invoke-WebRequest -UseBasicParsing -TimeoutSec 10 -Uri " + psQuote(url) + "; 'hawiz-status:' + [int]$r.StatusCode }\n" +
			"catch { if ($_.Exception.Response) { 'hawiz-status:' + [int]$_.Exception.Response.StatusCode } else { [Console]::Error.WriteLine($_.Exception.Message); exit 1 } }"
		res, err = h.exec(ctx, &execReq{kind: "run", detail: detail, ps: ps, read: true})
	} else {
		k := "-"
		if https {
			k = "k"
		}
		res, err = h.exec(ctx, &execReq{kind: "run", detail: detail, argv: []string{"sh", "-c", httpProbeScript, "hawiz", k, url}, read: true})
	}
	if err != nil {
		return 0, fmt.Errorf("host %s: %s: %w", h.cfg.Name, detail, err)
	}
	if res.ExitStatus == 127 && strings.Contains(string(res.Stderr), "hawiz-nohttp") {
		return 0, fmt.Errorf("host %s: %s: %w; install curl or wget there, or allow TCP forwarding (AllowTcpForwarding) for this user", h.cfg.Name, detail, ErrNoHTTPClient)
	}
	if st := probeStatus(string(res.Stdout)); st > 0 {
		return st, nil
	}
	msg := strings.TrimSpace(string(res.Stderr))
	if msg == "" {
		msg = strings.TrimSpace(string(res.Stdout))
	}
	return 0, fmt.Errorf("host %s: %s: no HTTP answer (exit %d): %s", h.cfg.Name, detail, res.ExitStatus, lastLine(msg))
}

// probeStatus finds the status code in the probe's output: the last
// "hawiz-status:NNN" line (curl, PowerShell), else the last "HTTP/x NNN"
// line (wget -S, after any redirects). 0 when none (no answer).
func probeStatus(out string) int {
	st := 0
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "hawiz-status:"); ok {
			if n, err := strconv.Atoi(rest); err == nil && n >= 100 && n <= 999 {
				st = n
			}
			continue
		}
		if f := strings.Fields(l); len(f) >= 2 && strings.HasPrefix(f[0], "HTTP/") {
			if n, err := strconv.Atoi(f[1]); err == nil && n >= 100 && n <= 999 {
				st = n
			}
		}
	}
	return st
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// HTTPStatus is the status code of GET http(s)://ADDRESS:port/path as the
// host itself reaches it: through TCP forwarding while the host allows it,
// else (known refused, or refused now) by ProbeHTTP on the host. With
// https, TLS without certificate verification (status code only: the
// request carries no credentials).
func (h *Host) HTTPStatus(ctx context.Context, port int, path string, https bool) (int, error) {
	if h.forwardingRefused() {
		return h.ProbeHTTP(ctx, port, path, https)
	}
	var (
		st  int
		err error
	)
	if https {
		st, err = h.httpsStatus(ctx, port, path)
	} else {
		st, _, _, err = h.HTTPGet(ctx, port, path)
	}
	if err != nil && errors.Is(err, ErrForwardingProhibited) {
		return h.ProbeHTTP(ctx, port, path, https)
	}
	return st, err
}
