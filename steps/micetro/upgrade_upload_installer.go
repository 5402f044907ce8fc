package micetro

import (
	"context"
	"fmt"
	"path"

	"github.com/hawiz/hawiz/steps"
)

// Step upload-installer of micetro-central-upgrade (installer.local): "Copy
// the installer to every member", into a private staging directory on Linux
// members.
// Docs: https://docs.menandmice.com/en/10.1/guides/implementation/central_ha.html#update-central-ha
// (C2 central_ha.rst on branch 10.1, "Updating Central in High Availability
// setup", steps 2–3); C6 binaries.rst, install_central.rst.

// uploadInstaller is the step.
type uploadInstaller struct{ a *UpgradeAnswers }

func uploadStep(a *UpgradeAnswers) *steps.Step {
	s := &uploadInstaller{a}
	return &steps.Step{
		ID:     StepUpUploadInstaller,
		Title:  "Copy the installer to every member",
		Why:    "each member is upgraded manually using an installer",
		DocRef: docUpgrade + " steps 2–3; C6 binaries.rst, install_central.rst",
		Hosts:  steps.HostNames(a),
		Mode:   steps.Parallel,
		Actions: []string{fmt.Sprintf("upload %s to %s, SHA-256 checked on arrival", a.Installer.Local, a.uploadTargets()),
			"on Linux members, into a new directory made by root with mktemp -d (mode 0700: no other user can read or replace the installer), uploaded as root; a member that already runs " + a.Installer.ExpectedVersion + " gets nothing"},
		Check:  s.check,
		Apply:  s.apply,
		Verify: s.verify,
	}
}

func (s *uploadInstaller) check(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
	a := s.a
	sum, err := a.localSum()
	if err != nil {
		return false, "", err
	}
	h, err := host(e, hn)
	if err != nil {
		return false, "", err
	}
	_, m := a.memberByHost(hn)
	if m.windows() {
		info, err := h.Stat(ctx, a.installerPath(m), false)
		if err != nil {
			return false, "", err
		}
		if info.Exists && info.SHA256 == sum {
			return true, fmt.Sprintf("%s is there (sha256 %s)", a.installerPath(m), short(sum)), nil
		}
		return false, fmt.Sprintf("%s is not there yet", a.installerPath(m)), nil
	}
	if ok, ev, err := upgraded(ctx, a, h, m); err != nil || ok {
		return ok, ev + "; nothing to upload", err
	}
	dir, _, err := a.findStage(ctx, h, m, sum)
	if err != nil {
		return false, "", err
	}
	if dir != "" {
		return true, fmt.Sprintf("%s is there (sha256 %s)", path.Join(dir, a.installerName()), short(sum)), nil
	}
	return false, "the installer is not staged under " + a.uploadDir(m) + " yet", nil
}

func (s *uploadInstaller) apply(ctx context.Context, e *steps.Env, hn string) error {
	a := s.a
	sum, err := a.localSum()
	if err != nil {
		return err
	}
	h, err := host(e, hn)
	if err != nil {
		return err
	}
	_, m := a.memberByHost(hn)
	if m.windows() {
		return a.upload(ctx, e, h, m, a.installerPath(m), false)
	}
	_, err = a.stage(ctx, e, h, m, sum)
	return err
}

func (s *uploadInstaller) verify(ctx context.Context, e *steps.Env, hn string) (string, error) {
	ok, ev, err := s.check(ctx, e, hn)
	if err == nil && !ok {
		err = fmt.Errorf("%s: %s", hn, ev)
	}
	return ev, err
}
