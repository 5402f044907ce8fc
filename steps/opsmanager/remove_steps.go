// remove_steps.go: the steps of opsmanager-remove-server.
//
// preflight-servers: every server reachable; every server that stays runs
// and is healthy (/monitor/health 200, "Started in" in its startup log),
// and /monitor/health through the load balancer returns 200 (M2 step 1).
//
// take-server-out-of-pool: the operator removes the server from the load
// balancer's pool (the LB is configured outside Ops Manager, M2 step 1;
// the page describes no removal). Done when N requests tagged with a fresh
// nonce, sent through the LB, all return 200 and none is in the removed
// server's mms0-access.log (the tagged-request check of
// verify-through-load-balancer), [derived].
//
// stop-removed-server: stop it as the start-and-stop page says (M11);
// verified stopped, every other server healthy and the LB still 200.

package opsmanager

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

func removePreflight(a *RemoveServerAnswers) *steps.Step {
	c := &a.Common
	run := func(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
		if f := e.Fleet(); f != nil && a.SSH.Sudo != steps.SudoNone && !e.SudoChecked() {
			if err := f.CheckSudo(ctx); err != nil {
				return false, "", err
			}
		}
		evs, err := forEachServer(ctx, a.remaining(), func(ctx context.Context, name string) (string, error) {
			h, l, err := layoutHost(ctx, e, c, name)
			if err != nil {
				return "", err
			}
			up, ev, err := serverUp(ctx, e, c, h, l)
			if err == nil && !up {
				err = &steps.RefusedError{Reason: ev + ": a server that stays must run and be healthy before " + a.Remove + " is taken out; nothing was changed"}
			}
			return ev, err
		})
		if err != nil {
			return false, "", err
		}
		if _, _, err := layoutHost(ctx, e, c, a.Remove); err != nil {
			return false, "", err
		}
		p, err := lbGet(ctx, a.LoadBalancer.URL+HealthPath)
		if err != nil || p.Status != 200 {
			return false, "", fmt.Errorf("GET %s%s through the load balancer: %d %v: it must answer 200 before a server is taken out (%s); nothing was changed", a.LoadBalancer.URL, HealthPath, p.Status, err, refLBHealthStep)
		}
		return true, strings.Join(evs, "; ") + "; " + a.LoadBalancer.URL + HealthPath + " 200", nil
	}
	return &steps.Step{
		ID:     StepRmPreflight,
		Title:  "Preflight: every server reachable, the servers that stay run and are healthy, the load balancer answers 200",
		Why:    "nothing is changed until the servers that stay can take the load; the documents give no removal checks, these are hawiz's [derived]",
		DocRef: docRefs(refLBHealthStep, refMultipleServers),
		Actions: []string{
			"on every server that stays (" + strings.Join(a.remaining(), ", ") + "): the service runs, /monitor/health 200, \"Started in\" in the startup log",
			"GET " + a.LoadBalancer.URL + HealthPath + " from this machine: 200",
		},
		Check: run,
		Verify: func(ctx context.Context, e *steps.Env, h string) (string, error) {
			_, ev, err := run(ctx, e, h)
			return ev, err
		},
		After: []string{},
	}
}

func removeFromPool(a *RemoveServerAnswers) *steps.Step {
	s := a.Servers[a.removedIndex()]
	addr := s.Address
	if addr == "" {
		addr = s.Name
	}
	n := a.requests()
	check := func(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
		return outOfPool(ctx, e, a)
	}
	return &steps.Step{
		ID:     StepRmPool,
		Title:  fmt.Sprintf("Remove %s from the load balancer's pool of Application hosts", a.Remove),
		Why:    "the load balancer must stop sending requests to the server before it stops; the documents describe only building the pool (step 1), so removing it is the reverse of that step [derived]",
		DocRef: docRefs(refPool, refMultipleServers),
		Actions: []string{
			fmt.Sprintf("from this machine: %d GETs of %s%s?<nonce>-i through the load balancer, each 200; none may appear in %s's mms0-access.log, the others' logs hold them all", n, a.LoadBalancer.URL, HealthPath, a.Remove),
		},
		Manual: &steps.Manual{
			Instructions: []string{
				fmt.Sprintf("In the load balancer's configuration, remove %s (%s, port %d) from the pool of Ops Manager Application hosts, and from its health check.", a.Remove, addr, a.Port),
				"Leave " + strings.Join(a.remaining(), ", ") + " in the pool; apply the change (reload the load balancer).",
				fmt.Sprintf("Then confirm: hawiz sends %d tagged requests through %s and proves that none reaches %s before it stops it.", n, a.LoadBalancer.URL, a.Remove),
			},
			Values: []steps.KV{{Label: "Remove from the pool", Value: fmt.Sprintf("%s (%s:%d)", a.Remove, addr, a.Port)}, {Label: "Keep", Value: strings.Join(a.remaining(), ", ")}},
		},
		Check: check,
		Verify: func(ctx context.Context, e *steps.Env, h string) (string, error) {
			ok, ev, err := outOfPool(ctx, e, a)
			if err == nil && !ok {
				err = fmt.Errorf("the load balancer still sends requests to %s: %s", a.Remove, ev)
			}
			return ev, err
		},
	}
}

