// upgrade.go holds the opsmanager-upgrade procedure: its step IDs, its
// answers template and its ordered table of steps. Each step is in the file
// named after its ID (upgrade_<id>.go); helpers the steps share are in
// files named for what they do (staging.go, install.go, backup.go,
// server.go).

package opsmanager

import (
	"github.com/hawiz/hawiz/steps"
)

// DocUpgrade is the page the upgrade follows (M16 steps; Upgrade Mode, M17).
const DocUpgrade = "https://www.mongodb.com/docs/ops-manager/current/tutorial/upgrade-ops-manager/"

// Step IDs of opsmanager-upgrade.
const (
	StepUpPreflight = "preflight-servers"
	StepUpPackage   = "check-upgrade-package"
	StepUpBackup    = "back-up-conf-and-gen-key"
	StepUpLocalKey  = "back-up-gen-key"
	StepUpEach      = "upgrade-each-server"
	StepUpDone      = "verify-upgrade-complete"
)

// UpgradeProcedure returns the opsmanager-upgrade procedure.
func UpgradeProcedure() *steps.Procedure {
	return &steps.Procedure{
		Name:        "opsmanager-upgrade",
		Title:       "MongoDB Ops Manager HA upgrade, one server at a time",
		Description: "Upgrade every Ops Manager Application server of an HA deployment one at a time (Upgrade Mode)",
		DocURL:      DocUpgrade,
		Version:     1,
		NewAnswers:  func() steps.Answers { return &UpgradeAnswers{} },
		Template:    TemplateUpgrade,
		Steps:       func(a steps.Answers) ([]*steps.Step, error) { return upgradeSteps(a.(*UpgradeAnswers)) },
	}
}

// TemplateUpgrade is printed by `hawiz answers opsmanager-upgrade`.
const TemplateUpgrade = `# hawiz answers: opsmanager-upgrade (one server at a time, Upgrade Mode)
ssh:
  user: admin
servers:                    # upgraded in this order
  - name: om1
    install: package
  - name: om2
    install: package
upgrade:
  package: ./mongodb-mms-8.0.1.500.20241029T1739Z.amd64.deb   # .deb, .rpm or .tar.gz
  version: 8.0.1.500.20241029T1739Z                          # as dpkg-query / rpm -q report it
  # sha256: <64 hex digits>
  # remote_dir: /var/tmp    # where the package's private staging directory is made (default /tmp)
gen_key_backup_to: ./gen.key.before-upgrade
# load_balancer: {url: http://opsmanager.example.net:8080}   # health through the LB at the end
# start_timeout: 10m
`

// upFact names a fact of host kept through the upgrade (the version it ran
// before, the pre-upgrade hashes).
func upFact(host, k string) string { return "upgrade." + host + "." + k }

// upgradeSteps is the procedure in the order of the document (M16), one
// server at a time (M17).
func upgradeSteps(a *UpgradeAnswers) ([]*steps.Step, error) {
	return stepTable(
		upPreflightServers(a),
		upCheckUpgradePackage(a),
		upBackUpConfAndGenKey(a),
		upBackUpGenKey(a),
		upUpgradeEachServer(a),
		upVerifyUpgradeComplete(a),
	), nil
}
