// ha_start_first_server.go: step start-first-server of opsmanager-ha: one
// Application server starts first, and creates gen.key when there is none
// yet (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// step 5, M2; "Started in", M11; "gen.key", M1). Starting is in start.go.

package opsmanager

import (
	"context"

	"github.com/hawiz/hawiz/steps"
)

func haStartFirstServer(a *Answers) *steps.Step {
	c := &a.Common
	return &steps.Step{
		ID:      StepStartFirst,
		Title:   "Start one of the Application servers",
		Why:     "the first server starts (and creates gen.key when there is none yet)",
		DocRef:  docRefs(haProcStep("5", "start one of the Application servers"), refStartStop, refGenKey),
		Hosts:   c.serverNames()[:1],
		Mode:    steps.Once,
		Actions: []string{"start Ops Manager; wait for /monitor/health 200 over SSH and \"Started in\" in mms0-startup.log"},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			return startCheck(ctx, e, c, host)
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error {
			// With a key of its own already placed, the first server must hold it.
			return startApply(ctx, e, c, host, a.GenKey.Mode != GenKeyFirst)
		},
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			return startVerify(ctx, e, c, host)
		},
	}
}
