package opsmanager

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// DocUpgrade is the page the upgrade follows (M16 steps; Upgrade Mode, M17).
const DocUpgrade = "https://www.mongodb.com/docs/ops-manager/current/tutorial/upgrade-ops-manager/"

// Step IDs of opsmanager-upgrade.
const (
	StepUpPreflight = "preflight-servers"
	StepUpPackage   = "check-upgrade-package"
	StepUpBackup    = "back-up-conf-and-gen-key"
	StepUpLocalKey  = "back-up-gen-key"
	StepUpEach      = "upgrade-each-server"
	StepUpDone      = "verify-upgrade-complete"
)

// UpgradeProcedure returns the opsmanager-upgrade procedure.
func UpgradeProcedure() *steps.Procedure {
	return &steps.Procedure{
		Name:        "opsmanager-upgrade",
		Title:       "MongoDB Ops Manager HA upgrade, one server at a time",
		Description: "Upgrade every Ops Manager Application server of an HA deployment one at a time (Upgrade Mode)",
		DocURL:      DocUpgrade,
		Version:     1,
		NewAnswers:  func() steps.Answers { return &UpgradeAnswers{} },
		Template:    TemplateUpgrade,
		Steps:       func(a steps.Answers) ([]*steps.Step, error) { return upgradeSteps(a.(*UpgradeAnswers)) },
	}
}

// TemplateUpgrade is printed by `hawiz answers opsmanager-upgrade`.
const TemplateUpgrade = `# hawiz answers: opsmanager-upgrade (one server at a time, Upgrade Mode)
ssh:
  user: admin
servers:                    # upgraded in this order
  - name: om1
    install: package
  - name: om2
    install: package
upgrade:
  package: ./mongodb-mms-8.0.1.500.20241029T1739Z.amd64.deb   # .deb, .rpm or .tar.gz
  version: 8.0.1.500.20241029T1739Z                          # as dpkg-query / rpm -q report it
  # sha256: <64 hex digits>
  # remote_dir: /var/tmp    # where the package's private staging directory is made (default /tmp)
gen_key_backup_to: ./gen.key.before-upgrade
# load_balancer: {url: http://opsmanager.example.net:8080}   # health through the LB at the end
# start_timeout: 10m
`

func upFact(host, k string) string { return "upgrade." + host + "." + k }

