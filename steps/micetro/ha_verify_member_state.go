package micetro

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// Steps verify-primary-active ("Verify that the current server is running
// with state Active") and verify-MEMBER-standby ("Verify that you now have N
// servers, one primary and N-1 secondaries in High Availability") of
// micetro-central-ha: the operator reads the states in the UI; hawiz checks
// that Central runs on the member.
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html
// (C1 central_ha.rst, Linux or Windows, steps 5 and 10).

func stateInstructions(a *HAAnswers, upto int) []string {
	var want []string
	for j := 0; j <= upto; j++ {
		st := "Standby"
		if j == 0 {
			st = "Active"
		}
		want = append(want, fmt.Sprintf("%q (priority %d): %s", a.Members[j].Name, a.Members[j].Priority, st))
	}
	where := "Admin → Configuration → High Availability in the Micetro web UI"
	if a.VersionUI == UI101 {
		where = "Tools → Manage High availability in the Management Console"
	}
	return []string{
		"Log in as \"administrator\" and open " + where + ".",
		"Check the states: " + strings.Join(want, "; ") + ".",
		"A member shown Offline has no recent heartbeat: check its name and its clock, and its startup log.",
	}
}

func stateStep(a *HAAnswers, i int, id, title, doc string) *steps.Step {
	m := &a.Members[i]
	vals := []steps.KV{}
	for j := 0; j <= i; j++ {
		st := "Standby"
		if j == 0 {
			st = "Active"
		}
		vals = append(vals, steps.KV{Label: a.Members[j].Name, Value: st})
	}
	return &steps.Step{
		ID:     id,
		Title:  title,
		Why:    "only the UI shows the members' HA states (Active, Standby, Offline); Micetro documents no API for them",
		DocRef: doc,
		Hosts:  []string{m.Host.Name},
		Mode:   steps.Once,
		Manual: &steps.Manual{Instructions: stateInstructions(a, i), Values: vals},
		Check:  manualCheck(id, a),
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			recordConfirmed(e, id)
			return nil
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			h, err := e.Host(hn)
			if err != nil {
				return "", err
			}
			ok, ev, err := running(ctx, &a.Common, h, m)
			if err == nil && !ok {
				err = errors.New(ev)
			}
			return ev, err
		},
	}
}
