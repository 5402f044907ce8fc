package remote

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"
)

// This file holds the network and host facts a preflight asks of a host
// itself: whether it can open a TCP connection to an address and port
// (ReachTCP), how much disk is free where a file will be staged (FreeDisk),
// and what its time service says of the clock (TimeSync). Every value is
// data: an argument of a constant script, or a quoted PowerShell literal.

// ErrNoTCPClient: the host has none of the tools ReachTCP can connect with.
var ErrNoTCPClient = errors.New("none of bash (/dev/tcp), nc or curl is on the host's PATH")

// Reach is what ReachTCP found.
type Reach struct {
	OK     bool   // a connection was established
	Tool   string // what connected: "bash /dev/tcp", "nc", "curl telnet://", "TcpClient"
	Detail string // the tool's own words when it failed (last line)
}

// ValidTarget checks a TCP target before it is used: addr an IP address or
// an RFC 1123 host name (letters, digits, hyphens; labels of 1-63, not
// starting or ending with a hyphen; 253 at most), port 1-65535.
func ValidTarget(addr string, port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d: want 1-65535", port)
	}
	if _, err := netip.ParseAddr(addr); err == nil && !strings.Contains(addr, "%") {
		return nil
	}
	if !validHostName(addr) {
		return fmt.Errorf("address %q: want an IP address or a host name (RFC 1123)", addr)
	}
	return nil
}

func validHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// reachScript tries to open a TCP connection to $1 port $2 within $3
// seconds with, in order: bash's /dev/tcp (only where bash exists), nc -z,
// curl telnet:// (connected once it knows the peer's address). It prints
// "hawiz-reach:ok TOOL" or "hawiz-reach:fail TOOL" and the tool's own
// words; with none of them "hawiz-notcp" on stderr and exit 127. A
// constant: the address and port are positional parameters.
const reachScript = `addr=$1 port=$2 t=$3
bounded() { if command -v timeout >/dev/null 2>&1; then timeout "$t" "$@"; else "$@"; fi; }
if command -v bash >/dev/null 2>&1; then
  if out=$(bounded bash -c 'exec 3<>"/dev/tcp/$1/$2"' hawiz "$addr" "$port" 2>&1 </dev/null); then
    echo "hawiz-reach:ok bash /dev/tcp"
  else
    rc=$?; [ "$rc" = 124 ] && out="timed out after ${t}s"
    echo "hawiz-reach:fail bash /dev/tcp"; printf '%s\n' "$out"
  fi
  exit 0
fi
if command -v nc >/dev/null 2>&1; then
  if out=$(nc -z -w "$t" "$addr" "$port" 2>&1 </dev/null); then
    echo "hawiz-reach:ok nc"
  else
    echo "hawiz-reach:fail nc"; printf '%s\n' "${out:-nc -z: no connection within ${t}s}"
  fi
  exit 0
fi
if command -v curl >/dev/null 2>&1; then
  case $addr in *:*) u="telnet://[$addr]:$port" ;; *) u="telnet://$addr:$port" ;; esac
  out=$(curl -sS --connect-timeout "$t" --max-time "$t" -o /dev/null -w 'hawiz-peer:%{remote_ip}\n' "$u" 2>&1 </dev/null)
  case $out in
  *hawiz-peer:?*) echo "hawiz-reach:ok curl telnet://" ;;
  *) echo "hawiz-reach:fail curl telnet://"; printf '%s\n' "$out" | grep -v '^hawiz-peer:' ;;
  esac
  exit 0
fi
echo hawiz-notcp >&2
exit 127`