func upgradeSteps(a *UpgradeAnswers) ([]*steps.Step, error) {
	c := &a.Common
	names := c.serverNames()
	u := a.Upgrade
	var list []*steps.Step
	add := func(s *steps.Step) { list = append(list, s) }
	add(&steps.Step{
		ID:     StepUpPreflight,
		Title:  "Preflight: inventory every Application server",
		Why:    "all servers run one version (or the target, after an interrupted upgrade); upgrade only one at a time",
		DocRef: "procedures.md A.3; M17 (one host at a time), M18 (failed rolling upgrade)",
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) { return upgradePreflight(ctx, e, a) },
	})
	add(&steps.Step{
		ID:      StepUpPackage,
		Title:   "Download the new Ops Manager package",
		Why:     "the file hawiz uploads is checked by SHA-256 here and again on every server",
		DocRef:  "M16 (download step shared with M9/M10); M17 (follow the upgrade path, no downgrade)",
		Actions: []string{"SHA-256 of " + u.Package},
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			sum, size, err := fileSHA256(u.Package)
			if err != nil {
				return "", fmt.Errorf("upgrade.package: %w", err)
			}
			if u.SHA256 != "" && sum != u.SHA256 {
				return "", fmt.Errorf("upgrade.package %s has sha256 %s, not the %s given in upgrade.sha256", u.Package, sum, u.SHA256)
			}
			if old, ok := e.Fact("upgrade.package.sha256"); ok && old != sum {
				return "", &steps.RefusedError{Reason: fmt.Sprintf("upgrade.package changed since this upgrade began (sha256 %s, was %s)", short(sum), short(old))}
			}
			e.SetFact("upgrade.package.sha256", sum)
			return fmt.Sprintf("%s: %d bytes, sha256 %s", u.Package, size, sum), nil
		},
	})
	add(&steps.Step{
		ID:     StepUpBackup,
		Title:  "Back up conf-mms.properties and gen.key",
		Why:    "the docs warn that the upgrade process deletes existing data: keep both before upgrading",
		DocRef: "M17 (v3.6/v4.0: back up conf-mms.properties and gen.key); M14 (upgrades overwrite configuration files)",
		Hosts:  names,
		Mode:   steps.Parallel,
		Actions: []string{
			"cp -p conf-mms.properties and gen.key to *.hawiz-pre-upgrade on each server; record their SHA-256",
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			return upBackupCheck(ctx, e, c, host)
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error { return upBackupApply(ctx, e, c, host) },
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			return upBackupVerify(ctx, e, c, host)
		},
	})
	add(&steps.Step{
		ID:     StepUpLocalKey,
		Title:  "Back up the gen.key file to a secure location",
		Why:    "a copy off the servers, in case the upgrade loses the key",
		DocRef: "M17; M1 gen.key",
		Check: func(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
			return backupCheck(ctx, e, c, a.GenKeyBackup)
		},
		Apply: func(ctx context.Context, e *steps.Env, _ string) error { return backupApply(ctx, e, c, a.GenKeyBackup) },
	})
	add(&steps.Step{
		ID:     StepUpEach,
		Title:  "Upgrade each Application server, one at a time",
		Why:    "stop it, install the new version, start it, check it; the deployment is in Upgrade Mode (read-only UI) until the last server is done",
		DocRef: "M16 steps 1-3 and 6; M17 (Upgrade Mode, one host at a time)",
		Hosts:  names,
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
	})
	add(&steps.Step{
		ID:     StepUpDone,
		Title:  "Every server runs the new version: Upgrade Mode ends",
		Why:    "Ops Manager leaves Upgrade Mode once every server is upgraded and restarted; then update the agents in the UI",
		DocRef: "M17; M16 step 5 (Update Software Components)",
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) { return upDone(ctx, e, a) },
	})
	return list, nil
}

func installDescription(p string) string {
	switch packageKind(p) {
	case "deb":
		return "sudo dpkg --force-confold -i (keeps conf-mms.properties)"
	case "rpm":
		return "sudo rpm -U"
	}
	return "extract next to the current directory, copy conf/, repoint the install_dir symlink"
}

