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
		Hosts:       func(a steps.Answers) []remote.HostConfig { return a.(*UpgradeAnswers).hostConfigs() },
		SSH:         func(a steps.Answers) *steps.SSHAnswers { return &a.(*UpgradeAnswers).SSH },
		Steps:       func(a steps.Answers) ([]*steps.Step, error) { return upgradeSteps(a.(*UpgradeAnswers)) },
	}
}

// installerPath is where the installer is on member m.
func (a *UpgradeAnswers) installerPath(m *Member) string {
	if a.Installer.Remote != "" {
		return a.Installer.Remote
	}
	return joinDir(m, a.uploadDir(m), filepath.Base(a.Installer.Local))
}

// DefaultWindowsUploadDir is where an uploaded installer goes on Windows
// members unless members[i].upload_dir says otherwise.
const DefaultWindowsUploadDir = `C:\Windows\Temp`

// uploadDir is where an uploaded installer goes on m: the member's own
// upload_dir, else the top-level one (Linux members), else the default.
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

// uploadTargets is the upload step's action: where the installer goes on
// every member, each member named when they differ, and which answer set a
// directory other than the default (the plan says so).
func (a *UpgradeAnswers) uploadTargets() string {
	first := &a.Members[0]
	same := true
	for i := range a.Members {
		m := &a.Members[i]
		if m.UploadDir != "" || a.installerPath(m) != a.installerPath(first) {
			same = false
		}
	}
	if same {
		s := a.installerPath(first) + " on every member"
		if !first.windows() && a.UploadDir != DefaultUploadDir {
			s += " (upload_dir, not the default " + DefaultUploadDir + ")"
		}
		return s
	}
	var parts []string
	for i := range a.Members {
		m := &a.Members[i]
		s := a.installerPath(m) + " on " + m.Host.Name
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

// installScript extracts a .tgz into a fresh directory and runs the
// ./install it holds (B.7). It is a constant: the paths travel as
// positional parameters, never inside the script.
const installScript = `set -e
pkg=$1 dir=$2
rm -rf "$dir"
mkdir -p "$dir"
tar -xzf "$pkg" -C "$dir"
cd "$dir"
for f in install */install; do
	if [ -f "$f" ]; then
		cd "$(dirname "$f")"
		exec sh ./install
	fi
done
echo "hawiz: no install script in $pkg" >&2
exit 1
`

// installArgv is the command that upgrades m.
func (a *UpgradeAnswers) installArgv(m *Member) []string {
	inst := a.installerPath(m)
	dir := strings.TrimSuffix(inst, path.Ext(inst)) + ".hawiz-extract"
	if len(a.InstallCommand) > 0 {
		out := make([]string, len(a.InstallCommand))
		for i, s := range a.InstallCommand {
			out[i] = strings.NewReplacer("{installer}", inst, "{dir}", path.Dir(inst)).Replace(s)
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
	return list, steps.Lint(list, a.hostNames())
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
			strings.Join(a.versionCommand(&a.Members[0]), " ") + ")"}, a.pathNotes()...),
		Check: run,
		Verify: func(ctx context.Context, e *steps.Env, h string) (string, error) {
			_, ev, err := run(ctx, e, h)
			return ev, err
		},
		After: []string{},
	}
}

func uploadStep(a *UpgradeAnswers) *steps.Step {
	localSum := func() (string, error) {
		sum, err := localSHA256(a.Installer.Local)
		if err != nil {
			return "", err
		}
		if a.Installer.SHA256 != "" && sum != a.Installer.SHA256 {
			return "", fmt.Errorf("installer.local %s has SHA-256 %s, not installer.sha256 %s: a different or damaged file", a.Installer.Local, sum, a.Installer.SHA256)
		}
		return sum, nil
	}
	return &steps.Step{
		ID:      "upload-installer",
		Title:   "Copy the installer to every member",
		Why:     "each member is upgraded manually using an installer",
		DocRef:  docUpgrade + " steps 2–3; C6 binaries.rst, install_central.rst",
		Hosts:   a.hostNames(),
		Mode:    steps.Parallel,
		Actions: []string{fmt.Sprintf("upload %s to %s, SHA-256 checked on arrival", a.Installer.Local, a.uploadTargets())},
		Check: func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
			sum, err := localSum()
			if err != nil {
				return false, "", err
			}
			h, err := host(e, hn)
			if err != nil {
				return false, "", err
			}
			_, m := a.memberByHost(hn)
			info, err := h.Stat(ctx, a.installerPath(m), false)
			if err != nil {
				return false, "", err
			}
			if info.Exists && info.SHA256 == sum {
				return true, fmt.Sprintf("%s is there (sha256 %s)", a.installerPath(m), short(sum)), nil
			}
			return false, fmt.Sprintf("%s is not there yet", a.installerPath(m)), nil
		},
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			if _, err := localSum(); err != nil {
				return err
			}
			h, err := host(e, hn)
			if err != nil {
				return err
			}
			_, m := a.memberByHost(hn)
			last := -1
			_, err = h.Upload(ctx, a.Installer.Local, a.installerPath(m), remote.WriteOptions{Mode: 0o644}, func(done, total int64) {
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
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			sum, err := localSum()
			if err != nil {
				return "", err
			}
			h, err := host(e, hn)
			if err != nil {
				return "", err
			}
			_, m := a.memberByHost(hn)
			info, err := h.Stat(ctx, a.installerPath(m), false)
			if err != nil {
				return "", err
			}
			if !info.Exists || info.SHA256 != sum {
				return "", fmt.Errorf("%s on %s: sha256 %q, want %s", a.installerPath(m), hn, info.SHA256, sum)
			}
			return fmt.Sprintf("%s: %d bytes, sha256 %s", a.installerPath(m), info.Size, short(sum)), nil
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
		return fmt.Sprintf("%s: %d bytes, sha256 %s", a.installerPath(m), info.Size, short(info.SHA256)), nil
	}
	return &steps.Step{
		ID:      "check-installer",
		Title:   "Check the installer on every member",
		Why:     "each member is upgraded manually using an installer",
		DocRef:  docUpgrade + " steps 2–3",
		Hosts:   a.hostNames(),
		Mode:    steps.Parallel,
		Actions: []string{"stat " + a.Installer.Remote + " on every member (SHA-256 compared when installer.sha256 is set)"},
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

func manualInstall(a *UpgradeAnswers, m *Member) string {
	if m.windows() {
		return fmt.Sprintf("run %s on %s by hand", a.installerPath(m), m.Host.Name)
	}
	return fmt.Sprintf("on %s: sudo tar -xzf %s -C /tmp && cd /tmp/<extracted directory> && sudo ./install", m.Host.Name, a.installerPath(m))
}

func upgradeHostStep(a *UpgradeAnswers, i int, id string) *steps.Step {
	m := &a.Members[i]
	title := "Upgrade the primary server manually using an installer"
	doc := docUpgrade + " step 2"
	if i > 0 {
		title = fmt.Sprintf("Upgrade the secondary server %s using an installer; the service is started again afterwards", m.Name)
		doc = docUpgrade + " step 3"
	}
	return &steps.Step{
		ID:     id,
		Title:  title,
		Why:    "members are upgraded one at a time, primary first; a host that already reports " + a.Installer.ExpectedVersion + " is never upgraded again",
		DocRef: doc,
		Hosts:  []string{m.Host.Name},
		Mode:   steps.Once,
		Actions: []string{
			fmt.Sprintf("run the installer on %s: %s (its prompts get install_input; default: accept every default)", m.Host.Name, strings.Join(a.installArgv(m)[:min(2, len(a.installArgv(m)))], " ")),
			fmt.Sprintf("then Central is active, port %d listens and it reports version %s", CentralPort, a.Installer.ExpectedVersion),
		},
		Check: func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
			h, err := host(e, hn)
			if err != nil {
				return false, "", err
			}
			return upgraded(ctx, a, h, m)
		},
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			h, err := host(e, hn)
			if err != nil {
				return err
			}
			// The version on the host decides: never install twice.
			if ok, _, err := upgraded(ctx, a, h, m); err != nil || ok {
				return err
			}
			e.Output(hn, "The installer asks whether to install Central, where the configuration files go, the user and group, and the binary location (B.7); hawiz answers with install_input.")
			argv := a.installArgv(m)
			markChanged(e, hn)
			r, err := h.Run(ctx, remote.Cmd{
				Program: argv[0], Args: argv[1:], Sudo: a.sudo(m),
				Stdin:   strings.NewReader(a.installInput()),
				Timeout: a.InstallTimeout,
				OnLine:  func(_, line string) { e.Output(hn, line) },
			})
			if err == nil {
				err = r.ExitError()
			}
			if err != nil {
				return fmt.Errorf("the installer failed on %s: %w\nIf it needs answers hawiz cannot give, %s, then run `hawiz resume`: the version on the host decides whether it is upgraded", hn, err, manualInstall(a, m))
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
