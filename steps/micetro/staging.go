package micetro

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

// This file puts the installer on a member: the private staging directory
// under the member's upload directory that it is uploaded (or copied) into
// and installed from (remote.MakeStageDir), found again, and removed. On
// Linux it is made by root with mktemp -d, mode 0700; on Windows by the
// administrator session with a random name and an ACL of SYSTEM and
// Administrators only, inheritance disabled.

// DefaultWindowsUploadDir is the parent of the installer's staging
// directory on Windows members unless members[i].upload_dir says otherwise.
const DefaultWindowsUploadDir = `C:\Windows\Temp`

// uploadDir is where an uploaded installer goes on m: the member's own
// upload_dir, else the top-level one (Linux members), else the default. It
// is the parent of the installer's staging directory.
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
// PREFIX.XXXXXXXXXX under m's upload directory, private to root (Linux) or
// to SYSTEM and Administrators (Windows).
// Each member has its own prefix, so members that share an upload_dir
// (a shared file system) never take or remove each other's.
func (a *UpgradeAnswers) stagePrefix(m *Member) string {
	slugs := memberSlugs(a.Members, 0)
	for i := range a.Members {
		if &a.Members[i] == m {
			return "hawiz-stage-micetro-upgrade-" + slugs[i]
		}
	}
	return "hawiz-stage-micetro-upgrade"
}

// uploadTarget is where the installer goes on m, as the plan shows it.
func (a *UpgradeAnswers) uploadTarget(m *Member) string {
	if m.windows() {
		return joinDir(m, joinDir(m, a.uploadDir(m), a.stagePrefix(m)+".XXXXXXXXXX"), a.stagedName(m))
	}
	return path.Join(a.uploadDir(m), a.stagePrefix(m)+".XXXXXXXXXX", a.installerName())
}

// stagedPath is the installer's path in m's staging directory dir.
func (a *UpgradeAnswers) stagedPath(m *Member, dir string) string {
	return joinDir(m, dir, a.stagedName(m))
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
		// the member's name in each directory's
		s := path.Join(a.uploadDir(first), "hawiz-stage-micetro-upgrade-MEMBER.XXXXXXXXXX", a.installerName()) + " on every member"
		if first.windows() {
			s = joinDir(first, joinDir(first, a.uploadDir(first), "hawiz-stage-micetro-upgrade-MEMBER.XXXXXXXXXX"), a.stagedName(first)) + " on every member"
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

// anyOS: some member runs Windows (windows), or Linux (!windows).
func (a *UpgradeAnswers) anyOS(windows bool) bool {
	for i := range a.Members {
		if a.Members[i].windows() == windows {
			return true
		}
	}
	return false
}

func (a *UpgradeAnswers) defaultUploadDir(m *Member) string {
	if m.windows() {
		return DefaultWindowsUploadDir
	}
	return DefaultUploadDir
}

// uploadDirField names the answer that sets m's upload directory.
func (a *UpgradeAnswers) uploadDirField(m *Member) string {
	if i, _ := a.memberByHost(m.Host.Name); m.UploadDir != "" {
		return fmt.Sprintf("members[%d].upload_dir", i)
	}
	return "upload_dir"
}

func (a *UpgradeAnswers) unsafeUploadDir(m *Member, err error) error {
	if m.windows() {
		return fmt.Errorf("%s %s on %s: %w; choose a directory that only SYSTEM, Administrators (and the SSH user) can change, such as %s", a.uploadDirField(m), a.uploadDir(m), m.Host.Name, err, DefaultWindowsUploadDir)
	}
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
		fi, err := h.Stat(ctx, a.stagedPath(m, d), a.sudo(m))
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

// stage puts the installer with SHA-256 sum into a staging directory on m
// and returns that directory: the one that already holds it, else a new one
// (remote.MakeStageDir under the upload directory: on Linux mktemp -d as
// root, mode 0700; on Windows a random name with an ACL of SYSTEM and
// Administrators only) that the installer is uploaded into, or
// installer.remote copied into, as root (the administrator). Any other
// staging directory of m's (an interrupted upload) is removed.
func (a *UpgradeAnswers) stage(ctx context.Context, e *steps.Env, h *remote.Host, m *Member, sum string) (string, error) {
	dir, dirs, err := a.findStage(ctx, h, m, sum)
	if err != nil {
		return "", err
	}
	if dir == "" {
		if dir, err = a.newStage(ctx, e, h, m); err != nil {
			return "", err
		}
	}
	return dir, a.removeStages(ctx, e, h, m, dirs, dir)
}

// newStage makes a new staging directory on m and puts the installer into
// it as root: installer.local uploaded, or installer.remote copied.
func (a *UpgradeAnswers) newStage(ctx context.Context, e *steps.Env, h *remote.Host, m *Member) (string, error) {
	dir, err := h.MakeStageDir(ctx, a.uploadDir(m), a.stagePrefix(m), a.sudo(m))
	if errors.Is(err, remote.ErrUnsafeParent) {
		return "", a.unsafeUploadDir(m, err)
	}
	if err != nil {
		return "", err
	}
	if a.Installer.Local != "" {
		err = a.upload(ctx, e, h, m, a.stagedPath(m, dir), a.sudo(m))
	} else {
		var r remote.Result
		r, err = h.CopyIntoStageDir(ctx, a.Installer.Remote, dir, a.stagePrefix(m), a.stagedName(m), a.sudo(m), a.InstallTimeout)
		if err == nil && r.ExitStatus != 0 {
			err = fmt.Errorf("%s: copying installer.remote %s into %s: %w", m.Host.Name, a.Installer.Remote, dir, r.ExitError())
		}
	}
	if err != nil {
		return "", err
	}
	return dir, nil
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