func fileSHA256(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func upgradePreflight(ctx context.Context, e *steps.Env, a *UpgradeAnswers) (string, error) {
	c := &a.Common
	target := a.Upgrade.Version
	vs := make([]string, len(c.Servers))
	lines, err := forEachServer(ctx, c.serverNames(), func(ctx context.Context, name string) (string, error) {
		l, err := resolveLayout(ctx, e, c, name)
		if err != nil {
			return "", err
		}
		h := e.Host(name)
		v, err := installedVersion(ctx, h, l)
		if err != nil {
			return "", err
		}
		vs[indexOf(c.serverNames(), name)] = v
		if !versionMatches(v, target) {
			// Where the package will be staged: checked before anything is written.
			if err := h.CheckStageParent(ctx, a.Upgrade.RemoteDir, l.Sudo); errors.Is(err, remote.ErrUnsafeParent) {
				return "", fmt.Errorf("upgrade.remote_dir %s on %s: %w; choose a directory that only root (and the SSH user) can change, such as /tmp or /var/tmp", a.Upgrade.RemoteDir, name, err)
			} else if err != nil {
				return "", err
			}
		}
		if _, ok := e.Fact(upFact(name, "from")); !ok {
			e.SetFact(upFact(name, "from"), v)
		}
		if l.Install == InstallTar {
			res, err := h.Run(ctx, remote.Cmd{Program: "test", Args: []string{"-L", l.InstallDir}, Timeout: time.Minute})
			if err != nil {
				return "", err
			}
			if res.ExitStatus != 0 && !versionMatches(v, target) {
				return "", fmt.Errorf("%s: install_dir %s is not a symlink; hawiz upgrades a tar install by extracting the new archive next to it and repointing that symlink", name, l.InstallDir)
			}
		}
		fi, err := h.Stat(ctx, l.GenKey, l.Sudo)
		if err != nil {
			return "", err
		}
		if !fi.Exists {
			return "", fmt.Errorf("%s: no gen.key at %s: nothing to preserve (is this server set up?)", name, l.GenKey)
		}
		up, ev, err := serverUp(ctx, e, c, h, l)
		if err != nil {
			return "", err
		}
		if !up && !versionMatches(v, target) {
			e.Warn(name, "%s", ev)
		}
		from, _ := e.Fact(upFact(name, "from"))
		return fmt.Sprintf("%s: Ops Manager %s (before the upgrade: %s), target %s; %s", name, v, from, target, ev), nil
	})
	if err != nil {
		return "", err
	}
	old := ""
	for i, v := range vs {
		if versionMatches(v, target) {
			continue
		}
		if d, ok := steps.CompareVersions(v, target); ok && d > 0 {
			return "", fmt.Errorf("%s runs Ops Manager %s, newer than upgrade.version %s: there is no downgrade path (M17); nothing was changed", c.Servers[i].Name, v, target)
		}
		if old == "" {
			old = v
		} else if v != old {
			return "", fmt.Errorf("%s runs %s and another server %s: more than one old version; bring them to one version first (M18)", c.Servers[i].Name, v, old)
		}
	}
	if old == "" {
		lines = append(lines, "every server already runs "+target)
	}
	return strings.Join(lines, "\n"), nil
}

func upBackupPaths(l layout) (string, string) {
	return l.Conf + ".hawiz-pre-upgrade", l.GenKey + ".hawiz-pre-upgrade"
}

func upBackupCheck(ctx context.Context, e *steps.Env, c *Common, host string) (bool, string, error) {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return false, "", err
	}
	bc, bk := upBackupPaths(l)
	h := e.Host(host)
	cs, ok1 := e.Fact(upFact(host, "conf_sha256"))
	ks, ok2 := e.Fact(upFact(host, "gen_key_sha256"))
	if !ok1 || !ok2 {
		// A new run: backups from an earlier run count when they hold
		// exactly the current files (nothing changed since).
		same := true
		var sums [2]string
		for i, p := range [][2]string{{l.Conf, bc}, {l.GenKey, bk}} {
			a, err := h.Stat(ctx, p[0], l.Sudo)
			if err != nil {
				return false, "", err
			}
			b, err := h.Stat(ctx, p[1], l.Sudo)
			if err != nil {
				return false, "", err
			}
			same = same && a.Exists && b.Exists && a.SHA256 == b.SHA256
			sums[i] = a.SHA256
		}
		if !same {
			return false, host + ": no backup recorded yet", nil
		}
		e.SetFact(upFact(host, "conf_sha256"), sums[0])
		e.SetFact(upFact(host, "gen_key_sha256"), sums[1])
		cs, ks = sums[0], sums[1]
	}
	fc, err := h.Stat(ctx, bc, l.Sudo)
	if err != nil {
		return false, "", err
	}
	fk, err := h.Stat(ctx, bk, l.Sudo)
	if err != nil {
		return false, "", err
	}
	ok := fc.SHA256 == cs && fk.SHA256 == ks
	return ok, fmt.Sprintf("%s: %s sha256 %s; %s sha256 %s", host, bc, short(fc.SHA256), bk, short(fk.SHA256)), nil
}

func upBackupApply(ctx context.Context, e *steps.Env, c *Common, host string) error {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return err
	}
	h := e.Host(host)
	// Record the pre-upgrade hashes once: a resumed run must compare with
	// what was there before any server was touched.
	for _, f := range []struct{ key, path string }{{"conf_sha256", l.Conf}, {"gen_key_sha256", l.GenKey}} {
		if _, ok := e.Fact(upFact(host, f.key)); ok {
			continue
		}
		fi, err := h.Stat(ctx, f.path, l.Sudo)
		if err != nil {
			return err
		}
		if !fi.Exists {
			return fmt.Errorf("%s: %s does not exist", host, f.path)
		}
		e.SetFact(upFact(host, f.key), fi.SHA256)
	}
	bc, bk := upBackupPaths(l)
	for _, p := range [][2]string{{l.Conf, bc}, {l.GenKey, bk}} {
		res, err := h.Run(ctx, remote.Cmd{Program: "cp", Args: []string{"-p", p[0], p[1]}, Sudo: l.Sudo, Timeout: time.Minute})
		if err != nil {
			return err
		}
		if res.ExitStatus != 0 {
			return fmt.Errorf("%s: cp -p %s %s: %s", host, p[0], p[1], strings.TrimSpace(string(res.Stderr)))
		}
	}
	return nil
}

