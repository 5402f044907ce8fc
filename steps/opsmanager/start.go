// start.go holds what start-first-server, start-remaining-servers and
// restart-changed-servers share: starting a server only when its gen.key is
// the cluster's (never stopping one that runs), restarting one whose
// conf-mms.properties changed while it ran only while every other server
// serves, and recording the key the first start creates.

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

// startCheck: done when the server runs, is healthy and holds the
// cluster's key. A server that runs with a conf-mms.properties hawiz
// changed is done here too: the start steps never stop a running server;
// it is restarted in step restart-changed-servers, one at a time, once
// every server runs (restartCheck).
func startCheck(ctx context.Context, e *steps.Env, c *Common, host string) (bool, string, error) {
	h, l, err := layoutHost(ctx, e, c, host)
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
	if restartPending(e, host) {
		ev += "; its conf-mms.properties changed while it ran: it is restarted in step " + StepRestartChanged + ", once every server runs, one at a time"
	}
	return true, ev, nil
}

// startApply starts host once its key is checked; requireKey: it must
// already hold the cluster's key. It never stops a running server (a
// restart for a changed conf-mms.properties is restart-changed-servers').
func startApply(ctx context.Context, e *steps.Env, c *Common, host string, requireKey bool) error {
	h, l, err := layoutHost(ctx, e, c, host)
	if err != nil {
		return err
	}
	if err := refuseWrongKey(ctx, e, c, host, requireKey); err != nil {
		return err
	}
	wasUp, err := running(ctx, e, h, l, c)
	if err != nil {
		return err
	}
	ev, err := startServer(ctx, e, c, h, l)
	if err != nil {
		return err
	}
	e.Output(host, ev)
	if !wasUp {
		e.SetFact(factKey(host, "restart"), "") // this start read the file as it is now
	}
	return recordClusterKey(ctx, e, h, l)
}

// restartPending: hawiz changed host's conf-mms.properties while Ops
// Manager ran on it (confEdit), and it has not been restarted since.
func restartPending(e *steps.Env, host string) bool {
	v, _ := e.Fact(factKey(host, "restart"))
	return v == "1"
}

// restartApply restarts host, whose conf-mms.properties hawiz changed
// while it ran, so that it reads the new values: only while every other
// server of the answers runs and answers /monitor/health 200 (the new ones
// proven, the others serving behind the load balancer), so at most one
// server is ever down and none before the servers being added are up.
func restartApply(ctx context.Context, e *steps.Env, c *Common, host string) error {
	h, l, err := layoutHost(ctx, e, c, host)
	if err != nil {
		return err
	}
	if err := refuseWrongKey(ctx, e, c, host, true); err != nil {
		return err
	}
	var others []string
	for _, n := range c.serverNames() {
		if n != host {
			others = append(others, n)
		}
	}
	down := make([]string, len(others))
	if _, err := forEachServer(ctx, others, func(ctx context.Context, name string) (string, error) {
		oh, ol, err := layoutHost(ctx, e, c, name)
		if err != nil {
			return "", err
		}
		up, ev, err := serverUp(ctx, e, c, oh, ol)
		if err == nil && !up {
			down[indexOf(others, name)] = ev
		}
		return "", err
	}); err != nil {
		return err
	}
	var notUp []string
	for _, d := range down {
		if d != "" {
			notUp = append(notUp, d)
		}
	}
	if len(notUp) > 0 {
		return &steps.RefusedError{Reason: fmt.Sprintf("%s is not restarted: hawiz stops a server of a running deployment only while every other server serves (%s), and %s; start it and resume", host, refMultipleServers, strings.Join(notUp, "; "))}
	}
	up, err := running(ctx, e, h, l, c)
	if err != nil {
		return err
	}
	if up {
		res, err := service(ctx, e, h, l, "stop", c.StartTimeout)
		if err != nil {
			return err
		}
		if res.ExitStatus != 0 {
			return fmt.Errorf("%s failed (exit %d): %s", l.describe("stop"), res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
		}
	}
	ev, err := startServer(ctx, e, c, h, l)
	if err != nil {
		return err
	}
	e.Output(host, ev)
	e.SetFact(factKey(host, "restart"), "")
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
