// ha_verify_through_load_balancer.go: step verify-through-load-balancer of
// opsmanager-ha: /monitor/health through the LB returns 200, every server
// gets requests from it, and it does not cache
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// step 1, health check 200/500, M2; no cached content, M1 and M6).

package opsmanager

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

func haVerifyThroughLoadBalancer(a *Answers) *steps.Step {
	c := &a.Common
	return &steps.Step{
		ID:     StepVerifyLB,
		Title:  "Verify the Application through the load balancer",
		Why:    "/monitor/health via the LB URL returns 200, every server is in the pool, and the LB does not cache",
		DocRef: docRefs(haProcStep("1", "the load balancer checks /monitor/health: 200 healthy, 500 unhealthy"), refHAOverviewServers, refRemoteIPHeader),
		Actions: []string{
			"from this machine: GET <LB>/monitor/health twice, >1 s apart (cache signs), then tagged requests; find each tag in the servers' mms0-access.log",
		},
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			return verifyLB(ctx, e, c, &a.LoadBalancer)
		},
	}
}

// verifyLB sends /monitor/health through the LB: twice for the same URL
// (a cache replays Date), then tagged requests whose tags each server's
// access log must show.
func verifyLB(ctx context.Context, e *steps.Env, c *Common, lb *LoadBalancer) (string, error) {
	healthURL := lb.URL + HealthPath
	p1, p2, err := probeTwice(ctx, healthURL, lb.CacheProbeGap)
	if err != nil {
		return "", err
	}
	ev := []string{fmt.Sprintf("GET %s: 200, 200 (%s apart)", healthURL, p2.Sent.Sub(p1.Sent).Round(10*time.Millisecond))}
	tag := nonce()
	n := lb.Requests
	if n == 0 {
		n = 4 * len(c.Servers)
	}
	tagged, byHeader, err := probeTagged(ctx, healthURL, tag, n)
	if err != nil {
		return "", err
	}
	probes := append([]Probe{p1, p2}, tagged...)
	if signs := CacheSigns(probes); len(signs) > 0 {
		return "", &steps.RefusedError{Reason: "the load balancer returns cached content; the docs require caching off (" + refHAOverviewServers.String() + "): " + strings.Join(signs, "; ")}
	}
	ev = append(ev, fmt.Sprintf("no sign of a cache in %d responses (Age, X-Cache, Cache-Control, Date)", len(probes)))
	pool, err := checkPool(ctx, e, c, lb, tag, n)
	if err != nil {
		return "", err
	}
	ev = append(ev, pool)
	if len(byHeader) > 0 {
		ev = append(ev, "backend headers: "+headerCounts(byHeader))
	}
	return strings.Join(ev, "\n"), nil
}

// checkPool finds the n tagged requests in each server's access log: a
// server that got none is out of the LB's pool (an error unless
// load_balancer.check_backends is false); one whose log cannot be read is a
// warning.
func checkPool(ctx context.Context, e *steps.Env, c *Common, lb *LoadBalancer, tag string, n int) (string, error) {
	seen, err := forEachServer(ctx, c.serverNames(), func(ctx context.Context, name string) (string, error) {
		return accessLogHits(ctx, e, c, name, tag)
	})
	if err != nil {
		return "", err
	}
	var missing, unknown, per []string
	for i, s := range seen {
		name := c.Servers[i].Name
		switch s {
		case "?":
			unknown = append(unknown, name)
		case "0":
			missing = append(missing, name)
		}
		per = append(per, name+" "+s)
	}
	if len(unknown) > 0 {
		e.Warn("", "could not read the access log of %s: cannot tell whether the LB sends them requests", strings.Join(unknown, ", "))
	}
	if len(missing) > 0 && *lb.CheckBackends {
		return "", fmt.Errorf("the LB sent none of %d requests to %s (its pool or health check leaves them out; set load_balancer.check_backends: false if the LB is sticky by design)",
			n, strings.Join(missing, ", "))
	}
	return fmt.Sprintf("tagged requests found in each server's access log: %s (of %d)", strings.Join(per, ", "), n), nil
}

// probeTwice GETs healthURL twice, gap apart; both must return 200.
func probeTwice(ctx context.Context, healthURL string, gap time.Duration) (Probe, Probe, error) {
	p1, err := lbGet(ctx, healthURL)
	if err != nil {
		return Probe{}, Probe{}, fmt.Errorf("GET %s: %w", healthURL, err)
	}
	select {
	case <-ctx.Done():
		return Probe{}, Probe{}, ctx.Err()
	case <-time.After(gap):
	}
	p2, err := lbGet(ctx, healthURL)
	if err != nil {
		return Probe{}, Probe{}, fmt.Errorf("GET %s: %w", healthURL, err)
	}
	for _, p := range []Probe{p1, p2} {
		if p.Status != 200 {
			return Probe{}, Probe{}, fmt.Errorf("GET %s through the LB returned %d, not 200 (500 = a server or the App DB looks unhealthy: %s)", healthURL, p.Status, refLBHealthStep)
		}
	}
	return p1, p2, nil
}

// probeTagged sends n requests tagged healthURL?TAG-i through the LB, each
// must return 200, and counts the backend headers seen.
func probeTagged(ctx context.Context, healthURL, tag string, n int) ([]Probe, map[string]int, error) {
	var probes []Probe
	byHeader := map[string]int{}
	for i := 0; i < n; i++ {
		p, err := lbGet(ctx, fmt.Sprintf("%s?%s-%d", healthURL, tag, i))
		if err != nil {
			return nil, nil, fmt.Errorf("GET %s through the LB: %w", healthURL, err)
		}
		if p.Status != 200 {
			return nil, nil, fmt.Errorf("GET %s through the LB returned %d on request %d of %d", healthURL, p.Status, i+1, n)
		}
		probes = append(probes, p)
		for _, hname := range backendHeaders {
			if v := p.Header.Get(hname); v != "" {
				byHeader[hname+": "+v]++
			}
		}
	}
	return probes, byHeader, nil
}

// accessLogHits counts the lines of name's access log holding tag ("?"
// when the log cannot be read).
func accessLogHits(ctx context.Context, e *steps.Env, c *Common, name, tag string) (string, error) {
	h, l, err := layoutHost(ctx, e, c, name)
	if err != nil {
		return "", err
	}
	res, err := h.Run(ctx, remote.Cmd{Program: "grep", Args: []string{"-c", "-F", tag, l.AccessLog}, Sudo: l.Sudo, Timeout: time.Minute})
	if err != nil {
		return "", err
	}
	switch res.ExitStatus {
	case 0, 1:
		return strings.TrimSpace(string(res.Stdout)), nil
	}
	return "?", nil
}

// headerCounts shows the backend headers seen, sorted, with their counts.
func headerCounts(byHeader map[string]int) string {
	var hs []string
	for k, v := range byHeader {
		hs = append(hs, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(hs)
	return strings.Join(hs, ", ")
}