func upBackupVerify(ctx context.Context, e *steps.Env, c *Common, host string) (string, error) {
	ok, ev, err := upBackupCheck(ctx, e, c, host)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("backup copies do not match the recorded files: %s", ev)
	}
	return ev, nil
}

// upCheck: done when the server runs the target version, is healthy, and
// its conf-mms.properties and gen.key are the pre-upgrade ones.
func upCheck(ctx context.Context, e *steps.Env, a *UpgradeAnswers, host string) (bool, string, error) {
	c := &a.Common
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return false, "", err
	}
	h := e.Host(host)
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
	same, kev, err := filesUnchanged(ctx, e, c, host, l)
	if err != nil || !same {
		return false, kev, err
	}
	if left, err := stagesLeft(ctx, a, h, l); err != nil || len(left) > 0 {
		return false, fmt.Sprintf("%s: Ops Manager %s; %s; %s; the staging directory %s is still there (a run stopped before removing it)", host, v, ev, kev, strings.Join(left, ", ")), err
	}
	return true, fmt.Sprintf("%s: Ops Manager %s; %s; %s", host, v, ev, kev), nil
}

// stagePrefix names host's staging directories (remote.MakeStageDir):
// PREFIX.XXXXXXXXXX under upgrade.remote_dir, made by root, mode 0700,
// holding the uploaded package until it is installed. Each server has its
// own prefix: servers that share remote_dir (a shared file system) never
// remove each other's.
func stagePrefix(host string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return "hawiz-stage-opsmanager-upgrade-" + b.String()
}

// stagesLeft lists the server's staging directories: install removes its
// own when it ends, but a run killed between the upload and that removal
// leaves one (hundreds of MB, root's alone), whether it installed or not.
func stagesLeft(ctx context.Context, a *UpgradeAnswers, h *remote.Host, l layout) ([]string, error) {
	return h.StageDirs(ctx, a.Upgrade.RemoteDir, stagePrefix(h.Name()), l.Sudo)
}

// removeStages removes the staging directories dirs, saying so.
func removeStages(ctx context.Context, e *steps.Env, h *remote.Host, l layout, dirs []string, why string) error {
	for _, d := range dirs {
		ok, err := h.RemoveStageDir(ctx, d, stagePrefix(h.Name()), l.Sudo)
		if err != nil {
			return err
		}
		if ok && why != "" {
			e.Output(h.Name(), "removed "+d+", "+why)
		}
	}
	return nil
}

