package micetro

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
)

// This file reads the Central version a member runs.

var versionRE = regexp.MustCompile(`\d+(\.\d+)+`)

// parseVersion returns the first "N.N[.N…]" in s, or "".
func parseVersion(s string) string { return versionRE.FindString(s) }

// centralVersion runs the version command on m and returns the version.
func centralVersion(ctx context.Context, c *Common, h *remote.Host, m *Member) (string, error) {
	argv := c.versionCommand(m)
	r, err := h.Run(ctx, remote.Cmd{Program: argv[0], Args: argv[1:], Sudo: c.sudo(m), Timeout: 30 * time.Second})
	if err == nil {
		err = r.ExitError()
	}
	if err != nil {
		return "", fmt.Errorf("reading the Central version on %s with %q (set version_command): %w", m.Host.Name, strings.Join(argv, " "), err)
	}
	v := parseVersion(string(r.Stdout) + "\n" + string(r.Stderr))
	if v == "" {
		return "", fmt.Errorf("reading the Central version on %s: %q printed no version (set version_command)", m.Host.Name, strings.Join(argv, " "))
	}
	return v, nil
}

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
