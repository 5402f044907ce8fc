// ha.go holds the opsmanager-ha procedure: its step IDs, its answers
// template and its ordered table of steps. Each step is in the file named
// after its ID (ha_<id>.go); helpers the steps share are in files named
// for what they do (conf.go, genkey.go, start.go, backup.go, server.go).

package opsmanager

import (
	"github.com/hawiz/hawiz/steps"
)

// DocHA is the page the HA procedure follows (M1); its steps come from M2.
const DocHA = "https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/"

// Step IDs of opsmanager-ha (stable: they are in state files).
const (
	StepPreflight   = "preflight-servers"
	StepAppDB       = "check-appdb-replica-set"
	StepLB          = "configure-load-balancer"
	StepUseLB       = "configure-ops-manager-to-use-load-balancer"
	StepReplHosts   = "update-hosts-with-replication-hosts"
	StepAgents      = "point-agents-at-load-balancer"
	StepPlaceKey    = "place-own-gen-key"
	StepStartFirst  = "start-first-server"
	StepCopyKey     = "copy-gen-key"
	StepBackupKey   = "back-up-gen-key"
	StepStartOthers = "start-remaining-servers"
	// StepRestartChanged restarts, one at a time and only after every
	// server runs, a server whose conf-mms.properties changed while it ran.
	StepRestartChanged = "restart-changed-servers"
	StepVerifyLB       = "verify-through-load-balancer"
	StepKeepKeySafe    = "keep-gen-key-backup-safe"
	factGenKeySHA      = "gen_key.sha256"
	factGenKeyBackup   = "gen_key.backup"
)

// HA returns the opsmanager-ha procedure.
func HA() *steps.Procedure {
	return &steps.Procedure{
		Name:        "opsmanager-ha",
		Title:       "MongoDB Ops Manager Application high availability",
		Description: "Several Ops Manager Application servers behind a load balancer, one App DB replica set, one gen.key",
		DocURL:      DocHA,
		// 2: restart-changed-servers; the start steps never stop a server.
		Version:    2,
		NewAnswers: func() steps.Answers { return &Answers{} },
		Template:   TemplateHA,
		Steps:      func(a steps.Answers) ([]*steps.Step, error) { return haSteps(a.(*Answers)) },
	}
}

// TemplateHA is printed by `hawiz answers opsmanager-ha`.
const TemplateHA = `# hawiz answers: opsmanager-ha (MongoDB Ops Manager Application HA)
ssh:
  user: admin               # sudo rights needed (package installs: service mongodb-mms …)
servers:                    # every Ops Manager Application server; the first starts first
  - name: om1
    install: package        # package (rpm/deb: /opt/mongodb/mms, user mongodb-mms) or tar
  - name: om2
    install: package
  # - name: om3
  #   install: tar
  #   install_dir: /opt/mongodb/mms-current   # tar: required (a symlink, for upgrades)
  #   service_user: opsmgr                    # tar default: MMS_USER in conf/mms.conf
# paths:                    # overrides for every server (or per server under servers[].paths)
#   gen_key: /etc/mongodb-mms/gen.key
#   service_manager: systemctl               # service (package default) | systemctl | command
# https: true               # the servers serve HTTPS (port 8443)
appdb:
  # every replica-set member, no credentials here (M7)
  uri: mongodb://db1.example.net:27017,db2.example.net:27017,db3.example.net:27017/?maxPoolSize=100
  # username: opsmanager    # password: HAWIZ_APPDB_PASSWORD or the prompt; enables the live check
  # live_check: try         # try | required | off: compare replSetGetConfig with these answers
  # live_via: server        # server (through the first server's SSH) | direct (this machine) | server-then-direct
  # facility_tag: dc        # the live members' tag naming their facility: the placement rule is judged on it
  members:                  # optional: placement check (M1)
    - {host: db1.example.net:27017, facility: dc1}
    - {host: db2.example.net:27017, facility: dc1}
    - {host: db3.example.net:27017, facility: dc2, priority: 0}
load_balancer:
  url: http://opsmanager.example.net:8080
  remote_ip_header: X-Forwarded-For
  # expect: [192.0.2.10]    # the LB name's addresses, checked on every authoritative server
gen_key:
  mode: first-server        # first-server | file | generate
  backup_to: ./gen.key.backup
# agents:                   # optional: point MongoDB Agents at the LB (M2 step 4)
#   - name: db1
#     config_path: /etc/mongodb-mms/automation-agent.config
`

// haSteps is the procedure in the order of the document (M2), with the
// prerequisites hawiz checks first. On a deployment that already runs,
// every step leaves a server already in it alone (inplace.go), and a
// server whose file changed while it ran is restarted only after the
// servers being added run (restart-changed-servers).
func haSteps(a *Answers) ([]*steps.Step, error) {
	return stepTable(
		haPreflightServers(a),
		haCheckAppDBReplicaSet(a),
		haConfigureLoadBalancer(a),
		haConfigureOpsManagerToUseLoadBalancer(a),
		haUpdateHostsWithReplicationHosts(a),
		when(len(a.Agents) > 0, haPointAgentsAtLoadBalancer(a)),
		haPlaceOwnGenKey(a),
		haStartFirstServer(a),
		haCopyGenKey(a),
		haBackUpGenKey(a),
		haStartRemainingServers(a),
		haRestartChangedServers(a),
		haVerifyThroughLoadBalancer(a),
		haKeepGenKeyBackupSafe(a),
	), nil
}

// when is s when cond holds, else nil: a step the answers leave out.
func when(cond bool, s *steps.Step) *steps.Step {
	if !cond {
		return nil
	}
	return s
}

// stepTable lists the steps given, in order, leaving out the nil ones.
func stepTable(list ...*steps.Step) []*steps.Step {
	var out []*steps.Step
	for _, s := range list {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}
