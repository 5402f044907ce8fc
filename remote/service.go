package remote

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Service starts, stops, restarts a service or asks whether it is active,
// through systemctl, `service`, or the argv template of a "command" manager
// ({action} and {service} substituted per argument, so e.g. Micetro's
// ["mmcentral.exe", "-{action}"] renders ASCII hyphens exactly as given).
// It returns whether the service is active afterwards: for start, stop and
// restart a second command (is-active) checks it. is-active reports false with
// no error when the service is not active.
//
// A "command" manager asks for the state with its IsActive template when
// set; otherwise with Command and {action} = "is-active" on Linux, and with
// Get-Service on Windows. With StopStart, restart is stop then start.
//
// On Linux the action(s) and the state check run in one session (one round
// trip; serviceScript): the commands in order, each only when the one before
// succeeded, then the state check. systemctl's state query alone
// (ServiceIsActive with Kind "" or "systemctl") runs without sudo: systemd
// answers `systemctl is-active` for any user, so it costs no sudo.
//
// On Windows, Kind "" / "windows" uses Start-Service, Stop-Service,
// Restart-Service and Get-Service; Kind "command" runs the template; each
// command is its own session.
func (h *Host) Service(ctx context.Context, m ServiceManager, name string, a ServiceAction, sudo bool) (_ bool, err error) {
	defer func() { err = h.f.redactErr(err) }()
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
	if a == ServiceIsActive {
		reqs[0].read = true
	}
	if a == ServiceIsActive && (m.Kind == "" || m.Kind == "systemctl") && h.cfg.OS != Windows {
		reqs[0].sudo = false
		reqs[0].detail = ShJoin(reqs[0].argv)
	}
	if len(reqs) > 1 && h.cfg.OS != Windows {
		return h.serviceOnce(ctx, name, acts, reqs, sudo)
	}
	for i, r := range reqs {
		res, err := h.exec(ctx, r)
		if err != nil {
			return false, err
		}
		if acts[i] == ServiceIsActive {
			return res.ExitStatus == 0, nil
		}
		if res.ExitStatus != 0 {
			return false, fmt.Errorf("host %s: service %s %s: %w", h.cfg.Name, name, acts[i], h.exitErr(res))
		}
	}
	panic("unreachable: the last action is is-active")
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
func (h *Host) serviceOnce(ctx context.Context, name string, acts []ServiceAction, reqs []*execReq, sudo bool) (bool, error) {
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
		return false, fmt.Errorf("host %s: service %s %s: %w", h.cfg.Name, name, act, h.exitErr(res))
	}
	return active == 0, nil
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
