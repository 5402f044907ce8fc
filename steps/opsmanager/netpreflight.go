// netpreflight.go: the network and host preflight of both Ops Manager
// procedures (issue 19 item 3), from the servers themselves before the
// first change: every server reaches every App DB member of appdb.uri
// (M7, M13: 27017 to the App DB), the load balancer's address, and its
// time service says its clock is synchronised; the upgrade needs room for
// the package where it is staged.

package opsmanager

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hawiz/hawiz/steps"
)

// maxServerSkew is the largest clock difference allowed between servers
// [derived: the docs give no figure; the same default as Micetro's
// max_clock_skew].
const maxServerSkew = 5 * time.Second

// stageFactor: the package is uploaded to remote_dir and installed from
// there; twice its size leaves room for the copy and as much again for
// what rpm/dpkg or tar unpack beside it on the same file system.
const stageFactor = 2

// lbTarget is the load balancer's host and port from its URL.
func lbTarget(raw string) (steps.Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return steps.Target{}, err
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return steps.Target{}, err
		}
	}
	t := steps.Target{Addr: u.Hostname(), Port: port, What: "the load balancer " + raw}
	return t, nil
}

// netPreflight proves the paths from every server: App DB members (unless
// appdb is nil or live_check is off: then a warning), the load balancer
// (lbRequired: a failure stops the run; else it is a warning, the load
// balancer being configured later in the procedure), time service, skew.
func netPreflight(ctx context.Context, e *steps.Env, c *Common, appdb *AppDB, lb *LoadBalancer, lbRequired bool) (string, error) {
	names := c.serverNames()
	targets := map[string][]steps.Target{}
	if appdb != nil && appdb.LiveCheck != "off" {
		hosts, err := ParseAppDBURI(appdb.URI)
		if err != nil {
			return "", fmt.Errorf("appdb.uri: %w", err)
		}
		for _, n := range names {
			for _, h := range hosts {
				t, err := steps.ParseTarget(h.String(), 27017, "App DB member "+h.String())
				if err != nil {
					return "", fmt.Errorf("appdb.uri: %w", err)
				}
				targets[n] = append(targets[n], t)
			}
		}
	} else if appdb != nil {
		e.Warn("", "appdb.live_check is off: hawiz connects to no App DB member, so the path from every server to them (%s) is not checked", appdb.URI)
	}
	ev, err := steps.CheckReach(ctx, e, targets)
	if err != nil {
		return "", err
	}
	if lb != nil && lb.URL != "" {
		t, err := lbTarget(lb.URL)
		if err != nil {
			return "", fmt.Errorf("load_balancer.url: %w", err)
		}
		lbm := map[string][]steps.Target{}
		for _, n := range names {
			lbm[n] = []steps.Target{t}
		}
		lev, err := steps.CheckReach(ctx, e, lbm)
		switch {
		case err != nil && lbRequired:
			return "", err
		case err != nil:
			e.Warn("", "the load balancer's address is not reachable from every server yet (it is configured at step %s and checked through it at the end): %v", StepLB, err)
		default:
			ev = append(ev, lev...)
		}
	}
	tev, err := steps.CheckTimeSync(ctx, e, names)
	if err != nil {
		return "", err
	}
	sev, err := steps.CheckClockSkew(ctx, e, names, maxServerSkew, "Ops Manager servers and the App DB need synchronised clocks")
	if err != nil {
		return "", err
	}
	return strings.Join(append(append(ev, tev...), sev), "\n"), nil
}

// checkPackageSpace: remote_dir on server name has stageFactor × the
// package's size free.
func checkPackageSpace(ctx context.Context, e *steps.Env, a *UpgradeAnswers, name string, sudo bool) (string, error) {
	st, err := os.Stat(a.Upgrade.Package)
	if err != nil {
		return "", fmt.Errorf("upgrade.package: %w", err)
	}
	return steps.CheckFreeDisk(ctx, e, name, a.Upgrade.RemoteDir, st.Size()*stageFactor, sudo,
		fmt.Sprintf("staging the package (%s × %d)", steps.Bytes(st.Size()), stageFactor))
}
