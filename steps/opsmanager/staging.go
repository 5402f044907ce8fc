// staging.go holds the upgrade package's staging on a server: a private
// directory per server under upgrade.remote_dir (mktemp -d by root, mode
// 0700), the upload into it, and the removal of the ones a run leaves.

package opsmanager

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

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

// stagePackage uploads the package into a new staging directory (mktemp
// -d by root under upgrade.remote_dir, mode 0700: no other user can read or
// replace it) and returns the package's path there. Staging directories a
// killed run left are removed first.
func stagePackage(ctx context.Context, e *steps.Env, a *UpgradeAnswers, h *remote.Host, l layout) (string, error) {
	host := h.Name()
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
		return "", unsafeRemoteDir(a, host, err)
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

// unsafeRemoteDir is the error for an upgrade.remote_dir that users other
// than root (and the SSH user) can change on host.
func unsafeRemoteDir(a *UpgradeAnswers, host string, err error) error {
	return fmt.Errorf("upgrade.remote_dir %s on %s: %w; choose a directory that only root (and the SSH user) can change, such as /tmp or /var/tmp", a.Upgrade.RemoteDir, host, err)
}
