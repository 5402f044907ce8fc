// ha_start_first_server.go: step start-first-server of opsmanager-ha: one
// Application server starts first, and creates gen.key when there is none
// yet (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// step 5, M2; "Started in", M11; "gen.key", M1). Starting is in start.go.

package opsmanager

import (
	"context"
	"fmt"
	"strings"

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
		Undo:    appDBUndo(a),
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

// appDBUndo says, in a rollback, what hawiz cannot undo: the data Ops
// Manager wrote into the Application Database on its first start. The
// documents give no undo of it; their recovery of an App DB is a restore
// from the backup taken before (as after a failed upgrade, M18).
func appDBUndo(a *Answers) *steps.Manual {
	first := "the first server"
	if names := a.serverNames(); len(names) > 0 {
		first = names[0]
	}
	m := &steps.Manual{Instructions: []string{
		fmt.Sprintf("On its first start (%s, step %s of the run) Ops Manager wrote its data into the Application Database: its schema and settings, and the credentials it encrypts with gen.key. hawiz cannot undo that, and the documents describe no undo of it: the rollback stops the servers the run started and restores the files the run wrote, but the App DB keeps what Ops Manager wrote.", first, StepStartFirst),
		fmt.Sprintf("If the App DB must be as it was before the run, restore it from the backup taken before the run: the documented recovery of the Application Database (%s). Otherwise leave it; a later opsmanager-ha run uses it as it is.", refFailedRolling),
	}}
	if a.GenKey.Mode == GenKeyFirst {
		m.Instructions = append(m.Instructions, fmt.Sprintf("The gen.key Ops Manager created on %s is kept (hawiz did not write it): as long as the App DB is not restored, it is the only key that decrypts the credentials in it. Keep it, and its backup.", first))
	}
	m.Values = []steps.KV{{Label: "App DB", Value: appDBHostList(a)}}
	return m
}

// appDBHostList is the App DB's members, host:port (the URI holds no
// credentials: Validate refuses them).
func appDBHostList(a *Answers) string {
	hosts, err := ParseAppDBURI(a.AppDB.URI)
	if err != nil {
		return "appdb.uri"
	}
	var s []string
	for _, h := range hosts {
		s = append(s, h.String())
	}
	return strings.Join(s, ", ")
}
