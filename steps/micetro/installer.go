package micetro

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// This file says which installer micetro-central-upgrade installs and how:
// its name and path on a member, the SHA-256 it must have, and the command
// that runs it.

// installerName is the installer's file name.
func (a *UpgradeAnswers) installerName() string {
	if a.Installer.Remote != "" {
		return path.Base(a.Installer.Remote)
	}
	return filepath.Base(a.Installer.Local)
}

// stagedName is the installer's file name in m's staging directory: its
// base name, on a Windows member after the last \ or /.
func (a *UpgradeAnswers) stagedName(m *Member) string {
	if m.windows() && a.Installer.Remote != "" {
		return a.Installer.Remote[strings.LastIndexAny(a.Installer.Remote, `\/`)+1:]
	}
	return a.installerName()
}

// installerPath is installer.remote (what check-installer checks and a
// member's staging directory gets a copy of), else the installer's name
// directly in m's upload directory: where it went before members staged it
// in a private directory under that one (stagedPath).
func (a *UpgradeAnswers) installerPath(m *Member) string {
	if a.Installer.Remote != "" {
		return a.Installer.Remote
	}
	return joinDir(m, a.uploadDir(m), a.installerName())
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
