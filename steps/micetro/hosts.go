package micetro

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"sync"
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

// listenPoll is how often waitListening dials 1231: a dial is one
// direct-tcpip channel on the open connection (no remote process), so a
// short interval costs the host next to nothing and the start is seen
// within 20 ms, not 200.
const listenPoll = 20 * time.Millisecond

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
		case <-time.After(listenPoll):
		}
	}
}

// par runs fs at once and waits for all: read-only probes of one or more
// hosts that do not depend on each other (sessions are multiplexed on each
// host's one connection), so a step waits for the slowest, not the sum.
func par(fs ...func()) {
	var wg sync.WaitGroup
	for _, f := range fs[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	fs[0]()
	wg.Wait()
}

// running reports whether Central is active and listening on 1231, as
// evidence text. The two probes run at once.
func running(ctx context.Context, c *Common, h *remote.Host, m *Member) (bool, string, error) {
	active, listening, err := probeRunning(ctx, c, h, m)
	if err != nil {
		return false, "", err
	}
	ok, ev := runningText(c, m, active, listening)
	return ok, ev, nil
}

// probeRunning asks the service state and dials port 1231 at once.
func probeRunning(ctx context.Context, c *Common, h *remote.Host, m *Member) (active, listening bool, err error) {
	par(func() { active, err = isActive(ctx, c, h, m) },
		func() { listening = h.PortListening(ctx, CentralPort) })
	return active, listening, err
}

func runningText(c *Common, m *Member, active, listening bool) (bool, string) {
	if !active {
		return false, fmt.Sprintf("service %s is not active", c.serviceName(m))
	}
	if !listening {
		return false, fmt.Sprintf("service %s is active but nothing listens on port %d", c.serviceName(m), CentralPort)
	}
	return true, fmt.Sprintf("service %s active, port %d listening", c.serviceName(m), CentralPort)
}

// startAndVerify starts (or restarts) Central and waits for port 1231. It
// returns whether the service was active right after the action (the state
// check in the action's own session); port 1231 listened after it.
func startAndVerify(ctx context.Context, c *Common, h *remote.Host, m *Member, a remote.ServiceAction) (bool, error) {
	active, err := service(ctx, c, h, m, a)
	if err != nil {
		return false, fmt.Errorf("%w; Central's startup log is in %s", err, logsDir(c, m))
	}
	if !waitListening(ctx, c, h) {
		return false, fmt.Errorf("Central on %s did not listen on port %d within %v; see the startup log in %s", m.Host.Name, CentralPort, c.StartWait, logsDir(c, m))
	}
	return active, nil
}

// verifyRunning is the Verify of a step that starts Central on m: the
// service active and port 1231 listening. When the step's Apply saw both
// after its action, moments ago in this run (the state check of the
// action's own session, then the dial that ended its wait for the port),
// that is the proof; else (a resumed run, an Apply that did not see both)
// both are probed now.
func verifyRunning(ctx context.Context, e *steps.Env, mc *memo, c *Common, m *Member, id, hn string) (string, error) {
	if ev, ok := mc.take(id+"/proved", hn).(string); ok {
		return ev, nil
	}
	h, err := host(e, hn)
	if err != nil {
		return "", err
	}
	ok, ev, err := running(ctx, c, h, m)
	if err == nil && !ok {
		err = errors.New(ev)
	}
	return ev, err
}

// proveRunning records, for verifyRunning, what an Apply saw after starting
// Central: active (its action's session) and listening (its wait).
func proveRunning(mc *memo, c *Common, m *Member, id, hn string, active bool) {
	if ok, ev := runningText(c, m, active, true); ok {
		mc.put(id+"/proved", hn, ev+" (seen right after the "+id+")")
	}
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
// file was last written and after notBefore (a fact written by
// formatHostTime on the host's clock; "" = none). The times are compared as
// spans (clock.go): with sub-second times a start a moment after the edit,
// in the same second, counts; when the order is unclear (the host tells
// whole seconds only, or both fall within the same few milliseconds) it is
// "not restarted yet" (a harmless restart).
//
// overlapOK accepts a start whose order with the last write is unclear:
// right for a failover, whose file is only written while Central is stopped
// (so a start near that instant came after it); wrong for the primary, whose
// file is edited while Central runs.
//
// The probes (state, port, the file's stat, the process start) are
// read-only and run at once. seen returns what they saw, for the step's
// Apply: whether the service was active and the file's stat.
func loadedCurrentPrefs(ctx context.Context, e *steps.Env, c *Common, h *remote.Host, m *Member, factKey string, notBefore string, overlapOK bool) (_ bool, _ string, seen observed, _ error) {
	var (
		active, listening, found bool
		since                    span
		info                     remote.FileInfo
		errR, errS, errP         error
	)
	par(func() { active, listening, errR = probeRunning(ctx, c, h, m) },
		func() { info, errS = h.Stat(ctx, c.prefsPath(m), c.sudo(m)) },
		func() { since, found, errP = startedAt(ctx, c, h, m) })
	if errR != nil {
		return false, "", seen, errR
	}
	seen.active = active
	if errS == nil {
		seen.info, seen.stat = info, true
	}
	ok, ev := runningText(c, m, active, listening)
	if !ok {
		return false, ev, seen, nil
	}
	if errS != nil {
		return false, "", seen, errS
	}
	if v, _ := e.Fact(factKey); v != "" && v == restartStamp(info.SHA256, notBefore) {
		return true, ev + "; restarted by this run with the current preferences.cfg", seen, nil
	}
	if errP != nil {
		return false, "", seen, errP
	}
	if !found {
		return false, ev + fmt.Sprintf("; no %s process found to date its start", c.daemonProcess(m)), seen, nil
	}
	prec := info.ModTimePrecision
	if prec <= 0 {
		prec = time.Second
	}
	need, what := exactly(info.ModTime, prec), "the last write of "+c.prefsPath(m)
	if notBefore != "" {
		t, p, err := parseHostTime(notBefore)
		if err != nil {
			return false, "", seen, fmt.Errorf("the recorded registration time %q: %w", notBefore, err)
		}
		if nb := exactly(t, p); nb.hi.After(need.hi) {
			need, what = later(need, nb), "the registration"
		}
	}
	if since.surelyAfter(need) {
		return true, ev + fmt.Sprintf("; running since %s, after %s (%s)", since, what, need), seen, nil
	}
	if overlapOK && since.maybeAfter(need) {
		return true, ev + fmt.Sprintf("; running since %s, no earlier than %s (%s), which is only written while Central is stopped", since, what, need), seen, nil
	}
	return false, ev + fmt.Sprintf("; running since %s, not surely after %s (%s): not restarted yet", since, what, need), seen, nil
}

// observed is what a Check saw of a member's service and preferences.cfg.
type observed struct {
	active bool
	stat   bool // info is valid
	info   remote.FileInfo
}

// restartStamp is the fact a restart records: the file content it loaded
// and the registration it follows ("" = none).
func restartStamp(sha string, notBefore string) string {
	if notBefore == "" {
		notBefore = "0"
	}
	return sha + "@" + notBefore
}

// factChanged lists the hosts this run changed (a file or a service), for
// the evidence.
const factChanged = "changed-by-this-run"

func markChanged(e *steps.Env, host string) {
	if v, _ := e.Fact(factChanged); !strings.Contains(" "+v+" ", " "+host+" ") {
		e.SetFact(factChanged, strings.TrimSpace(v+" "+host))
	}
}