// ReachTCP reports whether h itself can open a TCP connection to addr:port
// within timeout (default 5s): the connection is made by a command run on
// the host, so the answer is what a service on the host sees (its routes,
// its resolver, its firewall). A refused or timed-out connection is a
// Reach with OK false and the tool's words, not an error; a host with
// none of bash, nc or curl is an error wrapping ErrNoTCPClient that names
// the host and what to install. addr and port are checked (ValidTarget)
// before anything runs.
func (h *Host) ReachTCP(ctx context.Context, addr string, port int, timeout time.Duration) (_ Reach, err error) {
	defer func() { err = h.f.redactErr(err) }()
	if err := ValidTarget(addr, port); err != nil {
		return Reach{}, fmt.Errorf("host %s: TCP reach probe: %w", h.cfg.Name, err)
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	secs := int((timeout + time.Second - 1) / time.Second)
	target := addr + " port " + strconv.Itoa(port)
	detail := "can the host connect to " + target + " (TCP)"
	req := &execReq{kind: "run", detail: detail, read: true, timeout: timeout + 20*time.Second}
	if h.cfg.OS == Windows {
		req.ps = "$c = New-Object System.Net.Sockets.TcpClient\n" +
			"try { $t = $c.ConnectAsync(" + psQuote(addr) + ", " + strconv.Itoa(port) + ")\n" +
			"  if ($t.Wait(" + strconv.Itoa(secs*1000) + ")) { 'hawiz-reach:ok TcpClient' } else { 'hawiz-reach:fail TcpClient'; 'timed out after " + strconv.Itoa(secs) + "s' } }\n" +
			"catch { 'hawiz-reach:fail TcpClient'; $e = $_.Exception; while ($e.InnerException) { $e = $e.InnerException }; $e.Message }\n" +
			"finally { $c.Dispose() }"
	} else {
		req.argv = []string{"sh", "-c", reachScript, "hawiz", addr, strconv.Itoa(port), strconv.Itoa(secs)}
	}
	res, err := h.exec(ctx, req)
	if err != nil {
		return Reach{}, fmt.Errorf("host %s: connecting to %s: %w", h.cfg.Name, target, err)
	}
	if res.ExitStatus == 127 && strings.Contains(string(res.Stderr), "hawiz-notcp") {
		return Reach{}, fmt.Errorf("host %s: cannot test a TCP connection to %s: %w; install bash, nc (netcat) or curl there", h.cfg.Name, target, ErrNoTCPClient)
	}
	r, ok := parseReach(string(res.Stdout))
	if !ok || res.ExitStatus != 0 {
		return Reach{}, fmt.Errorf("host %s: connecting to %s: unexpected answer (exit %d): %s", h.cfg.Name, target, res.ExitStatus,
			lastLine(strings.TrimSpace(string(res.Stderr)+string(res.Stdout))))
	}
	return r, nil
}

// parseReach reads reachScript's (or the PowerShell twin's) output.
func parseReach(out string) (Reach, bool) {
	var r Reach
	found := false
	var words []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "hawiz-reach:"); ok {
			verdict, tool, _ := strings.Cut(rest, " ")
			if verdict != "ok" && verdict != "fail" {
				return Reach{}, false
			}
			r.OK, r.Tool, found = verdict == "ok", tool, true
			continue
		}
		if found && l != "" {
			words = append(words, l)
		}
	}
	if !r.OK {
		r.Detail = lastLine(strings.Join(words, "\n"))
		if r.Detail == "" {
			r.Detail = "no connection"
		}
	}
	return r, found
}

// Disk is what FreeDisk found.
type Disk struct {
	Path  string // the directory measured: the path, or its nearest existing parent
	Avail int64  // bytes available to an unprivileged writer
	Mount string // where that file system is mounted (Linux), the drive (Windows)
}

// freeDiskScript measures the nearest existing directory at or above $1
// with df -Pk (POSIX output, 1024-byte blocks). A constant.
const freeDiskScript = `p=$1
while [ ! -e "$p" ] && [ "$p" != / ]; do p=$(dirname -- "$p"); done
echo "hawiz-path:$p"
exec df -Pk -- "$p"`

