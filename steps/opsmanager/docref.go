package opsmanager

import "github.com/hawiz/hawiz/steps"

// docRef is one place in MongoDB's documents (steps.DocRef: "URL (Section)").
// The App DB and upgrade-path references are in appdb.go and
// upgrade_path.go, in the same form.
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

const (
	configPage    = "https://www.mongodb.com/docs/ops-manager/current/reference/configuration/"
	startStopPage = "https://www.mongodb.com/docs/ops-manager/current/tutorial/start-and-stop-application/"
	rpmPage       = "https://www.mongodb.com/docs/ops-manager/current/tutorial/install-on-prem-with-rpm-packages/"
	archivePage   = "https://www.mongodb.com/docs/ops-manager/current/tutorial/install-on-prem-from-archive/"
	backingPage   = "https://www.mongodb.com/docs/ops-manager/current/tutorial/prepare-backing-mongodb-instances/"
	logsPage      = "https://www.mongodb.com/docs/ops-manager/current/tutorial/manage-ops-manager-logs/"
	agentPage     = "https://www.mongodb.com/docs/ops-manager/v4.2/reference/mongodb-agent-settings/"
	credsPage     = "https://www.mongodb.com/docs/ops-manager/v6.0/tutorial/encrypt-user-credentials/"
	upgrade60Page = "https://www.mongodb.com/docs/ops-manager/v6.0/tutorial/upgrade-ops-manager/"
	upgrade40Page = "https://www.mongodb.com/docs/ops-manager/v4.0/tutorial/nav/upgrade-application/"
	troubleUpPage = "https://www.mongodb.com/docs/ops-manager/v5.0/reference/troubleshooting/upgrades/"
)

// haProcStep is step n of the Procedure section of the HA page, with the
// words of its title.
func haProcStep(n, title string) docRef {
	return docRef{DocHA + "#procedure", "Procedure, step " + n + ": " + title}
}

// upgradeStep is step n (or "steps 1–3") of the upgrade page's procedure.
func upgradeStep(n, title string) docRef {
	return docRef{DocUpgrade, "upgrade procedure, " + n + ": " + title}
}

var (
	refHAOverviewServers = docRef{DocHA + "#overview", "Overview › Multiple Ops Manager Application Servers: the load balancer must not return cached content"}
	refMultipleServers   = docRef{DocHA + "#overview", "Overview › Multiple Ops Manager Application Servers"}
	refReplHostsStep     = haProcStep("3", "update each Application host with the replication hosts")
	refStartFirstStep    = haProcStep("5", "start one of the Application servers")
	refCopyKeyStep       = haProcStep("6", "copy the gen.key file to every other Application server")
	refLBHealthStep      = haProcStep("1", "the load balancer checks /monitor/health: 200 healthy, 500 unhealthy")
	refUpdateComponents  = upgradeStep("step 5", "Update Software Components")
	refConfigFile        = docRef{configPage, "the whole page: conf-mms.properties and its settings"}
	refObsolete          = docRef{"https://www.mongodb.com/docs/ops-manager/current/reference/troubleshooting/system/", "the whole page: [OBSOLETE SETTING] stops startup"}
	refWindowsLast       = docRef{"https://www.mongodb.com/docs/ops-manager/v4.2/tutorial/install-on-prem-windows/", "the whole page: Windows installs, last in v4.2"}
	refHAPrereqs         = docRef{DocHA + "#prerequisites", "Prerequisites"}
	refHAProcedureIntro  = docRef{DocHA + "#procedure", "Procedure, introduction: if you create your own gen.key, distribute it to the servers before starting any"}
	refGenKey            = docRef{DocHA, "Overview › The gen.key File"}
	refGenKeyImportant   = docRef{DocHA, "Overview › The gen.key File, Important: back up gen.key to a secure location once generated"}
	refLBSettings        = docRef{DocHA + "#procedure", "Procedure, step 1 notes: caching off, HTTP idle timeout 180 s, HAProxy 10m timeouts, X-Forwarded-For or Proxy Protocol"}
	refCentralURL        = docRef{configPage, "mms.centralUrl"}
	refRemoteIPHeader    = docRef{configPage, "mms.remoteIp.header"}
	refMongoURI          = docRef{configPage, "mongo.mongoUri"}
	refEncryptedCreds    = docRef{configPage, "mongo.encryptedCredentials, mongo.ssl and the other App DB TLS settings"}
	refCredentialsTool   = docRef{credsPage, "the whole page: credentialstool reads /etc/mongodb-mms/gen.key"}
	refAgentConfig       = docRef{agentPage, "the whole page: MongoDB Agent configuration file locations"}
	refStartStop         = docRef{startStopPage, "Start Ops Manager: the startup log shows \"Started in\""}
	refInstallRPM        = docRef{rpmPage, "the whole page: /opt/mongodb/mms, user mongodb-mms, /etc/mongodb-mms/gen.key"}
	refInstallArchive    = docRef{archivePage, "the whole page: <install_dir>, ${HOME}/.mongodb-mms/gen.key"}
	refBacking           = docRef{backingPage, "the whole page: a dedicated replica set, three data-bearing members, lower-case host names"}
	refUpgradeMode       = docRef{upgrade60Page, "Upgrade Mode (4.2 and later): upgrade one server at a time"}
	refUpgradeBackup     = docRef{upgrade40Page, "before you upgrade: back up conf-mms.properties and gen.key"}
	refUpgradePathNoDown = docRef{DocUpgrade, "Upgrade Path: the latest patch of your series first, then the next series; no downgrade"}
	refFailedRolling     = docRef{troubleUpPage, "Failed Rolling Upgrade"}
	refLogsOverwrite     = docRef{logsPage, "the whole page: upgrades overwrite configuration files such as logback.xml"}
)
