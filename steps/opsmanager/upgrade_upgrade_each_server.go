// upgrade_upgrade_each_server.go: step upgrade-each-server of
// opsmanager-upgrade: one server at a time, stop it, install the new
// version, start it, check it; conf-mms.properties and gen.key must come
// out unchanged (https://www.mongodb.com/docs/ops-manager/current/tutorial/upgrade-ops-manager/
// steps 1-3 and 6, M16; Upgrade Mode, one host at a time, M17; upgrades
// overwrite configuration files, M14). Staging is in staging.go, installing
// in install.go.

package opsmanager

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

func upUpgradeEachServer(a *UpgradeAnswers) *steps.Step {
	u := a.Upgrade
	return &steps.Step{
		ID:     StepUpEach,
		Title:  "Upgrade each Application server, one at a time",
		Why:    "stop it, install the new version, start it, check it; the deployment is in Upgrade Mode (read-only UI) until the last server is done",
		DocRef: docRefs(upgradeStep("steps 1–3 and 6", "stop, install, start, log in, then the next server"), refUpgradeMode),
		Hosts:  a.Common.serverNames(),
		Mode:   steps.EachInOrder,
		Actions: []string{
			"stop Ops Manager; upload " + path.Base(u.Package) + " into a new directory made by root under " + u.RemoteDir + " (mktemp -d, mode 0700: no other user can read or replace it), SHA-256 checked on arrival; " +
				installDescription(u.Package) + ", by a root shell that checks the SHA-256 again first; remove the directory; start; /monitor/health 200; conf-mms.properties and gen.key unchanged",
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			return upCheck(ctx, e, a, host)
		},
		Apply:  func(ctx context.Context, e *steps.Env, host string) error { return upApply(ctx, e, a, host) },
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) { return upVerify(ctx, e, a, host) },
	}
}

// upCheck: done when the server runs the target version, is healthy, and
// its conf-mms.properties and gen.key are the pre-upgrade ones.
func upCheck(ctx context.Context, e *steps.Env, a *UpgradeAnswers, host string) (bool, string, error) {
	c := &a.Common
	h, l, err := layoutHost(ctx, e, c, host)
	if err != nil {
		return false, "", err
	}
	v, err := installedVersion(ctx, h, l)
	if err != nil {
		return false, "", err
	}
	if !versionMatches(v, a.Upgrade.Version) {
		return false, fmt.Sprintf("%s: Ops Manager %s, not %s yet", host, v, a.Upgrade.Version), nil
	}
	if ok, st, err := packageComplete(ctx, h, l); err != nil || !ok {
		return false, fmt.Sprintf("%s: mongodb-mms %s is %q (an interrupted install)", host, v, st), err
	}
	up, ev, err := serverUp(ctx, e, c, h, l)
	if err != nil || !up {
		return false, fmt.Sprintf("%s: Ops Manager %s installed; %s", host, v, ev), err
	}
	same, kev, err := filesUnchanged(ctx, e, h, l)
	if err != nil || !same {
		return false, kev, err
	}
	if left, err := stagesLeft(ctx, a, h, l); err != nil || len(left) > 0 {
		return false, fmt.Sprintf("%s: Ops Manager %s; %s; %s; the staging directory %s is still there (a run stopped before removing it)", host, v, ev, kev, strings.Join(left, ", ")), err
	}
	return true, fmt.Sprintf("%s: Ops Manager %s; %s; %s", host, v, ev, kev), nil
}

// filesUnchanged compares conf-mms.properties and gen.key with the hashes
// recorded before the upgrade.
func filesUnchanged(ctx context.Context, e *steps.Env, h *remote.Host, l layout) (bool, string, error) {
	host := h.Name()
	var ev []string
	same := true
	for _, f := range []struct{ key, path, name string }{{"conf_sha256", l.Conf, "conf-mms.properties"}, {"gen_key_sha256", l.GenKey, "gen.key"}} {
		want, ok := e.Fact(upFact(host, f.key))
		if !ok {
			return false, host + ": no pre-upgrade hash recorded (step " + StepUpBackup + ")", nil
		}
		fi, err := h.Stat(ctx, f.path, l.Sudo)
		if err != nil {
			return false, "", err
		}
		if fi.SHA256 != want {
			same = false
			ev = append(ev, fmt.Sprintf("%s changed (sha256 %s, was %s)", f.name, short(fi.SHA256), short(want)))
		} else {
			ev = append(ev, f.name+" unchanged")
		}
	}
	return same, strings.Join(ev, ", "), nil
}

// upApply upgrades one server: the new version installed (unless it
// already is), conf-mms.properties and gen.key restored if the install
// changed them, and the server started.
func upApply(ctx context.Context, e *steps.Env, a *UpgradeAnswers, host string) error {
	c := &a.Common
	h, l, err := layoutHost(ctx, e, c, host)
	if err != nil {
		return err
	}
	names := c.serverNames()
	i := indexOf(names, host)
	e.Output(host, fmt.Sprintf("Upgrade Mode: after the first server is upgraded Ops Manager is read-only (alerts and monitoring continue) until every server runs %s; this is server %d of %d ("+refUpgradeMode.String()+")", a.Upgrade.Version, i+1, len(names)))
	staged, err := installTarget(ctx, e, a, h, l)
	if staged != "" {
		// Removed when this server is done; a run killed before that:
		// upCheck finds the directory, upApply or the next staging removes it.
		defer removeStages(context.WithoutCancel(ctx), e, h, l, []string{staged}, "")
	}
	if err != nil {
		return err
	}
	// The upgrade must not have changed the configuration or the key (M17, M14).
	if err := restoreIfChanged(ctx, e, h, l); err != nil {
		return err
	}
	return startUpgraded(ctx, e, c, h, l)
}

