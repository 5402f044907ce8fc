package micetro

import (
	"context"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// Steps confirm-member-not-active and remove-member-in-ui of
// micetro-remove-member.
//
// confirm-member-not-active: the member to remove is not the Active one.
// Micetro documents no API or file that names the Active member (the UI's
// High Availability list shows the states), so hawiz observes what it can:
// a member whose Central is stopped is not Active; when exactly one member
// runs Central, that one is (the only one running being the removed member
// is refused). Otherwise the operator reads the state in the UI.
//
// remove-member-in-ui: "Remove Member: Remove the server member from the HA
// cluster" in the row's … menu of Admin → Configuration → High
// Availability.
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html#editing-ha-member-options
// (Editing HA Member Options, steps 1–4).

type notActive struct{ a *RemoveAnswers }

// factNotActiveObserved records what hawiz saw when it could tell the
// member is not Active itself.
const factNotActiveObserved = "not-active.observed"

func notActiveStep(a *RemoveAnswers) *steps.Step {
	s := &notActive{a}
	x := a.removed()
	return &steps.Step{
		ID:     StepRmNotActive,
		Title:  fmt.Sprintf("Before anything changes: %s is not the Active member", x.Name),
		Why:    "the documents describe Set Active and Remove Member but not removing the Active member; hawiz removes only a member that is not Active [derived]",
		DocRef: refsEdit(&a.HAAnswers, x, "Set Active, Remove Member"),
		Mode:   steps.Once,
		Actions: []string{
			"probe every member: its Central service, port " + fmt.Sprint(CentralPort),
			x.Name + "'s Central stopped, or exactly one other member runs Central: not Active; " + x.Name + " the only one running: refused; else the operator reads the state in Micetro's UI",
		},
		Manual: &steps.Manual{
			Instructions: []string{
				"Log in to Micetro as \"administrator\": " + haListPath(&a.HAAnswers) + ", and read " + x.Name + "'s State.",
				fmt.Sprintf("If %s is Standby or Offline, confirm: hawiz then asks you to remove it in the UI.", x.Name),
				fmt.Sprintf("If %s is Active, do not confirm: quit, make another member Active (Set Active, or hawiz's micetro-change-active) and run again. Nothing has been changed.", x.Name),
				"To answer in advance (without a terminal): --confirm " + StepRmNotActive + ".",
			},
			Values: []steps.KV{{Label: "Member", Value: x.Name + " (" + x.Host.Name + ")"}},
		},
		Check:  s.check,
		Apply:  func(_ context.Context, e *steps.Env, _ string) error { recordConfirmed(e, StepRmNotActive); return nil },
		Verify: s.verify,
	}
}

// haListPath is where the member list is in the answers' UI.
func haListPath(a *HAAnswers) string {
	if a.VersionUI == UI101 {
		return "in the Management Console, Tools → Manage High availability"
	}
	return "in the Micetro Web Application, Admin → Configuration → High Availability"
}

func (s *notActive) known(e *steps.Env) (bool, string) {
	if v, ok := e.Fact(factConfirmed(StepRmNotActive)); ok {
		return true, "confirmed by the operator at " + v + ": " + s.a.removed().Name + " is not Active"
	}
	if v, ok := e.Fact(factNotActiveObserved); ok {
		return true, v
	}
	return false, ""
}

func (s *notActive) check(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
	if ok, ev := s.known(e); ok {
		return true, ev, nil
	}
	a, x := s.a, s.a.removed()
	runs, evs, errs := runningAll(ctx, e, &a.Common)
	var up []string
	xRuns := false
	for i := range a.Members {
		if errs[i] != nil {
			return false, "", errs[i]
		}
		if runs[i] {
			up = append(up, a.Members[i].Name)
			if &a.Members[i] == x {
				xRuns = true
			}
		}
	}
	xi, _ := pickMember(&a.Common, a.Remove, "", "")
	switch {
	case !xRuns:
		ev := fmt.Sprintf("observed: %s's Central is stopped (%s), so it is not the Active member", x.Name, evs[xi])
		e.SetFact(factNotActiveObserved, ev)
		return true, ev, nil
	case len(up) == 1:
		return false, "", &steps.RefusedError{Reason: fmt.Sprintf("%s is the only member running Central, so it is the Active member: make another member Active first (%s; hawiz's micetro-change-active), then run again. Nothing was changed", x.Name, refEditMembers("Set Active"))}
	}
	return false, strings.Join(up, ", ") + " run Central: only Micetro's UI shows which is Active", nil
}

func (s *notActive) verify(_ context.Context, e *steps.Env, _ string) (string, error) {
	if ok, ev := s.known(e); ok {
		return ev, nil
	}
	return "", fmt.Errorf("whether %s is Active was neither observed nor confirmed", s.a.removed().Name)
}

// removeInUIStep is the UI's Remove Member.
func removeInUIStep(a *RemoveAnswers) *steps.Step {
	x := a.removed()
	return &steps.Step{
		ID:     StepRmInUI,
		Title:  fmt.Sprintf("Remove %q from the High Availability list (Remove Member)", x.Name),
		Why:    "Micetro documents no API for HA members: the member is removed in the UI",
		DocRef: refsEdit(&a.HAAnswers, x, "Remove Member"),
		Hosts:  []string{a.Members[0].Host.Name},
		Mode:   steps.Once,
		Manual: &steps.Manual{
			Instructions: removeInstructions(&a.HAAnswers, x),
			Values:       []steps.KV{{Label: "Name", Value: x.Name}, {Label: "Priority", Value: fmt.Sprint(x.Priority)}},
		},
		Check: func(ctx context.Context, e *steps.Env, h string) (bool, string, error) {
			if done, ev, err := factCheck(StepRmInUI)(ctx, e, h); done || err != nil {
				return done, ev, err
			}
			if v, _ := e.Fact(factRemovedBefore); v == "true" {
				return true, fmt.Sprintf("inferred: before this run %s's Central was stopped and its preferences.cfg named no member, which hawiz reaches only after this step was confirmed", x.Name), nil
			}
			return false, "not confirmed yet", nil
		},
		Apply: func(_ context.Context, e *steps.Env, _ string) error { recordConfirmed(e, StepRmInUI); return nil },
	}
}

// removeInstructions are the exact UI steps for removing member m.
func removeInstructions(a *HAAnswers, m *Member) []string {
	if a.VersionUI == UI101 {
		return []string{
			"Log in to the Management Console as \"administrator\" (only the administrator account(s) see the menu item).",
			"Go to Tools → Manage High availability.",
			fmt.Sprintf("Select %q (priority %d) and click Remove.", m.Name, m.Priority),
			fmt.Sprintf("The list no longer shows %q.", m.Name),
		}
	}
	return []string{
		"Log in to the Micetro Web Application as \"administrator\" and go to Admin → Configuration.",
		"Select High Availability.",
		fmt.Sprintf("Hover over the member %q (priority %d) and click the row's … menu.", m.Name, m.Priority),
		"Choose Remove Member.",
		fmt.Sprintf("The member list no longer shows %q.", m.Name),
	}
}
