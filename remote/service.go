package remote

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNoSuchService is wrapped by Service's error when the host has no
// service of that name: a service that does not exist is neither running
// nor stopped.
var ErrNoSuchService = errors.New("no such service")

// Service starts, stops, restarts a service or asks whether it is active,
// through systemctl, `service`, or the argv template of a "command" manager
// ({action} and {service} substituted per argument, so e.g. Micetro's
// ["mmcentral.exe", "-{action}"] renders ASCII hyphens exactly as given).
// It returns whether the service is active afterwards: for start, stop and
// restart a second command checks it. The state check reports false with
// no error when the service exists and is not active, and an error
// wrapping ErrNoSuchService when it does not exist:
//   - systemctl: `systemctl status` (exit 0 active, 3 not active, 4 no such
//     unit; `is-active` answers 3 for a unit that does not exist as for a
//     stopped one); start, stop or restart of an unknown unit exits 5;
//   - `service NAME status` and a command's state template: LSB status
//     codes (0 running, 4 unknown, anything else not running);
//   - Windows (Kind "", "windows", or "command" without IsActive): the
//     service whose display name is name (else whose key name is name) is
//     looked up first, and every action and the state check use its key
//     name; none, or more than one, is ErrNoSuchService.
//
// A "command" manager asks for the state with its IsActive template when
// set; otherwise with Command and {action} = "is-active" on Linux, and with
// Get-Service on Windows. With StopStart, restart is stop then start.
//
// On Linux the action(s) and the state check run in one session (one round
// trip; serviceScript): the commands in order, each only when the one before
// succeeded, then the state check. systemctl's state query alone
// (ServiceIsActive with Kind "" or "systemctl") runs without sudo: systemd
// answers `systemctl status` for any user, so it costs no sudo.
//
// On Windows, Kind "" / "windows" uses Start-Service, Stop-Service,
// Restart-Service and Get-Service; Kind "command" runs the template; each
// command is its own session.
//
// With a change hook (OnChange), a start, stop or restart first asks the
// state (one more read) and then reports the action with the state before
// and after it.
func (h *Host) Service(ctx context.Context, m ServiceManager, name string, a ServiceAction, sudo bool) (_ bool, err error) {
	defer func() { err = h.f.redactErr(err) }()
	if a != ServiceIsActive && h.watchesChanges() {
		return h.serviceChange(ctx, m, name, a, sudo)
	}
	return h.service(ctx, m, name, a, sudo)
}

func (h *Host) service(ctx context.Context, m ServiceManager, name string, a ServiceAction, sudo bool) (_ bool, err error) {
	acts := []ServiceAction{a}
	if a == ServiceRestart && m.Kind == "command" && m.StopStart {
		acts = []ServiceAction{ServiceStop, ServiceStart}
	}
	if a != ServiceIsActive {
		acts = append(acts, ServiceIsActive)
	}
	reqs := make([]*execReq, len(acts))
	for i, x := range acts { // every command renders before any runs
		if reqs[i], err = h.serviceReq(m, name, x, sudo); err != nil {
			return false, fmt.Errorf("host %s: service %s: %w", h.cfg.Name, name, err)
		}
	}
	if h.cfg.OS == Windows && winLookup(m) {
		return h.serviceWindows(ctx, m, name, acts, sudo)
	}
	if a == ServiceIsActive {
		reqs[0].read = true
	}
	if a == ServiceIsActive && (m.Kind == "" || m.Kind == "systemctl") && h.cfg.OS != Windows {
		reqs[0].sudo = false
		reqs[0].detail = ShJoin(reqs[0].argv)
	}
	if len(reqs) > 1 && h.cfg.OS != Windows {
		return h.serviceOnce(ctx, m, name, acts, reqs, sudo)
	}
	for i, r := range reqs {
		res, err := h.exec(ctx, r)
		if err != nil {
			return false, err
		}
		if acts[i] == ServiceIsActive {
			return h.stateVerdict(m, name, res)
		}
		if res.ExitStatus != 0 {
			return false, h.actionErr(m, name, acts[i], res)
		}
	}
	panic("unreachable: the last action is is-active")
}

// winLookup: on Windows, the service is looked up by its display name
// (Get-Service) unless a command's own IsActive template tells the state.
func winLookup(m ServiceManager) bool {
	return m.Kind != "command" || len(m.IsActive) == 0
}

