// upgrade_preflight_servers.go: step preflight-servers of
// opsmanager-upgrade: every server runs one version (or the target, after an
// interrupted upgrade), nothing would be a downgrade, and every server can
// be upgraded (procedures.md A.3;
// https://www.mongodb.com/docs/ops-manager/current/tutorial/upgrade-ops-manager/
// one host at a time, M17; a failed rolling upgrade, M18).

package opsmanager

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

func upPreflightServers(a *UpgradeAnswers) *steps.Step {
	return &steps.Step{
		ID:     StepUpPreflight,
		Title:  "Preflight: inventory every Application server",
		Why:    "all servers run one version (or the target, after an interrupted upgrade); upgrade only one at a time",
		DocRef: docRefs(refUpgradeMode, refUpgradePathNoDown, refFailedRolling),
		Actions: []string{
			"on every server: install, version, gen.key, health; where the package is staged (remote_dir): safe, with the package's size × 2 free",
			"from every server: a TCP connection to the load balancer's address (when load_balancer is set), the time service says the clock is synchronised, clocks within 5s of each other; a failure stops the run before any change",
			"with load_balancer set and every server running: tagged /monitor/health requests through the load balancer, each server's access log must show some (the load balancer reaches every server, so the others serve while one is upgraded); a server it does not reach stops the run before any change",
		},
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			ev, err := upgradePreflight(ctx, e, a)
			if err != nil {
				return "", err
			}
			nev, err := netPreflight(ctx, e, &a.Common, nil, a.LoadBalancer, true)
			if err != nil {
				return "", err
			}
			lev, err := lbReachesEveryServer(ctx, e, &a.Common, a.LoadBalancer)
			if err != nil {
				return "", err
			}
			return ev + "\n" + nev + lev, nil
		},
	}
}

// upgradePreflight inventories every server at once; the ones not yet on
// the target must all run one older version.
func upgradePreflight(ctx context.Context, e *steps.Env, a *UpgradeAnswers) (string, error) {
	c := &a.Common
	target := a.Upgrade.Version
	names := c.serverNames()
	vs := make([]string, len(c.Servers))
	lines, err := forEachServer(ctx, names, func(ctx context.Context, name string) (string, error) {
		line, v, err := upInventoryServer(ctx, e, a, name)
		vs[indexOf(names, name)] = v
		return line, err
	})
	if err != nil {
		return "", err
	}
	old, err := oneOldVersion(c, vs, target)
	if err != nil {
		return "", err
	}
	if old == "" {
		lines = append(lines, "every server already runs "+target)
		return strings.Join(lines, "\n"), nil
	}
	pathLines, err := upgradePathLines(e, a, vs, old)
	if err != nil {
		return "", err
	}
	return strings.Join(append(lines, pathLines...), "\n"), nil
}

// upgradePathLines checks the documented upgrade path from the servers'
// old version to the target (checkUpgradePath) and says how each server
// not yet on the target will be installed: `rpm -U --oldpackage` where the
// release notes require it.
func upgradePathLines(e *steps.Env, a *UpgradeAnswers, vs []string, old string) ([]string, error) {
	target := a.Upgrade.Version
	name := ""
	for i, v := range vs {
		if v == old {
			name = a.Servers[i].Name
			break
		}
	}
	note, err := checkUpgradePath(name, old, target)
	if err != nil {
		return nil, err
	}
	lines := []string{fmt.Sprintf("upgrade path %s → %s: supported (%s)", old, target, DocUpgradePath)}
	if note != "" {
		e.Warn("", "%s", note)
	}
	if packageKind(a.Upgrade.Package) == "rpm" && needsOldPackage(old, target) {
		lines = append(lines, fmt.Sprintf("the %s rpm package carries incorrect version information: it is upgraded with rpm -U --oldpackage (%s)", old, DocReleaseNotes))
	}
	return lines, nil
}