// FreeDisk reports the space available in the file system holding dir on
// h (its nearest existing parent when dir does not exist yet): df -Pk,
// parsed here; on Windows the free space of dir's drive.
func (h *Host) FreeDisk(ctx context.Context, dir string, sudo bool) (_ Disk, err error) {
	defer func() { err = h.f.redactErr(err) }()
	if strings.ContainsAny(dir, "\x00\r\n") {
		return Disk{}, fmt.Errorf("host %s: free disk of %q: control characters in the path", h.cfg.Name, dir)
	}
	detail := "free disk space at " + dir
	if h.cfg.OS == Windows {
		ps := "$d = New-Object System.IO.DriveInfo([System.IO.Path]::GetPathRoot(" + psQuote(dir) + "))\n" +
			"'hawiz-free:' + $d.AvailableFreeSpace + ' ' + $d.Name"
		res, err := h.exec(ctx, &execReq{kind: "run", detail: detail, ps: ps, read: true})
		if err == nil {
			err = res.ExitError()
		}
		if err != nil {
			return Disk{}, fmt.Errorf("host %s: %s: %w", h.cfg.Name, detail, err)
		}
		for _, l := range strings.Split(string(res.Stdout), "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "hawiz-free:"); ok {
				n, drive, _ := strings.Cut(rest, " ")
				if v, err := strconv.ParseInt(n, 10, 64); err == nil && v >= 0 {
					return Disk{Path: dir, Avail: v, Mount: drive}, nil
				}
			}
		}
		return Disk{}, fmt.Errorf("host %s: %s: unexpected answer %q", h.cfg.Name, detail, lastLine(strings.TrimSpace(string(res.Stdout))))
	}
	if !path.IsAbs(dir) {
		return Disk{}, fmt.Errorf("host %s: free disk of %q: want an absolute path", h.cfg.Name, dir)
	}
	res, err := h.exec(ctx, &execReq{kind: "run", detail: detail + " (df -Pk)", argv: []string{"sh", "-c", freeDiskScript, "hawiz", dir}, sudo: sudo, read: true})
	if err == nil {
		err = res.ExitError()
	}
	if err != nil {
		return Disk{}, fmt.Errorf("host %s: %s: %w", h.cfg.Name, detail, err)
	}
	d, err := parseDF(string(res.Stdout))
	if err != nil {
		return Disk{}, fmt.Errorf("host %s: %s: %w", h.cfg.Name, detail, err)
	}
	return d, nil
}