// stateVerdict reads a state check's exit status: 0 active; 4 (LSB
// "unknown", systemctl status "no such unit") ErrNoSuchService; else not
// active.
func (h *Host) stateVerdict(m ServiceManager, name string, res Result) (bool, error) {
	switch res.ExitStatus {
	case 0:
		return true, nil
	case 4:
		return false, h.noSuchService(name, "state check", res)
	}
	return false, nil
}

// actionErr is the error of a failed action: ErrNoSuchService when
// systemctl says the unit is not loaded (exit 5).
func (h *Host) actionErr(m ServiceManager, name string, a ServiceAction, res Result) error {
	if res.ExitStatus == 5 && (m.Kind == "" || m.Kind == "systemctl") && h.cfg.OS != Windows {
		return h.noSuchService(name, string(a), res)
	}
	return fmt.Errorf("host %s: service %s %s: %w", h.cfg.Name, name, a, h.exitErr(res))
}

func (h *Host) noSuchService(name, what string, res Result) error {
	return fmt.Errorf("host %s: service %q: %w (%s: %v)", h.cfg.Name, name, ErrNoSuchService, what, h.exitErr(res))
}

// serviceScript runs each argument (a command line rendered by ShJoin, so
// eval gives back exactly its argv) in order; the last one is the state
// check. Before each action it tells its index on stderr (hawiz-svc:N, so a
// failure names the action); the first failing action ends the script with
// its exit status; the check's exit status comes last as hawiz-active:N.
const serviceScript = `n=$#
i=0
for c in "$@"; do
	i=$((i+1))
	if [ "$i" -lt "$n" ]; then
		echo "hawiz-svc:$i" >&2
		eval "$c" || exit $?
	else
		eval "$c"
		echo "hawiz-active:$?" >&2
	fi
done`

// serviceOnce runs the actions and the state check of one Service call in
// one session (POSIX hosts).
func (h *Host) serviceOnce(ctx context.Context, m ServiceManager, name string, acts []ServiceAction, reqs []*execReq, sudo bool) (bool, error) {
	lines := make([]string, len(reqs))
	for i, r := range reqs {
		lines[i] = ShJoin(r.argv)
	}
	r := &execReq{kind: "service", sudo: sudo, argv: posixScript(serviceScript, lines...)}
	if h.f.opts.Transcript != nil { // "sudo A && sudo B (one session)": what ran, as a shell line
		d := make([]string, len(lines))
		for i, l := range lines {
			if sudo {
				l = "sudo " + l
			}
			d[i] = l
		}
		r.detail = strings.Join(d, " && ") + " (one session)"
	}
	res, err := h.exec(ctx, r)
	if err != nil {
		return false, err
	}
	failed, active := 0, -1
	var rest []string
	for _, l := range strings.Split(string(res.Stderr), "\n") {
		if v, ok := strings.CutPrefix(l, "hawiz-svc:"); ok {
			failed, _ = strconv.Atoi(v)
			continue
		}
		if v, ok := strings.CutPrefix(l, "hawiz-active:"); ok {
			active, _ = strconv.Atoi(v)
			continue
		}
		rest = append(rest, l)
	}
	res.Stderr = []byte(strings.Join(rest, "\n"))
	if res.ExitStatus != 0 || active < 0 {
		if res.ExitStatus == 0 { // the script ended before the check
			res.ExitStatus = 1
		}
		act := acts[0]
		if failed >= 1 && failed <= len(acts) {
			act = acts[failed-1]
		}
		return false, h.actionErr(m, name, act, res)
	}
	res.ExitStatus = active
	return h.stateVerdict(m, name, res)
}

func (h *Host) serviceReq(m ServiceManager, name string, a ServiceAction, sudo bool) (*execReq, error) {
	if err := checkServiceManager(m); err != nil {
		return nil, err
	}
	r := &execReq{kind: "service", sudo: sudo}
	if h.cfg.OS == Windows && (m.Kind != "command" || a == ServiceIsActive && len(m.IsActive) == 0) {
		if m.Kind != "" && m.Kind != "windows" && m.Kind != "command" {
			return nil, fmt.Errorf("service manager kind %q is not available on Windows", m.Kind)
		}
		if m.Kind == "command" && len(m.Command) == 0 {
			return nil, fmt.Errorf("service manager kind \"command\" needs Command")
		}
		if name == "" {
			return nil, fmt.Errorf("empty service name")
		}
		s, err := psServiceScript(name, a)
		if err != nil {
			return nil, err
		}
		r.ps = s
		r.detail = "service " + name + " " + string(a)
		return r, nil
	}
	argv, err := serviceArgv(m, name, a)
	if err != nil {
		return nil, err
	}
	r.argv = argv
	r.detail = strings.TrimSpace(map[bool]string{true: "sudo ", false: ""}[sudo] + ShJoin(argv))
	return r, nil
}

