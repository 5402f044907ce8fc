// ha_start_remaining_servers.go: step start-remaining-servers of
// opsmanager-ha: every other server, one at a time, only with the cluster's
// gen.key (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// last step, M2; M11). Starting is in start.go.

package opsmanager

import (
	"context"

	"github.com/hawiz/hawiz/steps"
)

func haStartRemainingServers(a *Answers) *steps.Step {
	c := &a.Common
	return &steps.Step{
		ID:     StepStartOthers,
		Title:  "Start the remaining Application servers",
		Why:    "each server starts only with the same gen.key; one at a time",
		DocRef: docRefs(haProcStep("7", "start the remaining Application servers"), refStartStop),
		Hosts:  c.serverNames()[1:],
		Mode:   steps.EachInOrder,
		Actions: []string{
			"refuse when the server's gen.key hash differs; start; wait for /monitor/health 200 and \"Started in\"",
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			return startCheck(ctx, e, c, host)
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error { return startApply(ctx, e, c, host, true) },
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			return startVerify(ctx, e, c, host)
		},
	}
}
