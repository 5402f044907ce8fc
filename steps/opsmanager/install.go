// install.go holds how the upgrade installs a staged package on a server:
// dpkg (keeping conf-mms.properties) or rpm, or a tar archive extracted
// next to the current version with the install_dir symlink repointed; the
// root shell that installs checks the package's SHA-256 first.

package opsmanager

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// installDescription says, for the plan, how package p is installed.
func installDescription(p string) string {
	switch packageKind(p) {
	case "deb":
		return "sudo dpkg --force-confold -i (keeps conf-mms.properties)"
	case "rpm":
		return "sudo rpm -U (with --oldpackage from 6.0.0-6.0.2 or 8.0.0, as the release notes require)"
	}
	return "extract next to the current directory, copy conf/, repoint the install_dir symlink"
}

// install installs the staged package pkg with remote.RunVerified: the root
// shell that runs dpkg, rpm or tar checks the package's SHA-256 first.
func install(ctx context.Context, e *steps.Env, a *UpgradeAnswers, h *remote.Host, l layout, pkg string) error {
	host := h.Name()
	want, _ := e.Fact("upgrade.package.sha256")
	kind := packageKind(a.Upgrade.Package)
	var argv []string
	env := map[string]string{}
	switch kind {
	case "deb":
		argv = []string{"dpkg", "--force-confold", "-i", pkg}
		env["DEBIAN_FRONTEND"] = "noninteractive"
	case "rpm":
		// The version the server ran before the upgrade (preflight).
		from, _ := e.Fact(upFact(host, "from"))
		argv = rpmArgv(from, a.Upgrade.Version, pkg)
		if len(argv) == 4 {
			e.Output(host, fmt.Sprintf("rpm -U --oldpackage: the %s package carries incorrect version information (%s)", from, DocReleaseNotes))
		}
	default:
		return installTar(ctx, e, h, l, pkg, want)
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
func installTar(ctx context.Context, e *steps.Env, h *remote.Host, l layout, archive, sum string) error {
	host := h.Name()
	run := func(argv ...string) (string, error) {
		res, err := h.Run(ctx, remote.Cmd{Program: argv[0], Args: argv[1:], Sudo: l.Sudo, Timeout: 10 * time.Minute})
		return ranOK(host, argv, res, err)
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
	if _, err := ranOK(host, x, res, err); err != nil {
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

// ranOK returns argv's trimmed output, or an error naming host, argv, its
// exit status and stderr when it failed.
func ranOK(host string, argv []string, res remote.Result, err error) (string, error) {
	if err != nil {
		return "", err
	}
	if res.ExitStatus != 0 {
		return "", fmt.Errorf("%s: %s (exit %d): %s", host, strings.Join(argv, " "), res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
	}
	return strings.TrimSpace(string(res.Stdout)), nil
}
