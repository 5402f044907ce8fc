// upgrade_verify_upgrade_complete.go: step verify-upgrade-complete of
// opsmanager-upgrade: every server runs the new version, so Ops Manager
// leaves Upgrade Mode; then the agents are updated in the UI
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/upgrade-ops-manager/
// Upgrade Mode, M17; step 5, Update Software Components, M16).

package opsmanager

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

func upVerifyUpgradeComplete(a *UpgradeAnswers) *steps.Step {
	return &steps.Step{
		ID:     StepUpDone,
		Title:  "Every server runs the new version: Upgrade Mode ends",
		Why:    "Ops Manager leaves Upgrade Mode once every server is upgraded and restarted; then update the agents in the UI",
		DocRef: docRefs(refUpgradeMode, upgradeStep("step 5", "Update Software Components")),
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) { return upDone(ctx, e, a) },
	}
}

// upDone: upCheck holds on every server, and /monitor/health through the LB
// (when given) returns 200.
func upDone(ctx context.Context, e *steps.Env, a *UpgradeAnswers) (string, error) {
	c := &a.Common
	lines, err := forEachServer(ctx, c.serverNames(), func(ctx context.Context, name string) (string, error) {
		ok, ev, err := upCheck(ctx, e, a, name)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", errors.New(ev)
		}
		return ev, nil
	})
	if err != nil {
		return "", err
	}
	if a.LoadBalancer != nil {
		p, err := lbGet(ctx, a.LoadBalancer.URL+HealthPath)
		if err != nil {
			return "", err
		}
		if p.Status != 200 {
			return "", fmt.Errorf("GET %s%s through the LB: %d", a.LoadBalancer.URL, HealthPath, p.Status)
		}
		lines = append(lines, "LB "+a.LoadBalancer.URL+HealthPath+": 200")
	}
	lines = append(lines, fmt.Sprintf("every server runs %s: Ops Manager leaves Upgrade Mode. Next: log in, and when the banner says \"One or more agents are out of date\", click Update Software Components ("+refUpdateComponents.String()+")", a.Upgrade.Version))
	return strings.Join(lines, "\n"), nil
}