// installTarget installs the target version unless it is installed
// completely already; then it removes the staging directory a run stopped
// after installing left. It returns the staging directory it made ("" none),
// for the caller to remove once the server is done.
func installTarget(ctx context.Context, e *steps.Env, a *UpgradeAnswers, h *remote.Host, l layout) (string, error) {
	host := h.Name()
	v, err := installedVersion(ctx, h, l)
	if err != nil {
		return "", err
	}
	complete, st, err := packageComplete(ctx, h, l)
	if err != nil {
		return "", err
	}
	if !complete {
		e.Warn(host, "mongodb-mms %s is %q: an install was interrupted; installing the package again to finish it", v, st)
	}
	if versionMatches(v, a.Upgrade.Version) && complete {
		// Installed by a run stopped before it removed the staging directory.
		left, err := stagesLeft(ctx, a, h, l)
		if err != nil {
			return "", err
		}
		return "", removeStages(ctx, e, h, l, left, "left by an interrupted run after it installed the package")
	}
	// The package is staged before the server is stopped: a failed
	// upload leaves it running.
	pkg, err := stagePackage(ctx, e, a, h, l)
	if err != nil {
		return "", err
	}
	return path.Dir(pkg), stopAndInstall(ctx, e, a, h, l, pkg)
}

// stopAndInstall stops the server (M16 step 1) and installs the staged
// package (M16 step 2), which must bring the target version.
func stopAndInstall(ctx context.Context, e *steps.Env, a *UpgradeAnswers, h *remote.Host, l layout, pkg string) error {
	host := h.Name()
	if res, err := service(ctx, e, h, l, "stop", a.StartTimeout); err != nil {
		return err
	} else if res.ExitStatus != 0 {
		return fmt.Errorf("%s failed (exit %d): %s", l.describe("stop"), res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
	}
	if err := install(ctx, e, a, h, l, pkg); err != nil {
		return err
	}
	v, err := installedVersion(ctx, h, l)
	if err != nil {
		return err
	}
	if !versionMatches(v, a.Upgrade.Version) {
		return fmt.Errorf("%s: after installing %s the version is %s, not %s (upgrade.version)", host, path.Base(a.Upgrade.Package), v, a.Upgrade.Version)
	}
	e.SetFact(upFact(host, "installed"), v)
	return nil
}

// startUpgraded starts the upgraded server (M16 step 3) unless it already
// runs and is healthy.
func startUpgraded(ctx context.Context, e *steps.Env, c *Common, h *remote.Host, l layout) error {
	up, err := running(ctx, e, h, l, c)
	if err != nil {
		return err
	}
	if up {
		if st, err := health(ctx, h, c); err == nil && st == 200 {
			return nil
		}
	}
	ev, err := startServer(ctx, e, c, h, l)
	if err != nil {
		return err
	}
	e.Output(h.Name(), ev)
	return nil
}

// restoreIfChanged puts back the pre-upgrade copy of conf-mms.properties
// or gen.key when the install changed it, warning the operator.
func restoreIfChanged(ctx context.Context, e *steps.Env, h *remote.Host, l layout) error {
	host := h.Name()
	bc, bk := upBackupPaths(l)
	for _, f := range []struct{ key, path, backup string }{{"conf_sha256", l.Conf, bc}, {"gen_key_sha256", l.GenKey, bk}} {
		want, _ := e.Fact(upFact(host, f.key))
		fi, err := h.Stat(ctx, f.path, l.Sudo)
		if err != nil {
			return err
		}
		if fi.SHA256 == want {
			continue
		}
		bfi, err := h.Stat(ctx, f.backup, l.Sudo)
		if err != nil {
			return err
		}
		if bfi.SHA256 != want {
			return fmt.Errorf("%s: %s changed during the upgrade and the backup %s does not match the recorded hash either; restore it by hand", host, f.path, f.backup)
		}
		res, err := h.Run(ctx, remote.Cmd{Program: "cp", Args: []string{"-p", f.backup, f.path}, Sudo: l.Sudo, Timeout: time.Minute})
		if err != nil {
			return err
		}
		if res.ExitStatus != 0 {
			return fmt.Errorf("%s: restoring %s: %s", host, f.path, strings.TrimSpace(string(res.Stderr)))
		}
		e.Warn(host, "the upgrade changed %s: restored the pre-upgrade copy (upgrades overwrite configuration files: "+refLogsOverwrite.String()+")", f.path)
	}
	return nil
}

// upVerify: upCheck holds; until the last server, Upgrade Mode continues.
func upVerify(ctx context.Context, e *steps.Env, a *UpgradeAnswers, host string) (string, error) {
	ok, ev, err := upCheck(ctx, e, a, host)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errors.New(ev)
	}
	names := a.Common.serverNames()
	if i := indexOf(names, host); i < len(names)-1 {
		ev += fmt.Sprintf("\nUpgrade Mode continues (read-only UI) until %s is upgraded", names[len(names)-1])
	}
	return ev, nil
}
