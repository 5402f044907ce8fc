package micetro

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Everything here talks to one host through remote's typed primitives. No
// answer value is ever pasted into a shell string: paths, names and argv go
// through remote.Cmd, which quotes them.

var versionRE = regexp.MustCompile(`\d+(\.\d+)+`)

// parseVersion returns the first "N.N[.N…]" in s, or "".
func parseVersion(s string) string { return versionRE.FindString(s) }

// host returns the connected host for name or an error naming it.
func host(e *steps.Env, name string) (*remote.Host, error) {
	h := e.Host(name)
	if h == nil {
		return nil, fmt.Errorf("host %s is not connected", name)
	}
	return h, nil
}

// readPrefs reads m's preferences.cfg. exists is false when there is none.
func readPrefs(ctx context.Context, c *Common, h *remote.Host, m *Member) (p *Prefs, info remote.FileInfo, err error) {
	b, info, err := h.ReadFile(ctx, c.prefsPath(m), c.sudo(m))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, remote.FileInfo{}, nil
	}
	if err != nil {
		return nil, info, fmt.Errorf("reading %s on %s: %w", c.prefsPath(m), m.Host.Name, err)
	}
	if !info.Exists {
		return nil, info, nil
	}
	return ParsePrefs(b, c.eol(m)), info, nil
}

// service runs a service action on m through remote.Service with the
// manager serviceManager names (on Windows: mmcentral.exe -stop / -start,
// restart as stop then start, the state from Get-Service).
func service(ctx context.Context, c *Common, h *remote.Host, m *Member, a remote.ServiceAction) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.ServiceTimeout)
	defer cancel()
	active, err := h.Service(ctx, c.serviceManager(m), c.serviceName(m), a, c.sudo(m))
	if err != nil {
		return active, fmt.Errorf("%s %s on %s: %w", a, c.serviceName(m), m.Host.Name, err)
	}
	return active, nil
}

func isActive(ctx context.Context, c *Common, h *remote.Host, m *Member) (bool, error) {
	return service(ctx, c, h, m, remote.ServiceIsActive)
}

