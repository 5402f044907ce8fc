package micetro

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
	"sync"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

const (
	upgradeDocURL = "https://docs.menandmice.com/en/10.1/guides/implementation/central_ha.html#update-central-ha"
	docUpgrade    = "C2 central_ha.rst (10.1), Updating Central in High Availability setup"
)

// CentralUpgrade is the procedure micetro-central-upgrade.
func CentralUpgrade() *steps.Procedure {
	return &steps.Procedure{
		Name:        "micetro-central-upgrade",
		Title:       "Update Micetro Central in a High Availability setup",
		Description: "Update Central in HA: stop the secondaries, upgrade the primary, then each secondary, with an installer",
		DocURL:      upgradeDocURL,
		Version:     1,
		NewAnswers:  func() steps.Answers { return &UpgradeAnswers{} },
		Template:    upgradeTemplate,
		Steps:       func(a steps.Answers) ([]*steps.Step, error) { return upgradeSteps(a.(*UpgradeAnswers)) },
	}
}

// installerName is the installer's file name.
func (a *UpgradeAnswers) installerName() string {
	if a.Installer.Remote != "" {
		return path.Base(a.Installer.Remote)
	}
	return filepath.Base(a.Installer.Local)
}

// installerPath is where the installer is on a Windows member (uploaded
// there, or installer.remote), and on a Linux member the installer.remote
// it is copied from. A Linux member installs from a copy in a staging
// directory (stageDir).
func (a *UpgradeAnswers) installerPath(m *Member) string {
	if a.Installer.Remote != "" {
		return a.Installer.Remote
	}
	return joinDir(m, a.uploadDir(m), a.installerName())
}

// DefaultWindowsUploadDir is where an uploaded installer goes on Windows
// members unless members[i].upload_dir says otherwise.
const DefaultWindowsUploadDir = `C:\Windows\Temp`

// uploadDir is where an uploaded installer goes on m: the member's own
// upload_dir, else the top-level one (Linux members), else the default. On
// a Linux member it is the parent of the installer's staging directory.
func (a *UpgradeAnswers) uploadDir(m *Member) string {
	switch {
	case m.UploadDir != "":
		return m.UploadDir
	case m.windows():
		return DefaultWindowsUploadDir
	}
	return a.UploadDir
}

