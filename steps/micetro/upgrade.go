package micetro

import (
	"github.com/hawiz/hawiz/steps"
)

// This file is the procedure micetro-central-upgrade as its document reads:
// the step IDs and one ordered table of the steps. Each step lives in its
// own file named after its ID (upgrade_stop_secondaries.go, …); the
// installer's paths and staging are in installer.go and staging.go.

// upgradeDocURL is the page the upgrade follows: "Updating Central in High
// Availability setup" is on the 10.1 HA page only (docref.go).
const upgradeDocURL = haPage101 + "#update-central-ha"

// Step IDs of micetro-central-upgrade (stable: they are in state files).
const (
	StepUpPreflight       = "preflight"
	StepUpAutoUpdateOff   = "automatic-update-off"
	StepUpActiveMember    = "confirm-active-member"
	StepUpUploadInstaller = "upload-installer" // installer.local
	StepUpCheckInstaller  = "check-installer"  // installer.remote
	StepUpStopSecondaries = "stop-secondaries"
	StepUpUpgradePrimary  = "upgrade-primary"
	StepUpVerifyHAStates  = "verify-ha-states"
)

// stepUpgradeMember is the ID of the step that upgrades a secondary; MEMBER
// is its slug (memberSlugs).
func stepUpgradeMember(member string) string { return "upgrade-" + member }

// Facts of micetro-central-upgrade (stable: they are in state files).
func factVersionBefore(h string) string { return "version-before." + h }

// factUpgradedBefore: every member already ran the expected version when
// this run started (set once, in preflight).
const factUpgradedBefore = "all-upgraded-before-run"

// factRemoteSHA256 holds the SHA-256 check-installer found for
// installer.remote on a host, the first time in this run.
func factRemoteSHA256(host string) string { return "installer.remote.sha256." + host }

// CentralUpgrade is the procedure micetro-central-upgrade.
func CentralUpgrade() *steps.Procedure {
	return &steps.Procedure{
		Name:        "micetro-central-upgrade",
		Title:       "Update Micetro Central in a High Availability setup",
		Description: "Update Central in HA: stop the secondaries, upgrade the primary, then each secondary, with an installer",
		DocURL:      upgradeDocURL,
		Version:     2, // 2: automatic-update-off and confirm-active-member before anything stops
		NewAnswers:  func() steps.Answers { return &UpgradeAnswers{} },
		Template:    upgradeTemplate,
		Steps:       func(a steps.Answers) ([]*steps.Step, error) { return upgradeSteps(a.(*UpgradeAnswers)) },
	}
}

// upgradeSteps is the table of micetro-central-upgrade: C2's section
// "Updating Central in High Availability setup" in order, after the
// confirmations that Automatic Update is not in use (C2's warning) and that
// the first member is the Active one, with the installer brought to every
// member first.
func upgradeSteps(a *UpgradeAnswers) ([]*steps.Step, error) {
	list := []*steps.Step{upgradePreflightStep(a), autoUpdateOffStep(a), activeMemberStep(a)}
	if a.Installer.Local != "" {
		list = append(list, uploadStep(a))
	} else {
		list = append(list, remoteInstallerStep(a))
	}
	list = append(list, stopSecondariesStep(a))
	slugs := memberSlugs(a.Members, 1)
	for i := range a.Members {
		id := StepUpUpgradePrimary
		if i > 0 {
			id = stepUpgradeMember(slugs[i])
		}
		list = append(list, upgradeMemberStep(a, i, id))
	}
	list = append(list, haStatesStep(a))
	return list, steps.Lint(list, steps.HostNames(a))
}
