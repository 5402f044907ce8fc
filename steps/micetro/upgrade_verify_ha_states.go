package micetro

import (
	"context"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// Step verify-ha-states of micetro-central-upgrade: "All servers are upgraded
// and again in High Availability mode" (the operator reads the states in the
// UI; hawiz checks every member's version).
// Docs: https://docs.menandmice.com/en/10.1/guides/implementation/central_ha.html#update-central-ha
// (C2 central_ha.rst on branch 10.1, "Updating Central in High Availability
// setup", step 4); C11 updates.rst (Micetro Version).

func haStatesStep(a *UpgradeAnswers) *steps.Step {
	id := StepUpVerifyHAStates
	var vals []steps.KV
	for i, m := range a.Members {
		st := "Standby"
		if i == 0 {
			st = "Active"
		}
		vals = append(vals, steps.KV{Label: m.Name, Value: st + ", " + a.Installer.ExpectedVersion})
	}
	return &steps.Step{
		ID:     id,
		Title:  "All servers are upgraded and again in High Availability mode",
		Why:    "only the UI shows the HA states; Micetro documents no API for them",
		DocRef: docRefs(refUpdateHA("step 4"), refMicetroVer),
		Mode:   steps.Once,
		Manual: &steps.Manual{
			Instructions: []string{
				"Log in to Micetro as \"administrator\".",
				"Admin → Configuration → High Availability (10.2 and later) or Tools → Manage High availability (Management Console): one member Active, the others Standby.",
				"Admin → Configuration → Micetro Version → Current status lists Central " + a.Installer.ExpectedVersion + ".",
			},
			Values: vals,
		},
		Check: func(ctx context.Context, e *steps.Env, h string) (bool, string, error) {
			return haStatesConfirmed(ctx, e, a, h)
		},
		Apply: func(ctx context.Context, e *steps.Env, _ string) error {
			recordConfirmed(e, id)
			return nil
		},
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			return allUpgraded(ctx, e, a)
		},
	}
}

// haStatesConfirmed: the operator confirmed the states in this run, or
// every member already ran the expected version before it.
func haStatesConfirmed(ctx context.Context, e *steps.Env, a *UpgradeAnswers, h string) (bool, string, error) {
	if done, ev, err := factCheck(StepUpVerifyHAStates)(ctx, e, h); done || err != nil {
		return done, ev, err
	}
	if v, _ := e.Fact(factUpgradedBefore); v != "yes" {
		return false, "not confirmed yet", nil
	}
	return true, "inferred: every member already ran " + a.Installer.ExpectedVersion + " before this run", nil
}

// allUpgraded: every member reports the expected version.
func allUpgraded(ctx context.Context, e *steps.Env, a *UpgradeAnswers) (string, error) {
	var ev []string
	for i := range a.Members {
		m := &a.Members[i]
		h, err := e.Host(m.Host.Name)
		if err != nil {
			return "", err
		}
		ok, v, err := upgraded(ctx, a, h, m)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", fmt.Errorf("%s reports %s", m.Host.Name, v)
		}
		ev = append(ev, m.Host.Name+" "+a.Installer.ExpectedVersion)
	}
	return strings.Join(ev, ", "), nil
}