func filesUnchanged(ctx context.Context, e *steps.Env, c *Common, host string, l layout) (bool, string, error) {
	h := e.Host(host)
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

func upApply(ctx context.Context, e *steps.Env, a *UpgradeAnswers, host string) error {
	c := &a.Common
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return err
	}
	h := e.Host(host)
	names := c.serverNames()
	i := indexOf(names, host)
	e.Output(host, fmt.Sprintf("Upgrade Mode: after the first server is upgraded Ops Manager is read-only (alerts and monitoring continue) until every server runs %s; this is server %d of %d (M17)", a.Upgrade.Version, i+1, len(names)))
	v, err := installedVersion(ctx, h, l)
	if err != nil {
		return err
	}
	complete, st, err := packageComplete(ctx, h, l)
	if err != nil {
		return err
	}
	if !complete {
		e.Warn(host, "mongodb-mms %s is %q: an install was interrupted; installing the package again to finish it", v, st)
	}
	if !versionMatches(v, a.Upgrade.Version) || !complete {
		// The package is staged before the server is stopped: a failed
		// upload leaves it running.
		pkg, err := stagePackage(ctx, e, a, host, l)
		if err != nil {
			return err
		}
		// A run killed before this: upCheck finds the directory, upApply or the next staging removes it.
		defer removeStages(context.WithoutCancel(ctx), e, h, l, []string{path.Dir(pkg)}, "")
		// M16 step 1: stop the instance.
		if res, err := service(ctx, e, h, l, "stop", c.StartTimeout); err != nil {
			return err
		} else if res.ExitStatus != 0 {
			return fmt.Errorf("%s failed (exit %d): %s", l.describe("stop"), res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
		}
		// M16 step 2: install the new package or archive.
		if err := install(ctx, e, a, host, l, pkg); err != nil {
			return err
		}
		if v, err = installedVersion(ctx, h, l); err != nil {
			return err
		}
		if !versionMatches(v, a.Upgrade.Version) {
			return fmt.Errorf("%s: after installing %s the version is %s, not %s (upgrade.version)", host, path.Base(a.Upgrade.Package), v, a.Upgrade.Version)
		}
		e.SetFact(upFact(host, "installed"), v)
	} else if left, err := stagesLeft(ctx, a, h, l); err != nil {
		return err
	} else if err := removeStages(ctx, e, h, l, left, "left by an interrupted run after it installed the package"); err != nil {
		// Installed by a run stopped before it removed the staging directory.
		return err
	}
	// The upgrade must not have changed the configuration or the key (M17, M14).
	if err := restoreIfChanged(ctx, e, c, host, l); err != nil {
		return err
	}
	// M16 step 3: start the upgraded instance.
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
	e.Output(host, ev)
	return nil
}

func restoreIfChanged(ctx context.Context, e *steps.Env, c *Common, host string, l layout) error {
	h := e.Host(host)
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
		e.Warn(host, "the upgrade changed %s: restored the pre-upgrade copy (M14: upgrades overwrite configuration files)", f.path)
	}
	return nil
}

// stagePackage uploads the package into a new staging directory (mktemp
// -d by root under upgrade.remote_dir, mode 0700: no other user can read or
// replace it) and returns the package's path there. Staging directories a
// killed run left are removed first.
func stagePackage(ctx context.Context, e *steps.Env, a *UpgradeAnswers, host string, l layout) (string, error) {
	h := e.Host(host)
	want, _ := e.Fact("upgrade.package.sha256")
	left, err := stagesLeft(ctx, a, h, l)
	if err != nil {
		return "", err
	}
	if err := removeStages(ctx, e, h, l, left, "left by an interrupted run"); err != nil {
		return "", err
	}
	dir, err := h.MakeStageDir(ctx, a.Upgrade.RemoteDir, stagePrefix(host), l.Sudo)
	if errors.Is(err, remote.ErrUnsafeParent) {
		return "", fmt.Errorf("upgrade.remote_dir %s on %s: %w; choose a directory that only root (and the SSH user) can change, such as /tmp or /var/tmp", a.Upgrade.RemoteDir, host, err)
	}
	if err != nil {
		return "", err
	}
	pkg := path.Join(dir, filepath.Base(a.Upgrade.Package))
	sum, err := h.Upload(ctx, a.Upgrade.Package, pkg, remote.WriteOptions{Mode: 0o600, Sudo: l.Sudo}, nil)
	if err == nil && sum != want {
		err = fmt.Errorf("%s: uploaded package has sha256 %s, expected %s", host, sum, want)
	}
	if err != nil {
		removeStages(context.WithoutCancel(ctx), e, h, l, []string{dir}, "")
		return "", err
	}
	return pkg, nil
}

