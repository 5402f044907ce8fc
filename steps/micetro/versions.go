package micetro

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
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

// updatePathsDoc is the vendor's table of supported update paths.
const updatePathsDoc = "https://docs.menandmice.com/en/latest/guides/implementation/updates.html#update-paths (Updating Micetro Components and Appliances, section \"Update Paths\"; the same table in the Management Console's Update Guide)"

// updatePathStop is one row of the vendor's "Update Paths" table, read as
// a limit: from a Central whose major version is at most fromMajor, one
// update reaches at most the version limit (major.minor); "via" is what the
// table says to update to first.
type updatePathStop struct {
	fromMajor  int
	limitMajor int
	limitMinor int // -1: any minor of limitMajor
	via        string
}

// updatePaths is the table (origin → "update to"): 6.x → 9.3; 7.x, 8.x,
// 9.x → 10.x; 10.x → 11.x; 11.x → 25.x. Origins after 11.x have no row:
// the table sets them no limit.
var updatePaths = [...]updatePathStop{
	{6, 9, 3, "9.3"},
	{9, 10, -1, "10.x"},
	{10, 11, -1, "11.x"},
	{11, 25, -1, "25.x"},
}

// unsupportedPath returns "" when the vendor's table supports updating
// Central from version from to version to in one step, else what to update
// to first.
func unsupportedPath(from, to string) string {
	fm, _, ok1 := majorMinor(from)
	tm, tn, ok2 := majorMinor(to)
	if !ok1 || !ok2 {
		return ""
	}
	for _, p := range updatePaths {
		if fm > p.fromMajor {
			continue
		}
		if tm > p.limitMajor || tm == p.limitMajor && p.limitMinor >= 0 && tn > p.limitMinor {
			return p.via
		}
		return ""
	}
	return ""
}

// majorMinor reads "MAJOR.MINOR[...]".
func majorMinor(v string) (int, int, bool) {
	f := strings.SplitN(parseVersion(v), ".", 3)
	if len(f) < 2 {
		return 0, 0, false
	}
	ma, err1 := strconv.Atoi(f[0])
	mi, err2 := strconv.Atoi(f[1])
	return ma, mi, err1 == nil && err2 == nil
}
