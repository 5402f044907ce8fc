package micetro

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hawiz/hawiz/steps"
)

// This file holds what the manual steps (work in Micetro's UI) share: the
// operator's confirmation recorded as a fact, and the inference that a
// cluster complete before this run needs no confirmation again.

// recordConfirmed records that the operator confirmed manual step id now.
func recordConfirmed(e *steps.Env, id string) {
	e.SetFact(factConfirmed(id), time.Now().UTC().Format(time.RFC3339))
}

// factCheck: a manual step is done when this run's state records the
// operator's confirmation (Micetro has no API to read HA members, B.8).
func factCheck(id string) func(context.Context, *steps.Env, string) (bool, string, error) {
	return func(_ context.Context, e *steps.Env, _ string) (bool, string, error) {
		if v, ok := e.Fact(factConfirmed(id)); ok {
			return true, "confirmed by the operator at " + v, nil
		}
		return false, "not confirmed yet", nil
	}
}

// manualCheck: confirmed in this run's state, or inferred: the cluster was
// already complete before this run changed anything (every member named,
// holding the primary's copy and running), which hawiz only reaches after
// every UI step was confirmed. (A second run of a finished procedure asks
// only members-already-in-ha's one confirmation: its members are all in HA,
// and their steps are skipped before this inference is needed; it still
// serves a run whose operator skipped that step.)
func manualCheck(id string, a *HAAnswers) func(context.Context, *steps.Env, string) (bool, string, error) {
	fc := factCheck(id)
	return func(ctx context.Context, e *steps.Env, h string) (bool, string, error) {
		if done, ev, err := fc(ctx, e, h); done || err != nil {
			return done, ev, err
		}
		return inferredDone(ctx, e, a)
	}
}

// factCompleteBefore records, once per run (in preflight, before anything
// changes), whether the cluster was already complete.
const factCompleteBefore = "cluster-complete-before-run"

func inferredDone(ctx context.Context, e *steps.Env, a *HAAnswers) (bool, string, error) {
	if v, _ := e.Fact(factCompleteBefore); strings.HasPrefix(v, "yes") {
		return true, "inferred: " + strings.TrimPrefix(v, "yes: ") + " before this run, and hawiz gets there only after every UI step", nil
	}
	return false, "not confirmed yet", nil
}

// clusterComplete: the primary names itself, every failover holds the
// primary's file with its own name, and Central runs on every member. The
// files are preflight's reads (facts); runs and evs whether Central runs on
// each member (runningAll).
func clusterComplete(a *HAAnswers, facts []memberFacts, runs []bool, evs []string) (bool, string, error) {
	p := &a.Members[0]
	pr := facts[0].prefs
	if pr == nil {
		return false, p.Host.Name + " has no preferences.cfg", nil
	}
	if v, _ := pr.Get(ElemClusterMemberName); v != p.Name {
		return false, p.Host.Name + " is not named yet", nil
	}
	for i := 1; i < len(a.Members); i++ {
		cs := copyState{primary: pr, info: facts[i].info}
		if facts[i].prefs != nil {
			cs.member = facts[i].prefs.Bytes()
		}
		if ok, ev, err := copyDoneIn(a, i, cs); err != nil || !ok {
			return false, ev, err
		}
	}
	for i := range a.Members {
		if !runs[i] {
			return false, a.Members[i].Host.Name + ": " + evs[i], nil
		}
	}
	return true, fmt.Sprintf("all %d members were configured and running", len(a.Members)), nil
}
