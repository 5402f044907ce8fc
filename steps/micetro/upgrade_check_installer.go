package micetro

import (
	"context"
	"fmt"

	"github.com/hawiz/hawiz/steps"
)

// Step check-installer of micetro-central-upgrade (installer.remote): "Check
// the installer on every member", its SHA-256 recorded the first time.
// Docs: https://docs.menandmice.com/en/10.1/guides/implementation/central_ha.html#update-central-ha
// (C2 central_ha.rst on branch 10.1, "Updating Central in High Availability
// setup", steps 2–3).

func remoteInstallerStep(a *UpgradeAnswers) *steps.Step {
	check := func(ctx context.Context, e *steps.Env, hn string) (string, error) {
		h, err := e.Host(hn)
		if err != nil {
			return "", err
		}
		_, m := a.memberByHost(hn)
		info, err := h.Stat(ctx, a.installerPath(m), a.sudo(m))
		if err != nil {
			return "", err
		}
		if !info.Exists {
			return "", fmt.Errorf("installer.remote %s does not exist on %s", a.installerPath(m), hn)
		}
		if a.Installer.SHA256 != "" && info.SHA256 != a.Installer.SHA256 {
			return "", fmt.Errorf("installer.remote %s on %s has SHA-256 %s, not installer.sha256 %s", a.installerPath(m), hn, info.SHA256, a.Installer.SHA256)
		}
		// The installer is installed only with the hash seen here first.
		if old, ok := e.Fact(factRemoteSHA256(hn)); ok && old != info.SHA256 {
			return "", fmt.Errorf("installer.remote %s on %s changed since this run began (SHA-256 %s, was %s)", a.installerPath(m), hn, short(info.SHA256), short(old))
		}
		e.SetFact(factRemoteSHA256(hn), info.SHA256)
		return fmt.Sprintf("%s: %d bytes, sha256 %s", a.installerPath(m), info.Size, short(info.SHA256)), nil
	}
	return &steps.Step{
		ID:      StepUpCheckInstaller,
		Title:   "Check the installer on every member",
		Why:     "each member is upgraded manually using an installer",
		DocRef:  refUpdateHA("steps 2–3").String(),
		Hosts:   steps.HostNames(a),
		Mode:    steps.Parallel,
		Actions: []string{"stat " + a.Installer.Remote + " on every member (SHA-256 compared when installer.sha256 is set, and recorded: a Linux member installs a copy that root checks has it)"},
		Check: func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
			ev, err := check(ctx, e, hn)
			return err == nil, ev, err
		},
		Verify: check,
	}
}
