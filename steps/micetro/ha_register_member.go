package micetro

import (
	"context"
	"fmt"

	"github.com/hawiz/hawiz/steps"
)

// Steps register-primary ("Add the primary to the High Availability list with
// priority 10") and register-MEMBER ("Add NAME as a high availability
// failover with priority N") of micetro-central-ha: work in the UI, which the
// operator confirms.
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html
// (C1 central_ha.rst, Linux or Windows, steps 3 and 6; C2 on branch 10.1 for
// the Management Console).

// registerInstructions are the exact UI steps for adding member m.
func registerInstructions(a *HAAnswers, m *Member) []string {
	if a.VersionUI == UI101 {
		return []string{
			"Log in to the Management Console as \"administrator\" (only the administrator account(s) see the menu item).",
			"Go to Tools → Manage High availability.",
			fmt.Sprintf("Click Add; enter the name %q and set the priority to %d; click OK.", m.Name, m.Priority),
			fmt.Sprintf("The list now shows %q with priority %d.", m.Name, m.Priority),
		}
	}
	return []string{
		"Log in to the Micetro web UI as \"administrator\".",
		"Go to Admin → Configuration → High Availability.",
		fmt.Sprintf("Add Member: Name %q, Priority %d; click Add Member.", m.Name, m.Priority),
		fmt.Sprintf("The member list now shows %q with priority %d.", m.Name, m.Priority),
	}
}

// unregisterInstructions undo registerInstructions in a rollback: Remove
// Member (Editing HA Member Options), the primary last, once the
// failovers are gone from the list.
func unregisterInstructions(a *HAAnswers, m *Member, primary bool) []string {
	ins := append(removeInstructions(a, m), "As the documents describe it: "+refsEdit(a, m, "Remove Member")+".")
	if primary {
		ins = append([]string{fmt.Sprintf("Do this once every failover member is gone from the list: %q is then the only member.", m.Name)}, ins...)
	}
	return ins
}

func registerStep(a *HAAnswers, i int, id, doc string) *steps.Step {
	m := &a.Members[i]
	title := "Add the primary to the High Availability list with priority 10"
	why := "the name in the list must match ClusterMemberName in the primary's preferences.cfg"
	if i > 0 {
		title = fmt.Sprintf("Add %q as a high availability failover with priority %d", m.Name, m.Priority)
		why = "each failover member needs a unique name and a priority higher than the primary's"
	}
	p := &a.Members[0]
	return &steps.Step{
		ID:     id,
		Title:  title,
		Why:    why + " (Micetro documents no API for HA members: this is done in the UI)",
		DocRef: doc,
		Hosts:  []string{p.Host.Name},
		Mode:   steps.Once,
		Manual: &steps.Manual{
			Instructions: registerInstructions(a, m),
			Values:       []steps.KV{{Label: "Name", Value: m.Name}, {Label: "Priority", Value: fmt.Sprint(m.Priority)}},
		},
		Undo:  &steps.Manual{Instructions: unregisterInstructions(a, m, i == 0), Values: []steps.KV{{Label: "Name", Value: m.Name}}},
		Check: manualCheck(id, a),
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			if i == 0 {
				// The restart after this must come later than now (primary's clock).
				h, err := e.Host(hn)
				if err != nil {
					return err
				}
				now, prec, err := remoteNow(ctx, h, p)
				if err != nil {
					return err
				}
				e.SetFact(factRegisteredAt(p), formatHostTime(now, prec))
			}
			recordConfirmed(e, id)
			return nil
		},
	}
}