func (a *RemoveServerAnswers) requests() int {
	if a.LoadBalancer.Requests > 0 {
		return a.LoadBalancer.Requests
	}
	return 4 * len(a.Servers)
}

// outOfPool sends the tagged requests through the LB and reads every
// server's access log: done when none reached the removed server and the
// servers that stay got them all (a log that cannot be read is a
// warning, except the removed server's: then nothing is proven).
func outOfPool(ctx context.Context, e *steps.Env, a *RemoveServerAnswers) (bool, string, error) {
	c := &a.Common
	tag, n := nonce(), a.requests()
	url := a.LoadBalancer.URL + HealthPath
	if _, _, err := probeTagged(ctx, url, tag, n); err != nil {
		return false, "", err
	}
	seen, err := forEachServer(ctx, c.serverNames(), func(ctx context.Context, name string) (string, error) {
		return accessLogHits(ctx, e, c, name, tag)
	})
	if err != nil {
		return false, "", err
	}
	var per, unknown []string
	got, removed := 0, ""
	for i, v := range seen {
		name := c.Servers[i].Name
		per = append(per, name+" "+v)
		if name == a.Remove {
			removed = v
			continue
		}
		if k, err := strconv.Atoi(v); err == nil {
			got += k
		} else {
			unknown = append(unknown, name)
		}
	}
	ev := fmt.Sprintf("%d tagged requests through %s, each 200; found in the access logs: %s", n, url, strings.Join(per, ", "))
	switch {
	case removed == "?":
		return false, "", fmt.Errorf("cannot read %s's access log: hawiz cannot prove the load balancer sends it nothing", a.Remove)
	case removed != "0":
		return false, ev, nil
	case len(unknown) > 0:
		e.Warn("", "could not read the access log of %s", strings.Join(unknown, ", "))
	case got != n:
		return false, "", fmt.Errorf("%s: %d of %d requests are in no server's access log: cannot account for them", ev, n-got, n)
	}
	return true, ev + " (none reached " + a.Remove + ")", nil
}

func removeStop(a *RemoveServerAnswers) *steps.Step {
	c := &a.Common
	return &steps.Step{
		ID:     StepRmStop,
		Title:  fmt.Sprintf("Stop Ops Manager on %s", a.Remove),
		Why:    "once no request reaches it the server is stopped as the start-and-stop page says; the documents describe no removal, the order is hawiz's [derived]",
		DocRef: docRefs(refStopServer, refPool),
		Hosts:  []string{a.Remove},
		Actions: []string{
			"stop the service on " + a.Remove + " (service mongodb-mms stop, or the install's control script)",
			"then it does not run; every other server runs with /monitor/health 200; the load balancer answers 200",
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			h, l, err := layoutHost(ctx, e, c, host)
			if err != nil {
				return false, "", err
			}
			up, err := running(ctx, e, h, l, c)
			if err != nil {
				return false, "", err
			}
			if up {
				return false, host + ": running (" + l.describe("status") + ")", nil
			}
			return true, host + ": not running (" + l.describe("status") + ")", nil
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error {
			h, l, err := layoutHost(ctx, e, c, host)
			if err != nil {
				return err
			}
			res, err := service(ctx, e, h, l, "stop", c.StartTimeout)
			if err != nil {
				return err
			}
			if res.ExitStatus != 0 {
				return fmt.Errorf("%s on %s exited %d", l.describe("stop"), host, res.ExitStatus)
			}
			return nil
		},
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			h, l, err := layoutHost(ctx, e, c, host)
			if err != nil {
				return "", err
			}
			up, err := running(ctx, e, h, l, c)
			if err != nil {
				return "", err
			}
			if up {
				return "", fmt.Errorf("%s still runs after %s", host, l.describe("stop"))
			}
			evs, err := forEachServer(ctx, a.remaining(), func(ctx context.Context, name string) (string, error) {
				h, l, err := layoutHost(ctx, e, c, name)
				if err != nil {
					return "", err
				}
				ok, ev, err := serverUp(ctx, e, c, h, l)
				if err == nil && !ok {
					err = fmt.Errorf("%s", ev)
				}
				return ev, err
			})
			if err != nil {
				return "", err
			}
			p, err := lbGet(ctx, a.LoadBalancer.URL+HealthPath)
			if err != nil || p.Status != 200 {
				return "", fmt.Errorf("GET %s%s through the load balancer after stopping %s: %d %v", a.LoadBalancer.URL, HealthPath, host, p.Status, err)
			}
			return fmt.Sprintf("%s: not running; %s; %s%s 200 (%s)", host, strings.Join(evs, "; "), a.LoadBalancer.URL, HealthPath, removeSummary(a)), nil
		},
	}
}