// joinDir joins a directory and a file name with m's separator.
func joinDir(m *Member, dir, name string) string {
	if m.windows() {
		return strings.TrimRight(dir, `\/`) + `\` + name
	}
	return path.Join(dir, name)
}

// stagePrefix names m's staging directories (remote.MakeStageDir):
// PREFIX.XXXXXXXXXX under m's upload directory, made by root, mode 0700.
// Each member has its own prefix, so members that share an upload_dir
// (a shared file system) never take or remove each other's.
func (a *UpgradeAnswers) stagePrefix(m *Member) string {
	seen := map[string]bool{}
	for i := range a.Members {
		s := slug(a.Members[i].Name)
		if s == "" || seen[s] {
			s = fmt.Sprintf("member-%d", i+1)
		}
		seen[s] = true
		if &a.Members[i] == m {
			return "hawiz-stage-micetro-upgrade-" + s
		}
	}
	return "hawiz-stage-micetro-upgrade"
}

// uploadTarget is where the installer goes on m, as the plan shows it.
func (a *UpgradeAnswers) uploadTarget(m *Member) string {
	if m.windows() {
		return a.installerPath(m)
	}
	return path.Join(a.uploadDir(m), a.stagePrefix(m)+".XXXXXXXXXX", a.installerName())
}

// uploadTargets is the upload step's action: where the installer goes on
// every member, each member named when they differ, and which answer set a
// directory other than the default (the plan says so).
func (a *UpgradeAnswers) uploadTargets() string {
	first := &a.Members[0]
	same := true
	for i := range a.Members {
		m := &a.Members[i]
		if m.UploadDir != "" || a.uploadDir(m) != a.uploadDir(first) || m.windows() != first.windows() {
			same = false
		}
	}
	if same {
		s := a.uploadTarget(first) + " on every member"
		if !first.windows() { // the member's name in each directory's
			s = path.Join(a.uploadDir(first), "hawiz-stage-micetro-upgrade-MEMBER.XXXXXXXXXX", a.installerName()) + " on every member"
		}
		if !first.windows() && a.UploadDir != DefaultUploadDir {
			s += " (upload_dir, not the default " + DefaultUploadDir + ")"
		}
		return s
	}
	var parts []string
	for i := range a.Members {
		m := &a.Members[i]
		s := a.uploadTarget(m) + " on " + m.Host.Name
		switch {
		case m.UploadDir != "" && m.UploadDir != a.defaultUploadDir(m):
			s += fmt.Sprintf(" (members[%d].upload_dir, not the default %s)", i, a.defaultUploadDir(m))
		case m.UploadDir == "" && !m.windows() && a.UploadDir != DefaultUploadDir:
			s += " (upload_dir, not the default " + DefaultUploadDir + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func (a *UpgradeAnswers) defaultUploadDir(m *Member) string {
	if m.windows() {
		return DefaultWindowsUploadDir
	}
	return DefaultUploadDir
}

// installScript extracts a .tgz into a fresh directory inside the staging
// directory and runs the ./install it holds (B.7). It is a constant: the
// paths travel as positional parameters, never inside the script. It runs
// as root through remote.RunVerified, which has checked the installer's
// SHA-256 in the same process just before.
const installScript = `set -e
pkg=$1 dir=$2
x=$dir/extract
rm -rf -- "$x"
mkdir -- "$x"
tar -xzf "$pkg" -C "$x"
cd "$x"
for f in install */install; do
	if [ -f "$f" ]; then
		cd "$(dirname "$f")"
		exec sh ./install
	fi
done
echo "hawiz: no install script in $pkg" >&2
exit 1
`

// installArgv is the command that upgrades m with the installer at inst,
// in the directory dir (on Linux: the staging directory).
func (a *UpgradeAnswers) installArgv(m *Member, inst, dir string) []string {
	if len(a.InstallCommand) > 0 {
		out := make([]string, len(a.InstallCommand))
		for i, s := range a.InstallCommand {
			out[i] = strings.NewReplacer("{installer}", inst, "{dir}", dir).Replace(s)
		}
		return out
	}
	return []string{"sh", "-c", installScript, "hawiz-install", inst, dir}
}

func (a *UpgradeAnswers) installInput() string {
	in := a.InstallInput
	if len(in) == 0 {
		in = make([]string, 8) // accept every default
	}
	return strings.Join(in, "\n") + "\n"
}

func localSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func upgradeSteps(a *UpgradeAnswers) ([]*steps.Step, error) {
	list := []*steps.Step{upgradePreflightStep(a)}
	if a.Installer.Local != "" {
		list = append(list, uploadStep(a))
	} else {
		list = append(list, remoteInstallerStep(a))
	}
	list = append(list, stopSecondariesStep(a))
	seen := map[string]bool{}
	for i := range a.Members {
		id := "upgrade-primary"
		if i > 0 {
			s := slug(a.Members[i].Name)
			if s == "" || seen[s] {
				s = fmt.Sprintf("member-%d", i+1)
			}
			seen[s] = true
			id = "upgrade-" + s
		}
		list = append(list, upgradeHostStep(a, i, id))
	}
	list = append(list, haStatesStep(a))
	return list, steps.Lint(list, steps.HostNames(a))
}

func factVersionBefore(h string) string { return "version-before." + h }

// factUpgradedBefore: every member already ran the expected version when
// this run started (set once, in preflight).
const factUpgradedBefore = "all-upgraded-before-run"

func upgradePreflightStep(a *UpgradeAnswers) *steps.Step {
	run := func(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
		if f := e.Fleet(); f != nil && a.SSH.Sudo != steps.SudoNone {
			if err := f.CheckSudo(ctx); err != nil {
				return false, "", err
			}
		}
		vers := make([]string, len(a.Members))
		errs := make([]error, len(a.Members))
		var wg sync.WaitGroup
		for i := range a.Members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := &a.Members[i]
				h, err := host(e, m.Host.Name)
				if err == nil {
					vers[i], err = centralVersion(ctx, &a.Common, h, m)
				}
				if err == nil && !m.windows() && vers[i] != a.Installer.ExpectedVersion {
					// Where the installer will be staged: checked before anything is written.
					err = h.CheckStageParent(ctx, a.uploadDir(m), a.sudo(m))
					if errors.Is(err, remote.ErrUnsafeParent) {
						err = a.unsafeUploadDir(m, err)
					}
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return false, "", err
		}
		for i, m := range a.Members {
			if d, ok := steps.CompareVersions(vers[i], a.Installer.ExpectedVersion); ok && d > 0 {
				return false, "", fmt.Errorf("%s runs Central %s, newer than installer.expected_version %s: hawiz does not downgrade (an older Central on a newer database); nothing was changed", m.Host.Name, vers[i], a.Installer.ExpectedVersion)
			}
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
		return true, "Central versions: " + strings.Join(ev, ", ") + "; target " + a.Installer.ExpectedVersion, nil
	}
	return &steps.Step{
		ID:     "preflight",
		Title:  "Preflight: every member reachable, sudo works, Central version read on each",
		Why:    "the Automatic Update feature cannot be used while Central is in High Availability; each member is upgraded by hand with an installer, and the version on each host decides what is left to do",
		DocRef: docUpgrade + " (warning)",
		Mode:   steps.Once,
		Actions: append([]string{"check sudo on every member", "read the Central version on every member (" +
			strings.Join(a.versionCommand(&a.Members[0]), " ") + ")",
			"on every Linux member still to upgrade: its upload directory and every directory above it are root's or the SSH user's and not writable by others (unless sticky, as /tmp)"}, a.pathNotes()...),
		Check: run,
		Verify: func(ctx context.Context, e *steps.Env, h string) (string, error) {
			_, ev, err := run(ctx, e, h)
			return ev, err
		},
		After: []string{},
	}
}

// localSum is the SHA-256 of installer.local, which must be installer.sha256
// when that is set.
func (a *UpgradeAnswers) localSum() (string, error) {
	sum, err := localSHA256(a.Installer.Local)
	if err != nil {
		return "", err
	}
	if a.Installer.SHA256 != "" && sum != a.Installer.SHA256 {
		return "", fmt.Errorf("installer.local %s has SHA-256 %s, not installer.sha256 %s: a different or damaged file", a.Installer.Local, sum, a.Installer.SHA256)
	}
	return sum, nil
}

// factRemoteSHA256 holds the SHA-256 check-installer found for
// installer.remote on a host, the first time in this run.
func factRemoteSHA256(host string) string { return "installer.remote.sha256." + host }

// wantSum is the SHA-256 the installer must have on hn when it is
// installed: installer.local's, else installer.sha256, else the one
// check-installer found on hn first in this run.
func (a *UpgradeAnswers) wantSum(e *steps.Env, hn string) (string, error) {
	switch {
	case a.Installer.Local != "":
		return a.localSum()
	case a.Installer.SHA256 != "":
		return a.Installer.SHA256, nil
	}
	if v, ok := e.Fact(factRemoteSHA256(hn)); ok {
		return v, nil
	}
	return "", fmt.Errorf("no SHA-256 recorded for installer.remote %s on %s (step check-installer records it)", a.Installer.Remote, hn)
}

// uploadDirField names the answer that sets m's upload directory.
func (a *UpgradeAnswers) uploadDirField(m *Member) string {
	if i, _ := a.memberByHost(m.Host.Name); m.UploadDir != "" {
		return fmt.Sprintf("members[%d].upload_dir", i)
	}
	return "upload_dir"
}

func (a *UpgradeAnswers) unsafeUploadDir(m *Member, err error) error {
	return fmt.Errorf("%s %s on %s: %w; choose a directory that only root (and the SSH user) can change, such as /tmp or /var/tmp", a.uploadDirField(m), a.uploadDir(m), m.Host.Name, err)
}

// findStage lists m's staging directories and tells which one holds the
// installer with SHA-256 sum ("" when none does; sum "" matches none).
func (a *UpgradeAnswers) findStage(ctx context.Context, h *remote.Host, m *Member, sum string) (string, []string, error) {
	dirs, err := h.StageDirs(ctx, a.uploadDir(m), a.stagePrefix(m), a.sudo(m))
	if err != nil || sum == "" {
		return "", dirs, err
	}
	for _, d := range dirs {
		fi, err := h.Stat(ctx, path.Join(d, a.installerName()), a.sudo(m))
		if err != nil {
			return "", nil, err
		}
		if fi.Exists && fi.Mode.IsRegular() && fi.SHA256 == sum {
			return d, dirs, nil
		}
	}
	return "", dirs, nil
}

// removeStages removes m's staging directories dirs but keep.
func (a *UpgradeAnswers) removeStages(ctx context.Context, e *steps.Env, h *remote.Host, m *Member, dirs []string, keep string) error {
	for _, d := range dirs {
		if d == keep {
			continue
		}
		ok, err := h.RemoveStageDir(ctx, d, a.stagePrefix(m), a.sudo(m))
		if err != nil {
			return err
		}
		if ok {
			e.Output(m.Host.Name, "removed the staging directory "+d)
		}
	}
	return nil
}

// stage puts the installer with SHA-256 sum into a staging directory on
// the Linux member m and returns that directory: the one that already
// holds it, else a new one (remote.MakeStageDir: mktemp -d as root under
// the upload directory, mode 0700) that the installer is uploaded into, or
// installer.remote copied into, as root. Any other staging directory of
// m's (an interrupted upload) is removed.
func (a *UpgradeAnswers) stage(ctx context.Context, e *steps.Env, h *remote.Host, m *Member, sum string) (string, error) {
	dir, dirs, err := a.findStage(ctx, h, m, sum)
	if err != nil {
		return "", err
	}
	if dir == "" {
		dir, err = h.MakeStageDir(ctx, a.uploadDir(m), a.stagePrefix(m), a.sudo(m))
		if errors.Is(err, remote.ErrUnsafeParent) {
			return "", a.unsafeUploadDir(m, err)
		}
		if err != nil {
			return "", err
		}
		pkg := path.Join(dir, a.installerName())
		if a.Installer.Local != "" {
			err = a.upload(ctx, e, h, m, pkg, a.sudo(m))
		} else {
			var r remote.Result
			r, err = h.Run(ctx, remote.Cmd{Program: "cp", Args: []string{"--", a.Installer.Remote, pkg}, Sudo: a.sudo(m), Timeout: a.InstallTimeout})
			if err == nil && r.ExitStatus != 0 {
				err = fmt.Errorf("%s: copying installer.remote %s into %s: %w", m.Host.Name, a.Installer.Remote, dir, r.ExitError())
			}
		}
		if err != nil {
			return "", err
		}
	}
	return dir, a.removeStages(ctx, e, h, m, dirs, dir)
}

// upload sends installer.local to dst on m, reporting progress.
func (a *UpgradeAnswers) upload(ctx context.Context, e *steps.Env, h *remote.Host, m *Member, dst string, sudo bool) error {
	last := -1
	hn := m.Host.Name
	_, err := h.Upload(ctx, a.Installer.Local, dst, remote.WriteOptions{Mode: 0o600, Sudo: sudo}, func(done, total int64) {
		if total <= 0 {
			return
		}
		pct := int(done * 100 / total)
		if pct/10 != last/10 || done == total {
			last = pct
			e.Output(hn, fmt.Sprintf("upload %s: %d%% (%d of %d bytes)", filepath.Base(a.Installer.Local), pct, done, total))
		}
	})
	return err
}

func uploadStep(a *UpgradeAnswers) *steps.Step {
	check := func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
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
	return &steps.Step{
		ID:     "upload-installer",
		Title:  "Copy the installer to every member",
		Why:    "each member is upgraded manually using an installer",
		DocRef: docUpgrade + " steps 2–3; C6 binaries.rst, install_central.rst",
		Hosts:  steps.HostNames(a),
		Mode:   steps.Parallel,
		Actions: []string{fmt.Sprintf("upload %s to %s, SHA-256 checked on arrival", a.Installer.Local, a.uploadTargets()),
			"on Linux members, into a new directory made by root with mktemp -d (mode 0700: no other user can read or replace the installer), uploaded as root; a member that already runs " + a.Installer.ExpectedVersion + " gets nothing"},
		Check: check,
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
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
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			ok, ev, err := check(ctx, e, hn)
			if err == nil && !ok {
				err = fmt.Errorf("%s: %s", hn, ev)
			}
			return ev, err
		},
	}
}

func remoteInstallerStep(a *UpgradeAnswers) *steps.Step {
	check := func(ctx context.Context, e *steps.Env, hn string) (string, error) {
		h, err := host(e, hn)
		if err != nil {
			return "", err
		}
		_, m := a.memberByHost(hn)
		info, err := h.Stat(ctx, a.installerPath(m), c(a).sudo(m))
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
		ID:      "check-installer",
		Title:   "Check the installer on every member",
		Why:     "each member is upgraded manually using an installer",
		DocRef:  docUpgrade + " steps 2–3",
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

func c(a *UpgradeAnswers) *Common { return &a.Common }

// upgraded reports whether m already runs the expected version.
func upgraded(ctx context.Context, a *UpgradeAnswers, h *remote.Host, m *Member) (bool, string, error) {
	v, err := centralVersion(ctx, &a.Common, h, m)
	if err != nil {
		return false, "", err
	}
	if v == a.Installer.ExpectedVersion {
		return true, "Central " + v + " (upgraded)", nil
	}
	return false, "Central " + v, nil
}

func stopSecondariesStep(a *UpgradeAnswers) *steps.Step {
	var hosts []string
	for _, m := range a.Members[1:] {
		hosts = append(hosts, m.Host.Name)
	}
	var acts []string
	for i := 1; i < len(a.Members); i++ {
		acts = append(acts, stopCommand(&a.Common, &a.Members[i])+" on "+a.Members[i].Host.Name)
	}
	return &steps.Step{
		ID:      "stop-secondaries",
		Title:   "Turn off the Central service on each secondary server",
		Why:     "the primary is upgraded first, while no secondary can take over",
		DocRef:  docUpgrade + " step 1",
		Hosts:   hosts,
		Mode:    steps.EachInOrder,
		Actions: acts,
		Check: func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
			h, err := host(e, hn)
			if err != nil {
				return false, "", err
			}
			_, m := a.memberByHost(hn)
			if ok, ev, err := upgraded(ctx, a, h, m); err != nil || ok {
				return ok, ev + "; nothing to stop", err
			}
			active, err := isActive(ctx, &a.Common, h, m)
			if err != nil {
				return false, "", err
			}
			if active {
				return false, "service " + a.serviceName(m) + " is active", nil
			}
			return true, "service " + a.serviceName(m) + " is not active", nil
		},
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			h, err := host(e, hn)
			if err != nil {
				return err
			}
			_, m := a.memberByHost(hn)
			markChanged(e, hn)
			_, err = service(ctx, &a.Common, h, m, remote.ServiceStop)
			return err
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			h, err := host(e, hn)
			if err != nil {
				return "", err
			}
			_, m := a.memberByHost(hn)
			if ok, ev, err := upgraded(ctx, a, h, m); err != nil || ok {
				return ev, err
			}
			active, err := isActive(ctx, &a.Common, h, m)
			if err != nil {
				return "", err
			}
			if active {
				return "", fmt.Errorf("service %s is still active on %s", a.serviceName(m), hn)
			}
			return "service " + a.serviceName(m) + " is not active", nil
		},
	}
}

func manualInstall(a *UpgradeAnswers, m *Member, dir string) string {
	if m.windows() {
		return fmt.Sprintf("run %s on %s by hand", a.installerPath(m), m.Host.Name)
	}
	return fmt.Sprintf("on %s, as root: cd %s && tar -xzf %s && cd <the extracted directory> && ./install (the staging directory is root's alone; hawiz removes it once the member runs %s)",
		m.Host.Name, remote.ShQuote(dir), remote.ShQuote(a.installerName()), a.Installer.ExpectedVersion)
}

// windowsDir is the directory of a Windows path.
func windowsDir(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i > 0 {
		return p[:i]
	}
	return p
}

func upgradeHostStep(a *UpgradeAnswers, i int, id string) *steps.Step {
	m := &a.Members[i]
	title := "Upgrade the primary server manually using an installer"
	doc := docUpgrade + " step 2"
	if i > 0 {
		title = fmt.Sprintf("Upgrade the secondary server %s using an installer; the service is started again afterwards", m.Name)
		doc = docUpgrade + " step 3"
	}
	run := "run the installer on " + m.Host.Name + ": " + strings.Join(a.installArgv(m, a.installerPath(m), windowsDir(a.installerPath(m))), " ") + " (its prompts get install_input; default: accept every default)"
	if !m.windows() {
		how := "extract it into that directory and run its ./install"
		if len(a.InstallCommand) > 0 {
			how = "run " + strings.Join(a.installArgv(m, "{installer}", "{dir}"), " ")
		}
		run = fmt.Sprintf("on %s, as root, in the installer's staging directory under %s (staged again if it is gone): check the installer's SHA-256 and, in the same shell, %s (its prompts get install_input; default: accept every default); then remove the staging directory", m.Host.Name, a.uploadDir(m), how)
	}
	return &steps.Step{
		ID:     id,
		Title:  title,
		Why:    "members are upgraded one at a time, primary first; a host that already reports " + a.Installer.ExpectedVersion + " is never upgraded again",
		DocRef: doc,
		Hosts:  []string{m.Host.Name},
		Mode:   steps.Once,
		Actions: []string{
			run,
			fmt.Sprintf("then Central is active, port %d listens and it reports version %s", CentralPort, a.Installer.ExpectedVersion),
		},
		Check: func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
			h, err := host(e, hn)
			if err != nil {
				return false, "", err
			}
			ok, ev, err := upgraded(ctx, a, h, m)
			if err != nil || !ok || m.windows() {
				return ok, ev, err
			}
			// Upgraded, by a run killed before it removed the staging directory?
			_, dirs, err := a.findStage(ctx, h, m, "")
			if err != nil {
				return false, "", err
			}
			if len(dirs) > 0 {
				return false, ev + "; the staging directory " + strings.Join(dirs, ", ") + " is still there (an interrupted run)", nil
			}
			return true, ev, nil
		},
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			h, err := host(e, hn)
			if err != nil {
				return err
			}
			// The version on the host decides: never install twice.
			if ok, _, err := upgraded(ctx, a, h, m); err != nil {
				return err
			} else if ok {
				if m.windows() {
					return nil
				}
				_, dirs, err := a.findStage(ctx, h, m, "")
				if err != nil {
					return err
				}
				return a.removeStages(ctx, e, h, m, dirs, "")
			}
			e.Output(hn, "The installer asks whether to install Central, where the configuration files go, the user and group, and the binary location (B.7); hawiz answers with install_input.")
			cmd := remote.Cmd{Sudo: a.sudo(m), Stdin: strings.NewReader(a.installInput()), Timeout: a.InstallTimeout,
				OnLine: func(_, line string) { e.Output(hn, line) }}
			var r remote.Result
			dir := ""
			if m.windows() {
				argv := a.installArgv(m, a.installerPath(m), windowsDir(a.installerPath(m)))
				cmd.Program, cmd.Args = argv[0], argv[1:]
				markChanged(e, hn)
				r, err = h.Run(ctx, cmd)
			} else {
				var sum string
				if sum, err = a.wantSum(e, hn); err != nil {
					return err
				}
				if dir, err = a.stage(ctx, e, h, m, sum); err != nil {
					return err
				}
				pkg := path.Join(dir, a.installerName())
				argv := a.installArgv(m, pkg, dir)
				cmd.Program, cmd.Args = argv[0], argv[1:]
				markChanged(e, hn)
				r, err = h.RunVerified(ctx, pkg, sum, cmd)
				if errors.Is(err, remote.ErrNotVerified) {
					// Never install a file that changed: stage it again next time.
					if _, rerr := h.RemoveStageDir(context.WithoutCancel(ctx), dir, a.stagePrefix(m), a.sudo(m)); rerr != nil {
						return fmt.Errorf("%w; removing the staging directory: %v", err, rerr)
					}
					return fmt.Errorf("%w; nothing was installed and the staging directory was removed: `hawiz resume` stages the installer again", err)
				}
			}
			if err == nil {
				err = r.ExitError()
			}
			if err != nil {
				return fmt.Errorf("the installer failed on %s: %w\nIf it needs answers hawiz cannot give, %s, then run `hawiz resume`: the version on the host decides whether it is upgraded", hn, err, manualInstall(a, m, dir))
			}
			if dir != "" {
				if err := a.removeStages(ctx, e, h, m, []string{dir}, ""); err != nil {
					return err
				}
			}
			// The installer starts Central again (C2 step 3); start it if not.
			if active, err := isActive(ctx, &a.Common, h, m); err == nil && !active {
				e.Output(hn, "Central is not running after the installer: starting it")
				if _, err := service(ctx, &a.Common, h, m, remote.ServiceStart); err != nil {
					return err
				}
			}
			if !waitListening(ctx, &a.Common, h) {
				return fmt.Errorf("Central on %s did not listen on port %d within %v after the upgrade; see %s", hn, CentralPort, a.StartWait, logsDir(&a.Common, m))
			}
			return nil
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			h, err := host(e, hn)
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
			if !m.windows() {
				_, dirs, err := a.findStage(ctx, h, m, "")
				if err != nil {
					return "", err
				}
				if len(dirs) > 0 {
					return "", fmt.Errorf("%s: the staging directory %s is still there", hn, strings.Join(dirs, ", "))
				}
			}
			run, rev, err := running(ctx, &a.Common, h, m)
			if err == nil && !run {
				err = errors.New(rev)
			}
			before, _ := e.Fact(factVersionBefore(hn))
			return fmt.Sprintf("%s → %s; %s", before, a.Installer.ExpectedVersion, rev), err
		},
	}
}

func haStatesStep(a *UpgradeAnswers) *steps.Step {
	id := "verify-ha-states"
	var vals []steps.KV
	for i, m := range a.Members {
		st := "Standby"
		if i == 0 {
			st = "Active"
		}
		vals = append(vals, steps.KV{Label: m.Name, Value: st + ", " + a.Installer.ExpectedVersion})
	}
	return &steps.Step{
		ID:     id,
		Title:  "All servers are upgraded and again in High Availability mode",
		Why:    "only the UI shows the HA states; Micetro documents no API for them",
		DocRef: docUpgrade + " step 4; C11 updates.rst (Micetro Version)",
		Mode:   steps.Once,
		Manual: &steps.Manual{
			Instructions: []string{
				"Log in to Micetro as \"administrator\".",
				"Admin → Configuration → High Availability (10.2 and later) or Tools → Manage High availability (Management Console): one member Active, the others Standby.",
				"Admin → Configuration → Micetro Version → Current status lists Central " + a.Installer.ExpectedVersion + ".",
			},
			Values: vals,
		},
		Check: func(ctx context.Context, e *steps.Env, h string) (bool, string, error) {
			if done, ev, err := factCheck(id)(ctx, e, h); done || err != nil {
				return done, ev, err
			}
			if v, _ := e.Fact(factUpgradedBefore); v != "yes" {
				return false, "not confirmed yet", nil
			}
			return true, "inferred: every member already ran " + a.Installer.ExpectedVersion + " before this run", nil
		},
		Apply: func(ctx context.Context, e *steps.Env, _ string) error {
			e.SetFact(factConfirmed(id), time.Now().UTC().Format(time.RFC3339))
			return nil
		},
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			var ev []string
			for i := range a.Members {
				m := &a.Members[i]
				h, err := host(e, m.Host.Name)
				if err != nil {
					return "", err
				}
				ok, v, err := upgraded(ctx, a, h, m)
				if err != nil {
					return "", err
				}
				if !ok {
					return "", fmt.Errorf("%s reports %s", m.Host.Name, v)
				}
				ev = append(ev, m.Host.Name+" "+a.Installer.ExpectedVersion)
			}
			return strings.Join(ev, ", "), nil
		},
	}
}
