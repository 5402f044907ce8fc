package micetro

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Step preflight of micetro-central-upgrade: every member reachable, sudo
// works, Central version read on each, and the upload directory of every
// member still to upgrade safe for a staging directory.
// Docs: https://docs.menandmice.com/en/10.1/guides/implementation/central_ha.html#update-central-ha
// (C2 central_ha.rst on branch 10.1, "Updating Central in High Availability
// setup", the warning on Automatic Update).

func upgradePreflightStep(a *UpgradeAnswers) *steps.Step {
	run := func(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
		ev, err := upgradePreflight(ctx, e, a)
		return err == nil, ev, err
	}
	return &steps.Step{
		ID:      StepUpPreflight,
		Title:   "Preflight: every member reachable, sudo works, Central version read on each, the update path supported",
		Why:     "the Automatic Update feature cannot be used while Central is in High Availability; each member is upgraded by hand with an installer, and the version on each host decides what is left to do",
		DocRef:  refUpdateHA("the warning").String(),
		Mode:    steps.Once,
		Actions: append(upgradePreflightActions(a), a.pathNotes()...),
		Check:   run,
		Verify: func(ctx context.Context, e *steps.Env, h string) (string, error) {
			_, ev, err := run(ctx, e, h)
			return ev, err
		},
		After: []string{},
	}
}

// upgradePreflightActions is the plan's lines; the checks of the upload
// directories as the members' systems have them.
func upgradePreflightActions(a *UpgradeAnswers) []string {
	acts := []string{"check sudo on every member", "read the Central version on every member (" +
		strings.Join(a.versionCommand(&a.Members[0]), " ") + ")",
		"refuse an update to " + a.Installer.ExpectedVersion + " from a version the vendor's Update Paths table does not support in one step (" + updatePathsDoc + ")"}
	if a.anyOS(false) {
		acts = append(acts, "on every Linux member still to upgrade: its upload directory and every directory above it are root's or the SSH user's and not writable by others (unless sticky, as /tmp)")
	}
	if a.anyOS(true) {
		acts = append(acts, "on every Windows member still to upgrade: the session is an elevated administrator; its upload directory and every directory above it are no link or junction, owned by SYSTEM, Administrators, TrustedInstaller or the SSH user, and let no other account delete, rename or re-permission what is in them")
	}
	acts = append(acts, "read every member's clock: they differ by "+DefaultMaxClockSkew.String()+" at most (Central's failover compares heartbeat times written with each member's clock; "+refTweaks.String()+")")
	acts = append(acts, "on every member still to upgrade: its upload directory has free space for the installer × 4 (the .tgz and its extracted tree; × 2 for a Windows installer or an install_command)")
	return append(acts, a.netPreflightActions()...)
}

func upgradePreflight(ctx context.Context, e *steps.Env, a *UpgradeAnswers) (string, error) {
	if f := e.Fleet(); f != nil && a.SSH.Sudo != steps.SudoNone {
		if err := f.CheckSudo(ctx); err != nil {
			return "", err
		}
	}
	vers := make([]string, len(a.Members))
	space := make([]string, len(a.Members))
	errs := make([]error, len(a.Members))
	var wg sync.WaitGroup
	for i := range a.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vers[i], space[i], errs[i] = preflightMember(ctx, e, a, &a.Members[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	for i, m := range a.Members {
		if d, ok := steps.CompareVersions(vers[i], a.Installer.ExpectedVersion); ok && d > 0 {
			return "", fmt.Errorf("%s runs Central %s, newer than installer.expected_version %s: hawiz does not downgrade (an older Central on a newer database); nothing was changed", m.Host.Name, vers[i], a.Installer.ExpectedVersion)
		}
	}
	var paths []error
	for i, m := range a.Members {
		if via := unsupportedPath(vers[i], a.Installer.ExpectedVersion); via != "" {
			paths = append(paths, fmt.Errorf("%s runs Central %s: the vendor does not support updating it to %s in one step; update to %s first (%s); nothing was changed", m.Host.Name, vers[i], a.Installer.ExpectedVersion, via, updatePathsDoc))
		}
	}
	if err := errors.Join(paths...); err != nil {
		return "", err
	}
	skew, problem, err := memberSkew(ctx, e, &a.Common, DefaultMaxClockSkew, "")
	if err != nil {
		return "", err
	}
	if problem != "" {
		return "", errors.New(problem + "; nothing was changed")
	}
	runs, _, rerrs := runningAll(ctx, e, &a.Common)
	if err := errors.Join(rerrs...); err != nil {
		return "", err
	}
	nev, err := netPreflight(ctx, e, &a.Common, runs, "")
	if err != nil {
		return "", err
	}
	var ev []string
	all := "yes"
	for i, m := range a.Members {
		if vers[i] != a.Installer.ExpectedVersion {
			all = "no"
		}
		if _, ok := e.Fact(factVersionBefore(m.Host.Name)); !ok {
			e.SetFact(factVersionBefore(m.Host.Name), vers[i])
		}
		ev = append(ev, fmt.Sprintf("%s %s", m.Host.Name, vers[i]))
	}
	if _, ok := e.Fact(factUpgradedBefore); !ok {
		e.SetFact(factUpgradedBefore, all)
	}
	return "Central versions: " + strings.Join(ev, ", ") + "; target " + a.Installer.ExpectedVersion + "\n" + strings.Join(space, "\n") +
		fmt.Sprintf("\nclock skew between the members: %v (≤ %v)\n", skew, DefaultMaxClockSkew) + nev, nil
}

// preflightMember reads m's Central version and, on a member still to
// upgrade, checks where the installer will be staged (a safe directory with
// room for it): before anything is written.
func preflightMember(ctx context.Context, e *steps.Env, a *UpgradeAnswers, m *Member) (string, string, error) {
	h, err := e.Host(m.Host.Name)
	if err != nil {
		return "", "", err
	}
	v, err := centralVersion(ctx, &a.Common, h, m)
	if err != nil || v == a.Installer.ExpectedVersion {
		return v, m.Host.Name + ": already on " + v + ": nothing staged", err
	}
	err = h.CheckStageParent(ctx, a.uploadDir(m), a.sudo(m))
	if errors.Is(err, remote.ErrUnsafeParent) {
		err = a.unsafeUploadDir(m, err)
	}
	if err != nil {
		return v, "", err
	}
	space, err := a.checkStageSpace(ctx, e, h, m)
	return v, space, err
}
