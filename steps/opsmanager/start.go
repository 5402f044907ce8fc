// start.go holds what start-first-server and start-remaining-servers share:
// starting a server only when its gen.key is the cluster's, restarting one
// whose conf-mms.properties changed while it ran, and recording the key the
// first start creates.

package opsmanager

import (
	"context"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// refuseWrongKey checks, right before a start, that host's gen.key is the
// deployment's. A key the deployment already has (recorded, or held by any
// server: deploymentKey) must be there; with none anywhere, only
// requireKey=false (the first server in first-server mode, which creates
// it) may start without one.
func refuseWrongKey(ctx context.Context, e *steps.Env, c *Common, host string, requireKey bool) error {
	h, l, err := layoutHost(ctx, e, c, host)
	if err != nil {
		return err
	}
	want, _ := e.Fact(factGenKeySHA)
	if want == "" {
		if want, _, err = deploymentKey(ctx, e, c); err != nil {
			return err
		}
	}
	fi, err := h.Stat(ctx, l.GenKey, l.Sudo)
	if err != nil {
		return err
	}
	if !fi.Exists {
		if requireKey || want != "" {
			return &steps.RefusedError{Reason: fmt.Sprintf("%s has no gen.key at %s: it would create its own and could not join ("+refGenKey.String()+"); copy the deployment's key first (step %s or %s)", host, l.GenKey, StepPlaceKey, StepCopyKey)}
		}
		return nil
	}
	if fi.Size != GenKeySize {
		return &steps.RefusedError{Reason: fmt.Sprintf("%s: gen.key at %s is %d bytes, not %d", host, l.GenKey, fi.Size, GenKeySize)}
	}
	if want == "" {
		if !requireKey {
			return nil
		}
		if want, err = wantKeySHA(ctx, e, c); err != nil {
			return err
		}
	}
	if fi.SHA256 != want {
		return &steps.RefusedError{Reason: fmt.Sprintf("%s: gen.key at %s (sha256 %s) differs from the cluster's (sha256 %s); hawiz will not start a server with a different key ("+refGenKey.String()+")", host, l.GenKey, short(fi.SHA256), short(want))}
	}
	return nil
}

// startCheck: done when the server runs, is healthy, holds the cluster's
// key and has no conf-mms.properties change waiting for a restart.
func startCheck(ctx context.Context, e *steps.Env, c *Common, host string) (bool, string, error) {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return false, "", err
	}
	if v, _ := e.Fact(factKey(host, "restart")); v == "1" {
		return false, host + ": conf-mms.properties changed while it ran: restart needed", nil
	}
	h, err := e.Host(host)
	if err != nil {
		return false, "", err
	}
	up, ev, err := serverUp(ctx, e, c, h, l)
	if err != nil || !up {
		return false, ev, err
	}
	if err := refuseWrongKey(ctx, e, c, host, true); err != nil {
		return false, ev, err
	}
	return true, ev, nil
}

// startApply starts host (stopping it first when it runs with a changed
// conf-mms.properties) once its key is checked; requireKey: it must already
// hold the cluster's key.
func startApply(ctx context.Context, e *steps.Env, c *Common, host string, requireKey bool) error {
	h, l, err := layoutHost(ctx, e, c, host)
	if err != nil {
		return err
	}
	if err := refuseWrongKey(ctx, e, c, host, requireKey); err != nil {
		return err
	}
	if err := stopForRestart(ctx, e, c, h, l); err != nil {
		return err
	}
	ev, err := startServer(ctx, e, c, h, l)
	if err != nil {
		return err
	}
	e.Output(host, ev)
	e.SetFact(factKey(host, "restart"), "")
	return recordClusterKey(ctx, e, h, l)
}

// stopForRestart stops a running server whose conf-mms.properties hawiz
// changed while it ran, so the start that follows reads the new values.
func stopForRestart(ctx context.Context, e *steps.Env, c *Common, h *remote.Host, l layout) error {
	up, err := running(ctx, e, h, l, c)
	if err != nil {
		return err
	}
	if !up {
		return nil
	}
	if v, _ := e.Fact(factKey(h.Name(), "restart")); v != "1" {
		return nil
	}
	res, err := service(ctx, e, h, l, "stop", c.StartTimeout)
	if err != nil {
		return err
	}
	if res.ExitStatus != 0 {
		return fmt.Errorf("%s failed (exit %d): %s", l.describe("stop"), res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
	}
	return nil
}

// recordClusterKey records the key the cluster now uses when none is
// recorded yet (first-server mode: created by this start).
func recordClusterKey(ctx context.Context, e *steps.Env, h *remote.Host, l layout) error {
	if _, ok := e.Fact(factGenKeySHA); ok {
		return nil
	}
	fi, err := h.Stat(ctx, l.GenKey, l.Sudo)
	if err != nil {
		return err
	}
	if !fi.Exists {
		return fmt.Errorf("%s started but there is no gen.key at %s; set paths.gen_key to where this install keeps it", h.Name(), l.GenKey)
	}
	e.SetFact(factGenKeySHA, fi.SHA256)
	return nil
}

// startVerify: the server runs and is healthy (else the startup log's last
// lines are shown) and holds the cluster's key.
func startVerify(ctx context.Context, e *steps.Env, c *Common, host string) (string, error) {
	h, l, err := layoutHost(ctx, e, c, host)
	if err != nil {
		return "", err
	}
	up, ev, err := serverUp(ctx, e, c, h, l)
	if err != nil {
		return "", err
	}
	if !up {
		return "", fmt.Errorf("%s\nlast lines of %s:\n%s", ev, l.StartupLog, logTail(ctx, h, l, 20))
	}
	_, kev, err := keyMatches(ctx, e, c, host)
	if err != nil {
		return "", err
	}
	if err := refuseWrongKey(ctx, e, c, host, true); err != nil {
		return "", err
	}
	return ev + "\n" + kev, nil
}
