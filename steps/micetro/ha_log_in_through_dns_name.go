package micetro

import (
	"context"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// Step log-in-through-dns-name of micetro-central-ha: "Log in using the
// domain name set in the DNS as the server name to verify the high
// availability cluster" (work in the UI, which the operator confirms).
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html
// (C1 central_ha.rst, Linux, step 12).

func loginStep(a *HAAnswers) *steps.Step {
	where := "the Micetro web UI"
	if a.VersionUI == UI101 {
		where = "the Management Console"
	}
	id := StepLogIn
	return &steps.Step{
		ID:     id,
		Title:  "Log in using the domain name set in the DNS as the server name to verify the high availability cluster",
		Why:    "proves that clients reach the cluster through the round-robin name",
		DocRef: haRef(a, &a.Members[0], hsLogIn).String(),
		Mode:   steps.Once,
		Manual: &steps.Manual{
			Instructions: []string{
				fmt.Sprintf("Log in to %s with %s as the server name.", where, strings.TrimSuffix(a.DNS.Name, ".")),
				"Check that the High Availability list shows one Active member and the others Standby.",
			},
			Values: []steps.KV{{Label: "Server", Value: strings.TrimSuffix(a.DNS.Name, ".")}},
		},
		Check: manualCheck(id, a),
		Apply: func(ctx context.Context, e *steps.Env, _ string) error {
			recordConfirmed(e, id)
			return nil
		},
	}
}
