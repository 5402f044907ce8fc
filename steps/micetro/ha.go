package micetro

import (
	"fmt"

	"github.com/hawiz/hawiz/steps"
)

// This file is the procedure micetro-central-ha as its document reads: the
// step IDs and one ordered table of the steps. Each step lives in its own
// file named after its ID (ha_name_primary.go, ha_copy_preferences_member.go,
// …); a file ending in _member holds a step that every failover member gets.

// DocURL is the page the HA procedure follows (docref.go holds every
// reference its steps cite).
const DocURL = haPageLatest

// Step IDs of micetro-central-ha (stable: they are in state files).
const (
	StepPreflight            = "preflight"
	StepNamePrimary          = "name-primary"
	StepSetHATweaks          = "set-ha-tweaks"
	StepRestartPrimary       = "restart-primary"
	StepRegisterPrimary      = "register-primary"
	StepRestartAfterRegister = "restart-primary-after-register"
	StepVerifyPrimaryActive  = "verify-primary-active"
	StepRoundRobinDNS        = "round-robin-dns"
	StepLogIn                = "log-in-through-dns-name"
)

// IDs of the steps every failover member gets; MEMBER is the member's slug
// (memberSlugs).
func stepRegisterMember(member string) string  { return "register-" + member }
func stepStopMember(member string) string      { return "stop-" + member }
func stepCopyPreferences(member string) string { return "copy-preferences-" + member }
func stepStartMember(member string) string     { return "start-" + member }
func stepVerifyStandby(member string) string   { return "verify-" + member + "-standby" }

// Facts of micetro-central-ha (stable: they are in state files).
func factRegisteredAt(m *Member) string { return "registered-at." + m.Host.Name }
func factRestarted(m *Member) string    { return "restarted-prefs-sha256." + m.Host.Name }
func factConfirmed(id string) string    { return "confirmed." + id }

// CentralHA is the procedure micetro-central-ha.
func CentralHA() *steps.Procedure {
	return &steps.Procedure{
		Name:        "micetro-central-ha",
		Title:       "Micetro Central high availability",
		Description: "Configure failover instances of Men&Mice Central with a round-robin DNS name",
		DocURL:      DocURL,
		Version:     1,
		NewAnswers:  func() steps.Answers { return &HAAnswers{} },
		Template:    haTemplate,
		Steps:       func(a steps.Answers) ([]*steps.Step, error) { return haSteps(a.(*HAAnswers)) },
	}
}

// haSteps is the table of micetro-central-ha: C1's steps in order, the
// primary's first, then each failover member's.
func haSteps(a *HAAnswers) ([]*steps.Step, error) {
	p := &a.Members[0]
	// A member already in High Availability (members-already-in-ha) is
	// left untouched: leaveInHA skips its steps.
	list := []*steps.Step{
		preflightStep(a),
		membersInHAStep(a),
		leaveInHA(a, 0, namePrimaryStep(a)),
	}
	if a.HATweaks != nil {
		list = append(list, tweaksInHA(a, tweaksStep(a)))
	}
	list = append(list,
		leaveInHA(a, 0, restartPrimaryStep(a, StepRestartPrimary, "Restart the primary Central application", haRef(a, p, hsRestartPrimary).String(), "")),
		leaveInHA(a, 0, registerStep(a, 0, StepRegisterPrimary, haRef(a, p, hsRegisterPrimary).String())),
		leaveInHA(a, 0, restartPrimaryStep(a, StepRestartAfterRegister, "Restart Central", haRef(a, p, hsRestartAfterRegister).String(), factRegisteredAt(p))),
		leaveInHA(a, 0, stateStep(a, 0, StepVerifyPrimaryActive, "Verify that the current server is running with state \"Active\"", haRef(a, p, hsVerifyActive).String())),
	)
	slugs := memberSlugs(a.Members, 1)
	for i := 1; i < len(a.Members); i++ {
		m, s := &a.Members[i], slugs[i]
		list = append(list,
			leaveInHA(a, i, registerStep(a, i, stepRegisterMember(s), haRef(a, m, hsRegisterMember).String())),
			leaveInHA(a, i, stopMemberStep(a, i, stepStopMember(s))),
			leaveInHA(a, i, copyPreferencesStep(a, i, stepCopyPreferences(s))),
			leaveInHA(a, i, startMemberStep(a, i, stepStartMember(s))),
			leaveInHA(a, i, stateStep(a, i, stepVerifyStandby(s), "Verify that you now have "+fmt.Sprint(i+1)+" servers, one primary and "+secondaries(i)+" in High Availability", haRef(a, m, hsVerifyPair).String())),
		)
	}
	list = append(list, dnsStep(a), loginStep(a))
	return list, steps.Lint(list, steps.HostNames(a))
}

func secondaries(n int) string {
	if n == 1 {
		return "one secondary"
	}
	return fmt.Sprintf("%d secondaries", n)
}
