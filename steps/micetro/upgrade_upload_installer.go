package micetro

import (
	"context"
	"fmt"

	"github.com/hawiz/hawiz/steps"
)

// Step upload-installer of micetro-central-upgrade (installer.local): "Copy
// the installer to every member", into a private staging directory.
// Docs: https://docs.menandmice.com/en/10.1/guides/implementation/central_ha.html#update-central-ha
// (C2 central_ha.rst on branch 10.1, "Updating Central in High Availability
// setup", steps 2–3); C6 binaries.rst, install_central.rst.

// uploadInstaller is the step.
type uploadInstaller struct{ a *UpgradeAnswers }

func uploadStep(a *UpgradeAnswers) *steps.Step {
	s := &uploadInstaller{a}
	return &steps.Step{
		ID:      StepUpUploadInstaller,
		Title:   "Copy the installer to every member",
		Why:     "each member is upgraded manually using an installer",
		DocRef:  docRefs(refUpdateHA("steps 2–3"), refBinaries, refInstall),
		Hosts:   steps.HostNames(a),
		Mode:    steps.Parallel,
		Actions: uploadActions(a),
		Check:   s.check,
		Apply:   s.apply,
		Verify:  s.verify,
	}
}

// uploadActions is the plan's lines: where the installer goes, and how its
// directory is private on Linux members and on Windows members.
func uploadActions(a *UpgradeAnswers) []string {
	acts := []string{fmt.Sprintf("upload %s to %s, SHA-256 checked on arrival", a.Installer.Local, a.uploadTargets())}
	if a.anyOS(false) {
		acts = append(acts, "on Linux members, into a new directory made by root with mktemp -d (mode 0700: no other user can read or replace the installer), uploaded as root; a member that already runs "+a.Installer.ExpectedVersion+" gets nothing")
	}
	if a.anyOS(true) {
		acts = append(acts, "on Windows members, into a new directory with a random name that the administrator session makes with its ACL in the same call (inheritance disabled, SYSTEM and Administrators full control, nobody else anything; refused if the name exists); a member that already runs "+a.Installer.ExpectedVersion+" gets nothing")
	}
	return acts
}

func (s *uploadInstaller) check(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
	a := s.a
	sum, err := a.localSum()
	if err != nil {
		return false, "", err
	}
	h, err := e.Host(hn)
	if err != nil {
		return false, "", err
	}
	_, m := a.memberByHost(hn)
	if ok, ev, err := upgraded(ctx, a, h, m); err != nil || ok {
		return ok, ev + "; nothing to upload", err
	}
	dir, _, err := a.findStage(ctx, h, m, sum)
	if err != nil {
		return false, "", err
	}
	if dir != "" {
		return true, fmt.Sprintf("%s is there (sha256 %s)", a.stagedPath(m, dir), short(sum)), nil
	}
	return false, "the installer is not staged under " + a.uploadDir(m) + " yet", nil
}

func (s *uploadInstaller) apply(ctx context.Context, e *steps.Env, hn string) error {
	a := s.a
	sum, err := a.localSum()
	if err != nil {
		return err
	}
	h, err := e.Host(hn)
	if err != nil {
		return err
	}
	_, m := a.memberByHost(hn)
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