// serviceWindows runs acts (the last is the state check) on a Windows host
// whose service is looked up by display name: first the lookup (which also
// tells the state: for ServiceIsActive alone it is the answer), then each
// action rendered with the service's key name, each its own session, then
// the state of that key name.
func (h *Host) serviceWindows(ctx context.Context, m ServiceManager, name string, acts []ServiceAction, sudo bool) (bool, error) {
	active, key, err := h.winServiceState(ctx, name, false, sudo)
	if err != nil || len(acts) == 1 {
		return active, err
	}
	for _, a := range acts[:len(acts)-1] {
		r, err := h.serviceReq(m, key, a, sudo)
		if err != nil {
			return false, fmt.Errorf("host %s: service %s: %w", h.cfg.Name, key, err)
		}
		res, err := h.exec(ctx, r)
		if err != nil {
			return false, err
		}
		if res.ExitStatus != 0 {
			return false, h.actionErr(m, name, a, res)
		}
	}
	active, _, err = h.winServiceState(ctx, key, true, sudo)
	return active, err
}

// psServiceStateScript finds the Windows service named $n (byKey: by its
// key name; else by its display name, then by its key name, both compared
// as Windows does, without case), prints "hawiz-key:KEY" and exits 0 when
// it is Running, 3 when not; with no such service, or more than one, it
// prints "hawiz-services:COUNT" on stderr and exits 4. Get-Service lists
// every service (a service it cannot read is left out, not an error);
// -eq compares literally, with no wildcard.
const psServiceStateScript = `$s = @()
if (-not $byKey) { $s = @(Get-Service -ErrorAction SilentlyContinue | Where-Object { $_.DisplayName -eq $n }) }
if ($s.Count -eq 0) { $s = @(Get-Service -ErrorAction SilentlyContinue | Where-Object { $_.Name -eq $n }) }
if ($s.Count -ne 1) { [Console]::Error.WriteLine('hawiz-services:' + $s.Count); exit 4 }
[Console]::Out.WriteLine('hawiz-key:' + $s[0].Name)
if ($s[0].Status -eq 'Running') { exit 0 } else { exit 3 }
`

// winServiceState runs psServiceStateScript for name on a Windows host: the
// state and the service's key name.
func (h *Host) winServiceState(ctx context.Context, name string, byKey bool, sudo bool) (bool, string, error) {
	if name == "" {
		return false, "", fmt.Errorf("host %s: empty service name", h.cfg.Name)
	}
	how := "display name or key name"
	if byKey {
		how = "key name"
	}
	r := &execReq{kind: "service", sudo: sudo, read: true, detail: "service " + name + " is-active (by " + how + ")",
		ps: psPrelude + "$n = " + psQuote(name) + "\n$byKey = $" + strconv.FormatBool(byKey) + "\n" + psServiceStateScript}
	res, err := h.exec(ctx, r)
	if err != nil {
		return false, "", err
	}
	key := ""
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), "hawiz-key:"); ok {
			key = v
		}
	}
	switch {
	case res.ExitStatus == 4:
		n := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(res.Stderr)), "hawiz-services:"))
		if n != "" && n != "0" {
			return false, "", fmt.Errorf("host %s: service %q: %w: %s services have that %s", h.cfg.Name, name, ErrNoSuchService, n, how)
		}
		return false, "", fmt.Errorf("host %s: service %q: %w: no service has that %s (Get-Service)", h.cfg.Name, name, ErrNoSuchService, how)
	case res.ExitStatus != 0 && res.ExitStatus != 3:
		return false, "", fmt.Errorf("host %s: service %s is-active: %w", h.cfg.Name, name, h.exitErr(res))
	case !validServiceKey(key):
		return false, "", fmt.Errorf("host %s: service %q: Get-Service gave the key name %q, not a service name", h.cfg.Name, name, key)
	}
	return res.ExitStatus == 0, key, nil
}

// validServiceKey: a Windows service key name as the SCM allows it (1–256
// characters, no slash or backslash) and without control characters.
func validServiceKey(k string) bool {
	if k == "" || len(k) > 256 || strings.ContainsAny(k, `/\`) {
		return false
	}
	for _, r := range k {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