// upInventoryServer checks one server before the upgrade and returns its
// line and version. The version it ran first is recorded (fact from).
func upInventoryServer(ctx context.Context, e *steps.Env, a *UpgradeAnswers, name string) (string, string, error) {
	c := &a.Common
	target := a.Upgrade.Version
	h, l, err := layoutHost(ctx, e, c, name)
	if err != nil {
		return "", "", err
	}
	v, err := installedVersion(ctx, h, l)
	if err != nil {
		return "", "", err
	}
	upgrading := !versionMatches(v, target)
	space := "nothing to stage"
	if upgrading {
		// Where the package will be staged: checked before anything is written.
		if err := h.CheckStageParent(ctx, a.Upgrade.RemoteDir, l.Sudo); errors.Is(err, remote.ErrUnsafeParent) {
			return "", v, unsafeRemoteDir(a, name, err)
		} else if err != nil {
			return "", v, err
		}
		if space, err = checkPackageSpace(ctx, e, a, name, l.Sudo); err != nil {
			return "", v, err
		}
	}
	if _, ok := e.Fact(upFact(name, "from")); !ok {
		e.SetFact(upFact(name, "from"), v)
	}
	if l.Install == InstallTar {
		if err := checkTarSymlink(ctx, h, l, upgrading); err != nil {
			return "", v, err
		}
	}
	if err := checkHasGenKey(ctx, h, l); err != nil {
		return "", v, err
	}
	fwdOK, fwd, err := steps.CheckHTTPProbe(ctx, e, name)
	if err != nil {
		return "", v, err
	}
	up, ev, err := serverUp(ctx, e, c, h, l)
	if err != nil {
		return "", v, err
	}
	if !up && upgrading {
		e.Warn(name, "%s", ev)
	}
	if !fwdOK {
		ev += "; " + fwd
	}
	from, _ := e.Fact(upFact(name, "from"))
	return fmt.Sprintf("%s: Ops Manager %s (before the upgrade: %s), target %s; %s; %s", name, v, from, target, ev, space), v, nil
}

// checkTarSymlink: a tar install still to be upgraded has a symlink as its
// install_dir (the upgrade repoints it).
func checkTarSymlink(ctx context.Context, h *remote.Host, l layout, upgrading bool) error {
	res, err := h.Run(ctx, remote.Cmd{Program: "test", Args: []string{"-L", l.InstallDir}, Timeout: time.Minute})
	if err != nil {
		return err
	}
	if res.ExitStatus != 0 && upgrading {
		return fmt.Errorf("%s: install_dir %s is not a symlink; hawiz upgrades a tar install by extracting the new archive next to it and repointing that symlink", h.Name(), l.InstallDir)
	}
	return nil
}

// checkHasGenKey: the server holds a gen.key to preserve.
func checkHasGenKey(ctx context.Context, h *remote.Host, l layout) error {
	fi, err := h.Stat(ctx, l.GenKey, l.Sudo)
	if err != nil {
		return err
	}
	if !fi.Exists {
		return fmt.Errorf("%s: no gen.key at %s: nothing to preserve (is this server set up?)", h.Name(), l.GenKey)
	}
	return nil
}

// oneOldVersion returns the one version the servers not yet on target run
// ("" when all are on it); a newer one (no downgrade path) or two old ones
// are refused.
func oneOldVersion(c *Common, vs []string, target string) (string, error) {
	old := ""
	for i, v := range vs {
		if versionMatches(v, target) {
			continue
		}
		if d, ok := steps.CompareVersions(v, target); ok && d > 0 {
			return "", fmt.Errorf("%s runs Ops Manager %s, newer than upgrade.version %s: there is no downgrade path ("+refUpgradePathNoDown.String()+"); nothing was changed", c.Servers[i].Name, v, target)
		}
		if old == "" {
			old = v
		} else if v != old {
			return "", fmt.Errorf("%s runs %s and another server %s: more than one old version; bring them to one version first ("+refFailedRolling.String()+")", c.Servers[i].Name, v, old)
		}
	}
	return old, nil
}

// lbReachesEveryServer proves, before a server is stopped for its upgrade,
// that the load balancer sends requests to every server (tagged requests
// found in each access log, as verify-through-load-balancer does), so the
// others serve while one is down (Upgrade Ops Manager: one server at a
// time behind the load balancer). Only when every server runs: a resumed
// upgrade may have one stopped, which the upgrade itself starts again.
func lbReachesEveryServer(ctx context.Context, e *steps.Env, c *Common, lb *LoadBalancer) (string, error) {
	if lb == nil {
		return "", nil
	}
	names := c.serverNames()
	up := make([]bool, len(names))
	if _, err := forEachServer(ctx, names, func(ctx context.Context, name string) (string, error) {
		h, l, err := layoutHost(ctx, e, c, name)
		if err != nil {
			return "", err
		}
		up[indexOf(names, name)], err = running(ctx, e, h, l, c)
		return "", err
	}); err != nil {
		return "", err
	}
	for i, ok := range up {
		if !ok {
			return "\nthe load balancer's reach of every server is not proven before the upgrade: " + names[i] + " does not run now (a resumed upgrade); the load balancer is asked again at the end (verify-upgrade-complete)", nil
		}
	}
	ev, err := verifyLB(ctx, e, c, lb)
	if err != nil {
		return "", fmt.Errorf("the load balancer %s must reach every server before one is stopped for its upgrade: %w", lb.URL, err)
	}
	return "\nthrough the load balancer: " + strings.ReplaceAll(ev, "\n", "; "), nil
}
