package micetro

import (
	"context"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// Step confirm-active-member of micetro-central-upgrade: before anything
// stops, the member hawiz upgrades first (the first in the answers) is the
// Active one. After a failover the Active Central is not the member anyone
// wrote down first; stopping it and upgrading a standby first is the
// reverse of the documented order. Micetro documents no API or file that
// names the Active member (only the UI's High Availability page shows the
// states), so hawiz observes what it can, which Centrals run: a member
// whose Central is stopped is not Active, and when exactly one member runs
// Central, that one is. Otherwise the operator confirms it in the UI.
// Docs: https://docs.menandmice.com/en/10.1/guides/implementation/central_ha.html#update-central-ha
// (Updating Central in High Availability setup, steps 1–2).

// factActiveObserved records what hawiz saw when it could tell the Active
// member itself (set once; the run's later stops change what runs).
const factActiveObserved = "active-member.observed"

type activeMember struct{ a *UpgradeAnswers }

func activeMemberStep(a *UpgradeAnswers) *steps.Step {
	s := &activeMember{a}
	first := &a.Members[0]
	vals := make([]steps.KV, len(a.Members))
	for i, m := range a.Members {
		role := "standby: stopped first, upgraded after the Active member"
		if i == 0 {
			role = "suggested as the Active member (the first in the answers): upgraded first"
		}
		vals[i] = steps.KV{Label: m.Name, Value: m.Host.Name + " — " + role}
	}
	return &steps.Step{
		ID:     StepUpActiveMember,
		Title:  "Before anything stops: the member upgraded first is the Active one",
		Why:    "the secondaries are stopped and the primary, the member that is Active, is upgraded first; after a failover that is not the member listed first",
		DocRef: refUpdateHA("steps 1–2").String(),
		Mode:   steps.Once,
		Actions: []string{
			"probe every member: its Central service, port " + fmt.Sprint(CentralPort),
			"exactly one member runs Central: that one is Active (it must be " + first.Name + "); else the operator confirms in Micetro's UI that " + first.Name + " is Active",
		},
		Manual: &steps.Manual{
			Instructions: []string{
				"Log in to Micetro as \"administrator\": Admin → Configuration → High Availability (10.2 and later) or Tools → Manage High availability (Management Console), and read which member's State is Active.",
				fmt.Sprintf("If %s (%s) is Active, confirm: hawiz stops the other members, upgrades %s first, then each of the others in the answers' order.", first.Name, first.Host.Name, first.Name),
				"If another member is Active (after a failover), do not confirm: quit, list the Active member first under members in the answers and run again. Nothing has been stopped or installed yet.",
				"To answer in advance (without a terminal): --confirm " + StepUpActiveMember + " confirms that " + first.Name + " is Active.",
			},
			Values: vals,
		},
		Check:  s.check,
		Apply:  s.apply,
		Verify: s.verify,
	}
}

// known: the Active member was confirmed or observed in this run, or
// nothing is to be upgraded.
func (s *activeMember) known(ctx context.Context, e *steps.Env, h string) (bool, string, error) {
	if done, ev, err := factCheck(StepUpActiveMember)(ctx, e, h); done || err != nil {
		return done, ev, err
	}
	if v, ok := e.Fact(factActiveObserved); ok {
		return true, v, nil
	}
	if v, _ := e.Fact(factUpgradedBefore); v == "yes" {
		return true, "every member already ran " + s.a.Installer.ExpectedVersion + " before this run: nothing stops", nil
	}
	return false, "", nil
}

func (s *activeMember) check(ctx context.Context, e *steps.Env, h string) (bool, string, error) {
	if done, ev, err := s.known(ctx, e, h); done || err != nil {
		return done, ev, err
	}
	a := s.a
	runs, evs, err := s.probe(ctx, e)
	if err != nil {
		return false, "", err
	}
	first := &a.Members[0]
	var up []string
	for i, m := range a.Members {
		if runs[i] {
			up = append(up, m.Name+" ("+m.Host.Name+")")
		}
	}
	switch {
	case len(up) == 1 && runs[0]:
		ev := fmt.Sprintf("observed: only %s runs Central (%s); the others are stopped (%s), so %s is the Active member", first.Name, evs[0], strings.Join(evs[1:], "; "), first.Name)
		e.SetFact(factActiveObserved, ev)
		return true, ev, nil
	case len(up) >= 1 && !runs[0]:
		what := "is the only member running Central, so it is the Active one"
		if len(up) > 1 {
			what = "run Central"
		}
		return false, "", fmt.Errorf("%s, the first member in the answers, does not run Central (%s), so it is not the Active member; %s %s. List the Active member first under members and run again: it is upgraded first (%s). Nothing was changed", first.Name, evs[0], strings.Join(up, ", "), what, refUpdateHA("steps 1–2"))
	case len(up) == 0:
		return false, "no member runs Central: hawiz cannot tell which member was Active; confirm it in Micetro's UI (or start Central on the Active member and run again)", nil
	}
	return false, strings.Join(up, ", ") + " run Central: only Micetro's UI shows which is Active", nil
}

// probe asks every member at once whether Central runs (active, port 1231).
func (s *activeMember) probe(ctx context.Context, e *steps.Env) ([]bool, []string, error) {
	runs, evs, errs := runningAll(ctx, e, &s.a.Common)
	for i := range evs {
		evs[i] = s.a.Members[i].Name + ": " + evs[i]
	}
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return runs, evs, nil
}

func (s *activeMember) apply(_ context.Context, e *steps.Env, _ string) error {
	recordConfirmed(e, StepUpActiveMember)
	return nil
}

func (s *activeMember) verify(ctx context.Context, e *steps.Env, h string) (string, error) {
	done, ev, err := s.known(ctx, e, h)
	if err == nil && !done {
		err = fmt.Errorf("which member is Active was neither observed nor confirmed")
	}
	if done && strings.HasPrefix(ev, "confirmed") {
		ev = s.a.Members[0].Name + " is the Active member: " + ev
	}
	return ev, err
}
