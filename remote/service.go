package remote

import (
	"context"
	"fmt"
	"strings"
)

// Service starts, stops, restarts a service or asks whether it is active,
// through systemctl, `service`, or the argv template of a "command" manager
// ({action} and {service} substituted per argument, so e.g. Micetro's
// ["mmcentral.exe", "-{action}"] renders ASCII hyphens exactly as given).
// It returns whether the service is active afterwards: for start, stop and
// restart a second call (is-active) checks it. is-active reports false with
// no error when the service is not active.
//
// A "command" manager asks for the state with its IsActive template when
// set; otherwise with Command and {action} = "is-active" on Linux, and with
// Get-Service on Windows. With StopStart, restart is stop then start.
//
// On Windows, Kind "" / "windows" uses Start-Service, Stop-Service,
// Restart-Service and Get-Service; Kind "command" runs the template.
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
