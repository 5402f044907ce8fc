package micetro

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// This file drives Central's service on a member and tells whether it runs:
// the service action, the wait for port 1231, the commands the plan shows,
// and the proof an Apply hands to its Verify (verifyRunning).

// service runs a service action on m through remote.Service with the
// manager serviceManager names (on Windows: mmcentral.exe -stop / -start,
// restart as stop then start, the state from Get-Service).
func service(ctx context.Context, c *Common, h *remote.Host, m *Member, a remote.ServiceAction) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.ServiceTimeout)
	defer cancel()
	active, err := h.Service(ctx, c.serviceManager(m), c.serviceName(m), a, c.sudo(m))
	if errors.Is(err, remote.ErrNoSuchService) {
		return false, fmt.Errorf("%s has no Central service %q (%s): set service to the name Central's service has there: %w", m.Host.Name, c.serviceName(m), serviceNameKind(m), err)
	}
	if err != nil {
		return active, fmt.Errorf("%s %s on %s: %w", a, c.serviceName(m), m.Host.Name, err)
	}
	return active, nil
}

// serviceNameKind says how the service name is looked up on m.
func serviceNameKind(m *Member) string {
	if m.windows() {
		return "looked up by display name, then by key name; the docs name it \"Micetro Central\" in services.msc"
	}
	return "a systemd unit; the docs name it mmcentral"
}

// stopped reports whether Central is stopped on m, as evidence text:
// the service exists and is not active, no Central process (daemonProcess)
// runs, and nothing listens on port 1231. A service that does not exist is
// an error (from service), never "stopped": a Central started another way
// may be running. The three probes run at once.
func stopped(ctx context.Context, c *Common, h *remote.Host, m *Member) (bool, string, error) {
	var (
		active, found, listening bool
		since                    span
		errA, errP               error
	)
	par(func() { active, errA = isActive(ctx, c, h, m) },
		func() { since, found, errP = startedAt(ctx, c, h, m) },
		func() { listening = h.PortListening(ctx, CentralPort) })
	if errA != nil {
		return false, "", errA
	}
	if errP != nil {
		return false, "", errP
	}
	ok, ev := stoppedText(c, m, active, found, since, listening)
	return ok, ev, nil
}

func stoppedText(c *Common, m *Member, active, found bool, since span, listening bool) (bool, string) {
	var not []string
	if active {
		not = append(not, "service "+c.serviceName(m)+" is active")
	}
	if found {
		not = append(not, fmt.Sprintf("a %s process runs (since %s)", c.daemonProcess(m), since))
	}
	if listening {
		not = append(not, fmt.Sprintf("port %d listens", CentralPort))
	}
	if len(not) > 0 {
		return false, strings.Join(not, ", ")
	}
	return true, fmt.Sprintf("service %s is not active, no %s process runs, port %d is closed", c.serviceName(m), c.daemonProcess(m), CentralPort)
}

// notStoppedErr is the error of a member that should be stopped and is
// not (ev: stopped's evidence): a process or port left after the service
// stopped is Central started another way.
func notStoppedErr(c *Common, m *Member, ev string) error {
	return fmt.Errorf("Central is not stopped on %s: %s; if %s runs outside the service %s, stop it by hand", m.Host.Name, ev, c.daemonProcess(m), c.serviceName(m))
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

// running reports whether Central is active and listening on 1231, as
// evidence text. The two probes run at once.
// runningAll asks every member at once whether Central runs (running):
// one verdict, evidence and error per member, in the answers' order.
func runningAll(ctx context.Context, e *steps.Env, a *Common) (runs []bool, evs []string, errs []error) {
	n := len(a.Members)
	runs, evs, errs = make([]bool, n), make([]string, n), make([]error, n)
	fs := make([]func(), n)
	for i := range a.Members {
		fs[i] = func() {
			m := &a.Members[i]
			h, err := e.Host(m.Host.Name)
			if err != nil {
				errs[i] = err
				return
			}
			runs[i], evs[i], errs[i] = running(ctx, a, h, m)
		}
	}
	par(fs...)
	return runs, evs, errs
}

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
// that is the proof (in proved, from proveRunning); else (a resumed run,
// an Apply that did not see both) both are probed now.
func verifyRunning(ctx context.Context, e *steps.Env, proved *handoff[string], c *Common, m *Member, hn string) (string, error) {
	if ev, ok := proved.take(hn); ok {
		return ev, nil
	}
	h, err := e.Host(hn)
	if err != nil {
		return "", err
	}
	ok, ev, err := running(ctx, c, h, m)
	if err == nil && !ok {
		err = errors.New(ev)
	}
	return ev, err
}

// proveRunning records in proved, for verifyRunning, what an Apply saw after starting
// Central: active (its action's session) and listening (its wait).
func proveRunning(proved *handoff[string], c *Common, m *Member, id, hn string, active bool) {
	if ok, ev := runningText(c, m, active, true); ok {
		proved.put(hn, ev+" (seen right after the "+id+")")
	}
}

func logsDir(c *Common, m *Member) string {
	p := c.prefsPath(m)
	if m.windows() {
		return p[:strings.LastIndex(p, `\`)+1] + "logs"
	}
	return p[:strings.LastIndex(p, "/")+1] + "logs"
}

func restartCommand(c *Common, m *Member) string {
	switch {
	case len(c.ServiceCommand) > 0:
		return strings.Join(c.ServiceCommand, " ")
	case m.windows():
		return fmt.Sprintf("%s -stop; %s -start", c.WindowsExe, c.WindowsExe)
	default:
		return "systemctl restart " + c.serviceName(m)
	}
}

func stopCommand(c *Common, m *Member) string {
	switch {
	case len(c.ServiceCommand) > 0:
		return strings.Join(c.ServiceCommand, " ")
	case m.windows():
		return c.WindowsExe + " -stop"
	default:
		return "systemctl stop " + c.serviceName(m)
	}
}

func startCommand(c *Common, m *Member) string {
	switch {
	case len(c.ServiceCommand) > 0:
		return strings.Join(c.ServiceCommand, " ")
	case m.windows():
		return c.WindowsExe + " -start"
	default:
		return "systemctl start " + c.serviceName(m)
	}
}
