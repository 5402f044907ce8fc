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
// On Windows, Kind "" / "windows" uses Start-Service, Stop-Service,
// Restart-Service and Get-Service; Kind "command" runs the template.
func (h *Host) Service(ctx context.Context, m ServiceManager, name string, a ServiceAction, sudo bool) (_ bool, err error) {
	defer func() { err = h.f.redactErr(err) }()
	r, err := h.serviceReq(m, name, a, sudo)
	if err != nil {
		return false, fmt.Errorf("host %s: service %s: %w", h.cfg.Name, name, err)
	}
	res, err := h.exec(ctx, r)
	if err != nil {
		return false, err
	}
	if a == ServiceIsActive {
		return res.ExitStatus == 0, nil
	}
	if res.ExitStatus != 0 {
		return false, fmt.Errorf("host %s: service %s %s: %w", h.cfg.Name, name, a, h.exitErr(res))
	}
	r, _ = h.serviceReq(m, name, ServiceIsActive, sudo)
	res, err = h.exec(ctx, r)
	if err != nil {
		return false, err
	}
	return res.ExitStatus == 0, nil
}

func (h *Host) serviceReq(m ServiceManager, name string, a ServiceAction, sudo bool) (*execReq, error) {
	r := &execReq{kind: "service", sudo: sudo}
	if h.cfg.OS == Windows && m.Kind != "command" {
		if m.Kind != "" && m.Kind != "windows" {
			return nil, fmt.Errorf("service manager kind %q is not available on Windows", m.Kind)
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
