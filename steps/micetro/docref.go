package micetro

import (
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// docRef is one place in Men&Mice's documents (steps.DocRef: "URL (Section)").
type docRef steps.DocRef

// String is steps.DocRef's "URL (Section)".
func (r docRef) String() string { return steps.DocRef(r).String() }

// docRefs joins references for one Step.DocRef (steps.DocRefs).
func docRefs(rs ...docRef) string {
	s := make([]steps.DocRef, len(rs))
	for i, r := range rs {
		s[i] = steps.DocRef(r)
	}
	return steps.DocRefs(s...)
}

// The pages. The HA page today (latest) describes the web UI flow of 10.2
// and later; the 10.1 page is the Management Console flow and the only one
// that still holds "Updating Central in High Availability setup".
const (
	haPageLatest  = "https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html"
	haPage101     = "https://docs.menandmice.com/en/10.1/guides/implementation/central_ha.html"
	tweaksPage    = "https://docs.menandmice.com/en/25.1/guides/reference/ha_tweaks_central"
	databasePage  = "https://docs.menandmice.com/en/latest/guides/implementation/central_database.html"
	binariesPage  = "https://docs.menandmice.com/en/latest/guides/implementation/binaries.html"
	installPage   = "https://docs.menandmice.com/en/latest/guides/implementation/install_central.html"
	updatesPage   = "https://docs.menandmice.com/en/latest/guides/implementation/updates.html"
	consoleUpdate = "https://docs.menandmice.com/en/latest/guides/implementation/console_updates.html"
)

// haStep names a step of the HA procedure independently of how a page
// numbers it.
type haStep int

const (
	hsNamePrimary haStep = iota
	hsRestartPrimary
	hsRegisterPrimary
	hsRestartAfterRegister
	hsVerifyActive
	hsRegisterMember
	hsStopMember
	hsCopyPreferences
	hsStartMember
	hsVerifyPair
	hsRoundRobinDNS
	hsLogIn
)

// stepNumbers: how each page numbers the steps (Linux and Windows alike).
// The latest page (web UI) splits registering into steps 3–6 and has no
// "log in through the DNS name" step; the 10.1 page (Management Console)
// numbers 1–12.
var stepNumbers = map[string][]string{
	haPageLatest: {"1", "2", "3–6", "7", "8", "9", "10", "11", "12", "13", "14", ""},
	haPage101:    {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"},
}

// haRef is the reference for step s of the HA procedure as member m's
// platform (Linux or Windows section) and the answers' UI (10.2+ web UI:
// the latest page; 10.1 Management Console: the 10.1 page) read it.
func haRef(a *HAAnswers, m *Member, s haStep) docRef {
	page := haPageLatest
	if a.VersionUI == UI101 {
		page = haPage101
	}
	n := stepNumbers[page][s]
	if n == "" { // only the 10.1 page has this step
		page, n = haPage101, stepNumbers[haPage101][s]
	}
	anchor, section := "#central-ha-unix", "Linux"
	if m != nil && m.windows() {
		anchor, section = "#central-ha-windows", "Windows"
	}
	word := ", step "
	if strings.Contains(n, "–") {
		word = ", steps "
	}
	r := docRef{URL: page + anchor, Section: section + word + n}
	if page == haPage101 && a.VersionUI != UI101 {
		r.Section += "; the 10.1 page: the latest page has no such step"
	}
	return r
}

var (
	// refHARequirement: the note at the top of the HA page (HA needs an
	// MSSQL or PostgreSQL database).
	refHARequirement = docRef{haPageLatest, "the note at the top: High Availability needs an MSSQL or PostgreSQL database"}
	refDatabase      = docRef{databasePage, "the whole page: Central's database settings in preferences.cfg"}
	refTweaks        = docRef{tweaksPage, "the whole page: HeartbeatInterval, HeartbeatMaxAllowedDowntime; heartbeats use each member's clock"}
	refBinaries      = docRef{binariesPage, "the whole page: Central installer names"}
	refInstall       = docRef{installPage, "the whole page: installing Central"}
	refRoundRobinDNS = docRef{haPageLatest, "Linux and Windows, step 14: a round robin DNS name"}
	refMicetroVer    = docRef{updatesPage, "Micetro Version, Current status"}
	refAutoUpdate    = docRef{consoleUpdate, "Update Guide - Management Console: \"When Central is in a high availability configuration, the Auto Updater cannot be used\""}
)

// refAddFailover is the note after the last step of the HA page ("Repeat
// these steps for each high availability failover you'd like to add"): how
// the page adds a member to a cluster that runs, for member m's platform and
// the answers' UI.
func refAddFailover(a *HAAnswers, m *Member) docRef {
	r := haRef(a, m, hsRoundRobinDNS) // the latest page's last step: 14; the 10.1 page's: 12
	if a.VersionUI == UI101 {
		r = haRef(a, m, hsLogIn)
	}
	sec, _, _ := strings.Cut(r.Section, ", step")
	last := stepNumbers[haPageLatest][hsRoundRobinDNS]
	if a.VersionUI == UI101 {
		last = stepNumbers[haPage101][hsLogIn]
	}
	r.Section = sec + ", the note after step " + last + ": \"Repeat these steps for each high availability failover you'd like to add\""
	return r
}

// refUpdateHA is "Updating Central in High Availability setup" on the 10.1
// page, which is the only page that still holds it; detail is "step N" or
// "warning".
func refUpdateHA(detail string) docRef {
	return docRef{haPage101 + "#update-central-ha", "Updating Central in High Availability setup, " + detail + "; only the 10.1 page holds this section"}
}