// parseDF reads freeDiskScript's output: the measured path, then df -P's
// header and one line "FS BLOCKS USED AVAIL CAP% MOUNT" (a file system or
// mount point may hold spaces: the line is read around CAP%).
func parseDF(out string) (Disk, error) {
	var d Disk
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 3 {
		return d, fmt.Errorf("unexpected df output %q", out)
	}
	d.Path, _ = strings.CutPrefix(lines[0], "hawiz-path:")
	f := strings.Fields(lines[len(lines)-1])
	for i := 3; i < len(f)-1; i++ {
		pct := f[i]
		if !strings.HasSuffix(pct, "%") {
			continue
		}
		if _, err := strconv.Atoi(strings.TrimSuffix(pct, "%")); err != nil && pct != "-%" {
			continue
		}
		avail, err1 := strconv.ParseInt(f[i-1], 10, 64)
		_, err2 := strconv.ParseInt(f[i-2], 10, 64)
		_, err3 := strconv.ParseInt(f[i-3], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || avail < 0 {
			continue
		}
		d.Avail = avail * 1024
		d.Mount = strings.Join(f[i+1:], " ")
		return d, nil
	}
	return d, fmt.Errorf("unexpected df output line %q", lines[len(lines)-1])
}

// TimeState is a time service's verdict on the host's clock.
type TimeState int

const (
	TimeUnknown   TimeState = iota // no time service answered, or its answer was not understood
	TimeSynced                     // the service says the clock is synchronised
	TimeNotSynced                  // the service says it is not
)

// TimeSync is what TimeSync found.
type TimeSync struct {
	State    TimeState
	Source   string // timedatectl, chronyc tracking, ntpq -pn, w32tm; "" when none
	Evidence string // the service's own words (one line)
}

// timeSyncScript asks the time service, in order: timedatectl's
// NTPSynchronized, chronyc tracking, ntpq -pn. It prints "hawiz-time:TOOL"
// and the tool's output; "hawiz-time:none" when none answered. A constant.
const timeSyncScript = `if command -v timedatectl >/dev/null 2>&1 && out=$(timedatectl show -p NTPSynchronized --value 2>/dev/null) && [ -n "$out" ]; then
  echo "hawiz-time:timedatectl"; printf '%s\n' "$out"; exit 0
fi
if command -v chronyc >/dev/null 2>&1 && out=$(chronyc tracking 2>/dev/null); then
  echo "hawiz-time:chronyc"; printf '%s\n' "$out"; exit 0
fi
if command -v ntpq >/dev/null 2>&1 && out=$(ntpq -pn 2>/dev/null) && [ -n "$out" ]; then
  echo "hawiz-time:ntpq"; printf '%s\n' "$out"; exit 0
fi
echo "hawiz-time:none"`

// TimeSync asks h's time service whether its clock is synchronised:
// timedatectl (systemd-timesyncd or any NTP client systemd knows), else
// chronyc tracking, else ntpq -pn; w32tm /query /status on Windows. A host
// where none answers is TimeUnknown with what was tried, not an error.
func (h *Host) TimeSync(ctx context.Context) (_ TimeSync, err error) {
	defer func() { err = h.f.redactErr(err) }()
	if h.cfg.OS == Windows {
		res, err := h.exec(ctx, &execReq{kind: "run", detail: "time service status (w32tm /query /status)",
			ps: "& w32tm /query /status 2>&1 | Out-String", read: true})
		if err != nil {
			return TimeSync{}, fmt.Errorf("host %s: time service status: %w", h.cfg.Name, err)
		}
		return parseW32tm(string(res.Stdout), res.ExitStatus), nil
	}
	res, err := h.exec(ctx, &execReq{kind: "run", detail: "time service status (timedatectl, chronyc, ntpq)",
		argv: []string{"sh", "-c", timeSyncScript}, read: true})
	if err == nil {
		err = res.ExitError()
	}
	if err != nil {
		return TimeSync{}, fmt.Errorf("host %s: time service status: %w", h.cfg.Name, err)
	}
	return parseTimeSync(string(res.Stdout)), nil
}

// parseTimeSync reads timeSyncScript's output.
func parseTimeSync(out string) TimeSync {
	tool, body, _ := strings.Cut(out, "\n")
	tool = strings.TrimPrefix(strings.TrimSpace(tool), "hawiz-time:")
	body = strings.TrimSpace(body)
	switch tool {
	case "timedatectl":
		ts := TimeSync{Source: "timedatectl", Evidence: "NTPSynchronized=" + body}
		switch body {
		case "yes":
			ts.State = TimeSynced
		case "no":
			ts.State = TimeNotSynced
		}
		return ts
	case "chronyc":
		ts := TimeSync{Source: "chronyc tracking"}
		var ref, leap string
		for _, l := range strings.Split(body, "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "Reference ID":
				ref = strings.TrimSpace(v)
			case "Leap status":
				leap = strings.TrimSpace(v)
			}
		}
		ts.Evidence = "Reference ID " + ref + ", Leap status " + leap
		switch {
		case leap == "Not synchronised" || strings.HasPrefix(ref, "00000000"):
			ts.State = TimeNotSynced
		case leap != "":
			ts.State = TimeSynced
		}
		return ts
	case "ntpq":
		// Only a peer table (its ==== rule) or ntpd's own "no
		// association" is an answer: ntpq without its daemon may exit 0
		// with its complaint, which says nothing of the clock.
		if strings.Contains(body, "No association ID's returned") {
			return TimeSync{Source: "ntpq -pn", State: TimeNotSynced, Evidence: "ntpd has no association (no server configured or answering)"}
		}
		if !strings.Contains(body, "\n===") && !strings.HasPrefix(body, "===") {
			return TimeSync{State: TimeUnknown, Evidence: "ntpq -pn printed no peer table (is ntpd running?): " + lastLine(body) + "; tried timedatectl, chronyc, ntpq"}
		}
		ts := TimeSync{Source: "ntpq -pn", State: TimeNotSynced, Evidence: "no peer selected (no line starting with *)"}
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "*") {
				ts.State, ts.Evidence = TimeSynced, "system peer "+strings.Fields(l[1:] + " ?")[0]
				break
			}
		}
		return ts
	}
	return TimeSync{State: TimeUnknown, Evidence: "no time service answered (tried timedatectl, chronyc, ntpq)"}
}

// parseW32tm reads w32tm /query /status: synchronised when the leap
// indicator is not 3 (unsynchronised) and the source is not the local
// clock.
func parseW32tm(out string, exit int) TimeSync {
	ts := TimeSync{Source: "w32tm"}
	var leap, source string
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Leap Indicator":
			leap = strings.TrimSpace(v)
		case "Source":
			source = strings.TrimSpace(v)
		}
	}
	if exit != 0 || leap == "" {
		return TimeSync{State: TimeUnknown, Evidence: "w32tm /query /status gave no status (is the Windows Time service running?): " + lastLine(strings.TrimSpace(out))}
	}
	ts.Evidence = "Leap Indicator " + leap + ", Source " + source
	switch {
	case strings.HasPrefix(leap, "3") || source == "" || strings.Contains(source, "Local CMOS Clock") || strings.Contains(source, "Free-running"):
		ts.State = TimeNotSynced
	default:
		ts.State = TimeSynced
	}
	return ts
}
