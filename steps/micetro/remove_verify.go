package micetro

import (
	"context"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// Step verify-remaining-members of micetro-remove-member: the members that
// stay still run Central (every one that ran it before this run: service
// active, port 1231 listening), and the removed one does not. Micetro
// documents no API for the member states, so this is what hawiz can
// observe [derived]; the UI's High Availability list is the documents'
// view of it.
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html#editing-ha-member-options

func removeVerifyStep(a *RemoveAnswers) *steps.Step {
	x := a.removed()
	var names []string
	for _, m := range a.remaining() {
		names = append(names, m.Name)
	}
	return &steps.Step{
		ID:     StepRmVerifyCluster,
		Title:  fmt.Sprintf("Verify the cluster without %s: %s still run Central", x.Name, strings.Join(names, ", ")),
		Why:    "the removal must leave the other members running; Micetro documents no API for the member states, so hawiz checks what it can observe [derived]",
		DocRef: refsEdit(&a.HAAnswers, x, "Remove Member"),
		Mode:   steps.Once,
		Actions: []string{
			"probe every member: each that stays and ran Central before this run still runs it (service active, port 1231); " + x.Name + "'s Central is stopped",
		},
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			runs, evs, errs := runningAll(ctx, e, &a.Common)
			var ev, bad []string
			up := 0
			for i := range a.Members {
				m := &a.Members[i]
				if errs[i] != nil {
					return "", errs[i]
				}
				ev = append(ev, m.Name+": "+evs[i])
				before, _ := e.Fact(factRanBefore(m))
				switch {
				case m == x && runs[i]:
					bad = append(bad, fmt.Sprintf("%s (removed) runs Central again: %s", m.Name, evs[i]))
				case m != x && runs[i]:
					up++
				case m != x && before == "true":
					bad = append(bad, fmt.Sprintf("%s ran Central before this run and does not now: %s", m.Name, evs[i]))
				}
			}
			if up == 0 {
				bad = append(bad, "no member that stays runs Central")
			}
			if len(bad) > 0 {
				return "", fmt.Errorf("%s", strings.Join(bad, "; "))
			}
			return strings.Join(ev, "; "), nil
		},
	}
}