// install installs the staged package pkg with remote.RunVerified: the root
// shell that runs dpkg, rpm or tar checks the package's SHA-256 first.
func install(ctx context.Context, e *steps.Env, a *UpgradeAnswers, host string, l layout, pkg string) error {
	h := e.Host(host)
	want, _ := e.Fact("upgrade.package.sha256")
	kind := packageKind(a.Upgrade.Package)
	var argv []string
	env := map[string]string{}
	switch kind {
	case "deb":
		argv = []string{"dpkg", "--force-confold", "-i", pkg}
		env["DEBIAN_FRONTEND"] = "noninteractive"
	case "rpm":
		argv = []string{"rpm", "-U", pkg}
	default:
		return installTar(ctx, e, host, l, pkg, want)
	}
	res, err := h.RunVerified(ctx, pkg, want, remote.Cmd{Program: argv[0], Args: argv[1:], Sudo: l.Sudo, Env: env, Timeout: 30 * time.Minute,
		OnLine: func(_, line string) { e.Output(host, line) }})
	if err != nil {
		return err
	}
	if res.ExitStatus != 0 {
		return fmt.Errorf("%s: %s (exit %d): %s", host, strings.Join(argv, " "), res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
	}
	return nil
}

// installTar extracts the archive next to the current version's directory,
// copies conf-mms.properties and mms.conf into it and repoints the
// install_dir symlink [derived: M10 documents the archive layout only]. The
// extraction checks the archive's SHA-256 (sum) in the same root shell.
func installTar(ctx context.Context, e *steps.Env, host string, l layout, archive, sum string) error {
	h := e.Host(host)
	check := func(argv []string, res remote.Result, err error) (string, error) {
		if err != nil {
			return "", err
		}
		if res.ExitStatus != 0 {
			return "", fmt.Errorf("%s: %s (exit %d): %s", host, strings.Join(argv, " "), res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
		}
		return strings.TrimSpace(string(res.Stdout)), nil
	}
	run := func(argv ...string) (string, error) {
		res, err := h.Run(ctx, remote.Cmd{Program: argv[0], Args: argv[1:], Sudo: l.Sudo, Timeout: 10 * time.Minute})
		return check(argv, res, err)
	}
	cur, err := run("readlink", "-f", l.InstallDir)
	if err != nil {
		return err
	}
	list, err := run("tar", "-tzf", archive)
	if err != nil {
		return err
	}
	top := strings.SplitN(strings.SplitN(list, "\n", 2)[0], "/", 2)[0]
	if top == "" || top == "." || top == ".." || strings.ContainsAny(top, " \t") {
		return fmt.Errorf("%s: cannot tell the archive's top directory (%q)", host, top)
	}
	parent := filepath.Dir(cur)
	next := path.Join(parent, top)
	if next == cur {
		return fmt.Errorf("%s: the archive extracts to the current directory %s", host, cur)
	}
	x := []string{"tar", "-xzf", archive, "-C", parent}
	res, err := h.RunVerified(ctx, archive, sum, remote.Cmd{Program: x[0], Args: x[1:], Sudo: l.Sudo, Timeout: 10 * time.Minute})
	if _, err := check(x, res, err); err != nil {
		return err
	}
	for _, f := range []string{"conf/conf-mms.properties", "conf/mms.conf", "conf/conf-mms.properties.hawiz-pre-upgrade"} {
		if _, err := run("cp", "-p", path.Join(cur, f), path.Join(next, f)); err != nil {
			return err
		}
	}
	if _, err := run("ln", "-sfn", next, l.InstallDir); err != nil {
		return err
	}
	e.Output(host, fmt.Sprintf("%s now points at %s (was %s)", l.InstallDir, next, cur))
	return nil
}

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

func upDone(ctx context.Context, e *steps.Env, a *UpgradeAnswers) (string, error) {
	c := &a.Common
	lines, err := forEachServer(ctx, c.serverNames(), func(ctx context.Context, name string) (string, error) {
		ok, ev, err := upCheck(ctx, e, a, name)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", errors.New(ev)
		}
		return ev, nil
	})
	if err != nil {
		return "", err
	}
	if a.LoadBalancer != nil {
		p, err := lbGet(ctx, a.LoadBalancer.URL+HealthPath)
		if err != nil {
			return "", err
		}
		if p.Status != 200 {
			return "", fmt.Errorf("GET %s%s through the LB: %d", a.LoadBalancer.URL, HealthPath, p.Status)
		}
		lines = append(lines, "LB "+a.LoadBalancer.URL+HealthPath+": 200")
	}
	lines = append(lines, fmt.Sprintf("every server runs %s: Ops Manager leaves Upgrade Mode. Next: log in, and when the banner says \"One or more agents are out of date\", click Update Software Components (M16 step 5)", a.Upgrade.Version))
	return strings.Join(lines, "\n"), nil
}