// waitListening waits until Central listens on 1231 on m (or the wait ends).
func waitListening(ctx context.Context, c *Common, h *remote.Host) bool {
	deadline := time.Now().Add(c.StartWait)
	for {
		if h.PortListening(ctx, CentralPort) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// running reports whether Central is active and listening on 1231, as
// evidence text.
func running(ctx context.Context, c *Common, h *remote.Host, m *Member) (bool, string, error) {
	active, err := isActive(ctx, c, h, m)
	if err != nil {
		return false, "", err
	}
	if !active {
		return false, fmt.Sprintf("service %s is not active", c.serviceName(m)), nil
	}
	if !h.PortListening(ctx, CentralPort) {
		return false, fmt.Sprintf("service %s is active but nothing listens on port %d", c.serviceName(m), CentralPort), nil
	}
	return true, fmt.Sprintf("service %s active, port %d listening", c.serviceName(m), CentralPort), nil
}

// startAndVerify starts (or restarts) Central and waits for port 1231.
func startAndVerify(ctx context.Context, c *Common, h *remote.Host, m *Member, a remote.ServiceAction) error {
	if _, err := service(ctx, c, h, m, a); err != nil {
		return fmt.Errorf("%w; Central's startup log is in %s", err, logsDir(c, m))
	}
	if !waitListening(ctx, c, h) {
		return fmt.Errorf("Central on %s did not listen on port %d within %v; see the startup log in %s", m.Host.Name, CentralPort, c.StartWait, logsDir(c, m))
	}
	return nil
}

func logsDir(c *Common, m *Member) string {
	p := c.prefsPath(m)
	if m.windows() {
		return p[:strings.LastIndex(p, `\`)+1] + "logs"
	}
	return p[:strings.LastIndex(p, "/")+1] + "logs"
}

// powershell runs a constant PowerShell expression (never user input).
func powershell(expr string) remote.Cmd {
	return remote.Cmd{Program: "powershell.exe", Args: []string{"-NoProfile", "-NonInteractive", "-Command", expr}}
}

// remoteNow returns the host's clock (Unix seconds).
func remoteNow(ctx context.Context, h *remote.Host, m *Member) (int64, error) {
	cmd := remote.Cmd{Program: "date", Args: []string{"+%s"}}
	if m.windows() {
		cmd = powershell("[DateTimeOffset]::UtcNow.ToUnixTimeSeconds()")
	}
	cmd.Timeout = 20 * time.Second
	r, err := h.Run(ctx, cmd)
	if err == nil {
		err = r.ExitError()
	}
	if err != nil {
		return 0, fmt.Errorf("reading the clock on %s: %w", m.Host.Name, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(r.Stdout)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading the clock on %s: %q is not a time", m.Host.Name, strings.TrimSpace(string(r.Stdout)))
	}
	return n, nil
}

// startedAt returns when Central's oldest running process started on m (Unix
// seconds, host clock), or 0 when none runs [derived: ps / Get-Process].
func startedAt(ctx context.Context, c *Common, h *remote.Host, m *Member) (int64, error) {
	now, err := remoteNow(ctx, h, m)
	if err != nil {
		return 0, err
	}
	proc := c.daemonProcess(m)
	cmd := remote.Cmd{Program: "ps", Args: []string{"-o", "etimes=", "-C", proc}, Timeout: 20 * time.Second}
	if m.windows() {
		cmd = powershell("Get-Process -Name " + psQuote(proc) + " -ErrorAction SilentlyContinue | ForEach-Object { [int64]((Get-Date) - $_.StartTime).TotalSeconds }")
	}
	r, err := h.Run(ctx, cmd)
	if err != nil {
		return 0, fmt.Errorf("listing %s processes on %s: %w", proc, m.Host.Name, err)
	}
	var oldest int64 = -1
	for _, f := range strings.Fields(string(r.Stdout)) {
		if n, err := strconv.ParseInt(f, 10, 64); err == nil && n > oldest {
			oldest = n
		}
	}
	if oldest < 0 {
		return 0, nil
	}
	return now - oldest, nil
}

// psQuote quotes s as a PowerShell single-quoted literal.
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// centralVersion runs the version command on m and returns the version.
func centralVersion(ctx context.Context, c *Common, h *remote.Host, m *Member) (string, error) {
	argv := c.versionCommand(m)
	r, err := h.Run(ctx, remote.Cmd{Program: argv[0], Args: argv[1:], Sudo: c.sudo(m), Timeout: 30 * time.Second})
	if err == nil {
		err = r.ExitError()
	}
	if err != nil {
		return "", fmt.Errorf("reading the Central version on %s with %q (set version_command): %w", m.Host.Name, strings.Join(argv, " "), err)
	}
	v := parseVersion(string(r.Stdout) + "\n" + string(r.Stderr))
	if v == "" {
		return "", fmt.Errorf("reading the Central version on %s: %q printed no version (set version_command)", m.Host.Name, strings.Join(argv, " "))
	}
	return v, nil
}

// loadedCurrentPrefs reports whether Central runs on m with the
// preferences.cfg now on disk: active, listening, and either restarted by
// this run with this very content (fact restartedFact) or started after the
// file was last written and after notBefore (Unix seconds, host clock; 0 =
// none). Times have one-second resolution, so "after" is strict: a start in
// the same second as the edit counts as not restarted (a harmless restart).
//
// sameSecondOK accepts a start in the same second as the last write: right
// for a failover, whose file is only written while Central is stopped (so a
// start in that second came after it); wrong for the primary, whose file is
// edited while Central runs.
func loadedCurrentPrefs(ctx context.Context, e *steps.Env, c *Common, h *remote.Host, m *Member, factKey string, notBefore int64, sameSecondOK bool) (bool, string, error) {
	ok, ev, err := running(ctx, c, h, m)
	if err != nil || !ok {
		return false, ev, err
	}
	info, err := h.Stat(ctx, c.prefsPath(m), c.sudo(m))
	if err != nil {
		return false, "", err
	}
	if v, _ := e.Fact(factKey); v != "" && v == restartStamp(info.SHA256, notBefore) {
		return true, ev + "; restarted by this run with the current preferences.cfg", nil
	}
	since, err := startedAt(ctx, c, h, m)
	if err != nil {
		return false, "", err
	}
	need := info.ModTime.Unix()
	if notBefore > need {
		need = notBefore
	}
	if since == 0 {
		return false, ev + fmt.Sprintf("; no %s process found to date its start", c.daemonProcess(m)), nil
	}
	if since > need || (sameSecondOK && since == need) {
		return true, ev + fmt.Sprintf("; running since %s, after %s", unix(since), unix(need)), nil
	}
	return false, ev + fmt.Sprintf("; running since %s, not after %s: not restarted yet", unix(since), unix(need)), nil
}

// restartStamp is the fact a restart records: the file content it loaded
// and the registration it follows.
func restartStamp(sha string, notBefore int64) string { return fmt.Sprintf("%s@%d", sha, notBefore) }

func unix(s int64) string { return time.Unix(s, 0).UTC().Format(time.RFC3339) }

// factChanged lists the hosts this run changed (a file or a service), for
// the evidence.
const factChanged = "changed-by-this-run"

func markChanged(e *steps.Env, host string) {
	if v, _ := e.Fact(factChanged); !strings.Contains(" "+v+" ", " "+host+" ") {
		e.SetFact(factChanged, strings.TrimSpace(v+" "+host))
	}
}
