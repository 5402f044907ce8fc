package micetro

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Steps upgrade-primary ("Upgrade the primary server manually using an
// installer") and upgrade-MEMBER ("Upgrade the secondary server NAME using an
// installer; the service is started again afterwards") of
// micetro-central-upgrade. The version on the host decides: a member that
// already runs installer.expected_version is never upgraded again.
// Docs: https://docs.menandmice.com/en/10.1/guides/implementation/central_ha.html#update-central-ha
// (C2 central_ha.rst on branch 10.1, "Updating Central in High Availability
// setup", steps 2 and 3).

// upgradeMember upgrades member m.
type upgradeMember struct {
	a *UpgradeAnswers
	m *Member
}

func upgradeMemberStep(a *UpgradeAnswers, i int, id string) *steps.Step {
	m := &a.Members[i]
	s := &upgradeMember{a: a, m: m}
	title := "Upgrade the primary server manually using an installer"
	doc := refUpdateHA("step 2").String()
	if i > 0 {
		title = fmt.Sprintf("Upgrade the secondary server %s using an installer; the service is started again afterwards", m.Name)
		doc = refUpdateHA("step 3").String()
	}
	return &steps.Step{
		ID:     id,
		Title:  title,
		Why:    "members are upgraded one at a time, primary first; a host that already reports " + a.Installer.ExpectedVersion + " is never upgraded again",
		DocRef: doc,
		Hosts:  []string{m.Host.Name},
		Mode:   steps.Once,
		Actions: []string{
			"read the member's clock just before the installer runs (recorded: the install's start)",
			s.runAction(),
			fmt.Sprintf("then %s reports version %s, and the running daemon is the new one: its %s process started after the install began (Central is restarted if the old process still runs) and it answers on port %d", strings.Join(a.versionCommand(m), " "), a.Installer.ExpectedVersion, a.daemonProcess(m), CentralPort),
		},
		Check:  s.check,
		Apply:  s.apply,
		Verify: s.verify,
	}
}

// runAction is the plan's line for running the installer.
func (s *upgradeMember) runAction() string {
	a, m := s.a, s.m
	if m.windows() {
		return fmt.Sprintf("on %s, as the administrator, from the installer's staging directory under %s (staged again if it is gone): in one PowerShell script, check that the directory is still private and holds only the installer, check the installer's SHA-256 through a handle that lets nobody change it, and with that handle open run %s (its prompts get install_input; default: accept every default); then remove the staging directory",
			m.Host.Name, a.uploadDir(m), strings.Join(a.installArgv(m, "{installer}", "{dir}"), " "))
	}
	how := "extract it into that directory and run its ./install"
	if len(a.InstallCommand) > 0 {
		how = "run " + strings.Join(a.installArgv(m, "{installer}", "{dir}"), " ")
	}
	return fmt.Sprintf("on %s, as root, in the installer's staging directory under %s (staged again if it is gone): check the installer's SHA-256 and, in the same shell, %s (its prompts get install_input; default: accept every default); then remove the staging directory", m.Host.Name, a.uploadDir(m), how)
}

// leftovers lists the member's staging directories.
func (s *upgradeMember) leftovers(ctx context.Context, h *remote.Host) ([]string, error) {
	_, dirs, err := s.a.findStage(ctx, h, s.m, "")
	return dirs, err
}

// check: upgraded, and no staging directory left by a run killed before it
// removed it.
func (s *upgradeMember) check(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
	h, err := e.Host(hn)
	if err != nil {
		return false, "", err
	}
	ok, ev, err := upgraded(ctx, s.a, h, s.m)
	if err != nil || !ok {
		return ok, ev, err
	}
	if _, installed := e.Fact(factInstallStarted(hn)); installed {
		run, rev, err := s.newDaemon(ctx, e, h, hn)
		if err != nil || !run {
			return false, ev + "; " + rev, err
		}
	}
	dirs, err := s.leftovers(ctx, h)
	if err != nil {
		return false, "", err
	}
	if len(dirs) > 0 {
		return false, ev + "; the staging directory " + strings.Join(dirs, ", ") + " is still there (an interrupted run)", nil
	}
	return true, ev, nil
}

func (s *upgradeMember) apply(ctx context.Context, e *steps.Env, hn string) error {
	a, m := s.a, s.m
	h, err := e.Host(hn)
	if err != nil {
		return err
	}
	// The version on the host decides: never install twice.
	if ok, _, err := upgraded(ctx, a, h, m); err != nil {
		return err
	} else if ok {
		dirs, err := s.leftovers(ctx, h)
		if err != nil {
			return err
		}
		if err := a.removeStages(ctx, e, h, m, dirs, ""); err != nil {
			return err
		}
		return s.ensureRunning(ctx, e, h, hn)
	}
	e.Output(hn, "The installer asks whether to install Central, where the configuration files go, the user and group, and the binary location ("+refInstall.String()+"); hawiz answers with install_input.")
	if err := s.install(ctx, e, h, hn); err != nil {
		return err
	}
	return s.ensureRunning(ctx, e, h, hn)
}

// factInstallStarted holds the member's clock just before hawiz ran the
// installer there (formatHostTime), the first time in this run.
func factInstallStarted(host string) string { return "install-started." + host }

// installStarted is the recorded start of this run's install on hn.
func installStarted(e *steps.Env, hn string) (span, bool, error) {
	v, ok := e.Fact(factInstallStarted(hn))
	if !ok {
		return span{}, false, nil
	}
	t, prec, err := parseHostTime(v)
	if err != nil {
		return span{}, false, fmt.Errorf("the recorded install start on %s %q: %w", hn, v, err)
	}
	return exactly(t, prec), true, nil
}

// newDaemon reports whether the Central that runs on m is the one the
// install brought: running (active, answering on 1231) and, when this run
// installed on m, its process started after the install began (a process
// older than that still runs the old binary, whatever the file on disk
// says). ev says what was seen.
func (s *upgradeMember) newDaemon(ctx context.Context, e *steps.Env, h *remote.Host, hn string) (bool, string, error) {
	a, m := s.a, s.m
	var (
		run, found bool
		rev        string
		since      span
		errR, errP error
	)
	par(func() { run, rev, errR = running(ctx, &a.Common, h, m) },
		func() { since, found, errP = startedAt(ctx, &a.Common, h, m) })
	if errR != nil {
		return false, "", errR
	}
	if !run {
		return false, rev, nil
	}
	inst, ok, err := installStarted(e, hn)
	if err != nil {
		return false, "", err
	}
	if !ok {
		return true, rev + " (installed before this run: the process start is not compared)", nil
	}
	if errP != nil {
		return false, "", errP
	}
	if !found {
		return false, rev + fmt.Sprintf("; no %s process found to date its start", a.daemonProcess(m)), nil
	}
	if !since.surelyAfter(inst) {
		return false, rev + fmt.Sprintf("; its %s process runs since %s, not after the install began (%s): the old daemon", a.daemonProcess(m), since, inst), nil
	}
	return true, rev + fmt.Sprintf("; %s running since %s, after the install began (%s)", a.daemonProcess(m), since, inst), nil
}

// installCmd is the installer's command, without its program: install_input
// on its stdin, each output line shown.
func (s *upgradeMember) installCmd(e *steps.Env, hn string, argv []string) remote.Cmd {
	a := s.a
	return remote.Cmd{Program: argv[0], Args: argv[1:], Sudo: a.sudo(s.m), Stdin: strings.NewReader(a.installInput()), Timeout: a.InstallTimeout,
		OnLine: func(_, line string) { e.Output(hn, line) }}
}

// install stages the installer (again, if it is gone) and runs it as root
// (the administrator) in its staging directory, in the shell (PowerShell
// script) that checks its SHA-256 just before (remote.RunVerified); the
// staging directory is removed after.
func (s *upgradeMember) install(ctx context.Context, e *steps.Env, h *remote.Host, hn string) error {
	a, m := s.a, s.m
	sum, err := a.wantSum(e, hn)
	if err != nil {
		return err
	}
	dir, err := a.stage(ctx, e, h, m, sum)
	if err != nil {
		return err
	}
	pkg := a.stagedPath(m, dir)
	cmd := s.installCmd(e, hn, a.installArgv(m, pkg, dir))
	if _, ok := e.Fact(factInstallStarted(hn)); !ok {
		t, prec, err := remoteNow(ctx, h, m)
		if err != nil {
			return err
		}
		e.SetFact(factInstallStarted(hn), formatHostTime(t, prec))
	}
	markChanged(e, hn)
	r, err := h.RunVerified(ctx, pkg, sum, cmd)
	if errors.Is(err, remote.ErrNotVerified) {
		// Never install a file that changed: stage it again next time.
		if _, rerr := h.RemoveStageDir(context.WithoutCancel(ctx), dir, a.stagePrefix(m), a.sudo(m)); rerr != nil {
			return fmt.Errorf("%w; removing the staging directory: %v", err, rerr)
		}
		return fmt.Errorf("%w; nothing was installed and the staging directory was removed: `hawiz resume` stages the installer again", err)
	}
	if err := s.installerFailed(hn, r, err, dir); err != nil {
		return err
	}
	return a.removeStages(ctx, e, h, m, []string{dir}, "")
}

// installerFailed is nil when the installer ran and exited 0, else the
// error that tells how to finish by hand (dir: the staging directory).
func (s *upgradeMember) installerFailed(hn string, r remote.Result, err error, dir string) error {
	if err == nil {
		err = r.ExitError()
	}
	if err != nil {
		return fmt.Errorf("the installer failed on %s: %w\nIf it needs answers hawiz cannot give, %s, then run `hawiz resume`: the version on the host decides whether it is upgraded", hn, err, manualInstall(s.a, s.m, dir))
	}
	return nil
}

// ensureRunning: the installer starts Central again (C2 step 3). When it
// did not, hawiz starts it; when the process that runs is older than the
// install (the installer left the old daemon running), hawiz restarts it;
// then it waits for port 1231.
func (s *upgradeMember) ensureRunning(ctx context.Context, e *steps.Env, h *remote.Host, hn string) error {
	a, m := s.a, s.m
	active, err := isActive(ctx, &a.Common, h, m)
	if err != nil {
		return err
	}
	act := remote.ServiceStart
	if active {
		inst, ok, err := installStarted(e, hn)
		if err != nil {
			return err
		}
		since, found, err := startedAt(ctx, &a.Common, h, m)
		if err != nil {
			return err
		}
		if !ok || found && since.surelyAfter(inst) {
			act = ""
		} else {
			act = remote.ServiceRestart
			e.Output(hn, fmt.Sprintf("Central's %s process is not younger than the install (%s): restarting it so the new version runs", a.daemonProcess(m), inst))
		}
	} else {
		e.Output(hn, "Central is not running after the installer: starting it")
	}
	if act != "" {
		if _, err := service(ctx, &a.Common, h, m, act); err != nil {
			return err
		}
	}
	if !waitListening(ctx, &a.Common, h) {
		return fmt.Errorf("Central on %s did not listen on port %d within %v after the upgrade; see %s", hn, CentralPort, a.StartWait, logsDir(&a.Common, m))
	}
	return nil
}

// verify: the expected version, no staging directory left, Central running.
func (s *upgradeMember) verify(ctx context.Context, e *steps.Env, hn string) (string, error) {
	a, m := s.a, s.m
	h, err := e.Host(hn)
	if err != nil {
		return "", err
	}
	ok, ev, err := upgraded(ctx, a, h, m)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s still reports %s, not %s", hn, ev, a.Installer.ExpectedVersion)
	}
	dirs, err := s.leftovers(ctx, h)
	if err != nil {
		return "", err
	}
	if len(dirs) > 0 {
		return "", fmt.Errorf("%s: the staging directory %s is still there", hn, strings.Join(dirs, ", "))
	}
	run, rev, err := s.newDaemon(ctx, e, h, hn)
	if err == nil && !run {
		err = fmt.Errorf("%s reports %s on disk, but the running Central is not proven new: %s", hn, a.Installer.ExpectedVersion, rev)
	}
	before, _ := e.Fact(factVersionBefore(hn))
	return fmt.Sprintf("%s → %s; %s", before, a.Installer.ExpectedVersion, rev), err
}

func manualInstall(a *UpgradeAnswers, m *Member, dir string) string {
	if m.windows() {
		return fmt.Sprintf("on %s, in an administrator session, run %s by hand (the staging directory is SYSTEM's and Administrators' alone; hawiz removes it once the member runs %s)", m.Host.Name, a.stagedPath(m, dir), a.Installer.ExpectedVersion)
	}
	return fmt.Sprintf("on %s, as root: cd %s && tar -xzf %s && cd <the extracted directory> && ./install (the staging directory is root's alone; hawiz removes it once the member runs %s)",
		m.Host.Name, remote.ShQuote(dir), remote.ShQuote(a.installerName()), a.Installer.ExpectedVersion)
}
