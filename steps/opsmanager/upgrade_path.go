// upgrade_path.go: what the current documents say about going from one
// Ops Manager version to another, checked in preflight before anything
// changes: the supported upgrade paths between release series (the page
// "Upgrade Ops Manager", section "Upgrade Path"), and the rpm packages
// whose broken version information makes a plain `rpm -U` fail, which the
// release notes upgrade with `rpm -U --oldpackage`.

package opsmanager

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

const (
	// DocUpgradePath: "Upgrade Path" of the upgrade page. Upgrades from
	// 4.2 on use one procedure; to a higher version, first the latest
	// patch of the existing series, then the next series; no downgrade.
	DocUpgradePath = DocUpgrade + " (Upgrade Path)"
	// DocReleaseNotes: the Ops Manager Server release notes. "Ops Manager
	// Server 7.0.0 › Ops Manager Platform Support": the rpm packages of
	// 6.0.0, 6.0.1 and 6.0.2 carry incorrect version information; from
	// them to 6.0.3 or later, `sudo rpm -Uvh --oldpackage`. "Ops Manager
	// Server 8.0.1": the same for the 8.0.0 rpm package to 8.0.1 or later.
	DocReleaseNotes = "https://www.mongodb.com/docs/ops-manager/current/release-notes/application/"
	// DocUpgrade42to44: upgrading from 4.2.0-4.2.23 to 4.4 disables TLS
	// for a time; the page says to reach 4.2.24 or later first.
	DocUpgrade42to44 = DocUpgrade + " (Upgrade Path, 4.2.x)"
)

// omVersion is an Ops Manager version's leading numbers: 8.0.1 of
// "8.0.1.500.20241029T1739Z" or "8.0.1-1".
type omVersion struct{ major, minor, patch int }

var omVersionRE = regexp.MustCompile(`^([0-9]+)\.([0-9]+)(?:\.([0-9]+))?`)

func parseOMVersion(v string) (omVersion, bool) {
	m := omVersionRE.FindStringSubmatch(v)
	if m == nil {
		return omVersion{}, false
	}
	var o omVersion
	o.major, _ = strconv.Atoi(m[1])
	o.minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		o.patch, _ = strconv.Atoi(m[3])
	}
	return o, true
}

func (v omVersion) series() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

func (v omVersion) less(w omVersion) bool {
	if v.major != w.major {
		return v.major < w.major
	}
	if v.minor != w.minor {
		return v.minor < w.minor
	}
	return v.patch < w.patch
}

// nextSeries is the release series after v's: 4.2 → 4.4 → 5.0, then one
// major version at a time (5.0 → 6.0 → 7.0 → 8.0 …), as the page's table
// lists them.
func nextSeries(v omVersion) omVersion {
	switch {
	case v.major == 4 && v.minor == 2:
		return omVersion{4, 4, 0}
	case v.major == 4 && v.minor == 4:
		return omVersion{5, 0, 0}
	}
	return omVersion{v.major + 1, 0, 0}
}

// checkUpgradePath judges the upgrade of server from version from to
// version to against the documented upgrade paths: within a series, or to
// the next series (with a note that the existing version must be the
// series' latest patch, which hawiz cannot know). Anything else is refused,
// naming the document: a version hawiz cannot read, a series before 4.2
// (no Upgrade Mode: every server stopped before an upgraded one starts), a
// skipped series, 4.2 before 4.2.24 to 4.4.
func checkUpgradePath(server, from, to string) (note string, err error) {
	f, ok := parseOMVersion(from)
	if !ok {
		return "", fmt.Errorf("%s runs Ops Manager %q: hawiz cannot read its version, so it cannot check the documented upgrade path (%s); nothing was changed", server, from, DocUpgradePath)
	}
	t, ok := parseOMVersion(to)
	if !ok {
		return "", fmt.Errorf("upgrade.version %q: hawiz cannot read the version, so it cannot check the documented upgrade path (%s)", to, DocUpgradePath)
	}
	if f.less(omVersion{4, 2, 0}) {
		return "", fmt.Errorf("%s runs Ops Manager %s: before 4.2 there is no Upgrade Mode, every server must be stopped before any upgraded server starts, which is not this one-server-at-a-time procedure; follow the upgrade path of your version (%s); nothing was changed", server, from, DocUpgradePath)
	}
	if f.series() == t.series() {
		return "", nil
	}
	if n := nextSeries(f); n.series() != t.series() {
		var path []string
		for s := f; s.series() != t.series() && s.less(t) && len(path) < 10; s = nextSeries(s) {
			path = append(path, "the latest "+s.series()+" patch")
		}
		return "", fmt.Errorf("%s runs Ops Manager %s and upgrade.version is %s: that skips a release series; the documented path is %s, then %s, one upgrade at a time (%s); nothing was changed", server, from, to, strings.Join(path, ", then "), t.series(), DocUpgradePath)
	}
	if f.series() == "4.2" && f.less(omVersion{4, 2, 24}) {
		return "", fmt.Errorf("%s runs Ops Manager %s: upgrading 4.2.0-4.2.23 to 4.4 disables TLS for a time; upgrade to the latest 4.2 patch (4.2.24 or later) first (%s); nothing was changed", server, from, DocUpgrade42to44)
	}
	return fmt.Sprintf("%s to %s: the document requires %s to be the latest available %s patch before moving to %s; hawiz cannot tell which patch is the latest (%s)", from, to, from, f.series(), t.series(), DocUpgradePath), nil
}

// needsOldPackage: upgrading the rpm package of version from to version to
// needs `rpm -U --oldpackage` (DocReleaseNotes): from 6.0.0, 6.0.1 or
// 6.0.2 to 6.0.3 or later, and from 8.0.0 to 8.0.1 or later.
func needsOldPackage(from, to string) bool {
	f, ok1 := parseOMVersion(from)
	t, ok2 := parseOMVersion(to)
	if !ok1 || !ok2 {
		return false
	}
	switch {
	case f.series() == "6.0" && f.patch <= 2:
		return !t.less(omVersion{6, 0, 3})
	case f == omVersion{8, 0, 0}:
		return !t.less(omVersion{8, 0, 1})
	}
	return false
}

// rpmArgv is the rpm command that upgrades the package at pkg from
// version from to version to.
func rpmArgv(from, to, pkg string) []string {
	if needsOldPackage(from, to) {
		return []string{"rpm", "-U", "--oldpackage", pkg}
	}
	return []string{"rpm", "-U", pkg}
}
