package micetro

import (
	"context"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// Step members-already-in-ha of micetro-central-ha: adding a member to a
// cluster that already runs in High Availability. The document's procedure
// is written for setting a cluster up; for a cluster that runs it says
// "Repeat these steps for each high availability failover you'd like to add"
// (the note after the last step): the steps of a failover member (register
// it, stop it, copy the preferences to it, start it, verify), not the
// primary's (name it, restart it, register it, restart it again). So a
// member that is already in HA is left untouched: no write, no stop, no
// restart, no second registration.
//
// hawiz recognises such a member in preflight, before anything changes: its
// preferences.cfg holds exactly one ClusterMemberName, the answers' name,
// and its Central service is active with port 1231 listening. Whether the
// member is registered in the High Availability list only Micetro's UI
// shows (no documented API, procedures.md B.8), so the operator confirms it
// once for every recognised member together. Until then nothing of theirs
// is skipped; a run that does not confirm stops here, before any change.
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html
// (Linux or Windows: the note after step 14; steps 3–6 and 13, where the
// list and the states are seen).

// StepMembersInHA is the step's ID (stable: it is in state files).
const StepMembersInHA = "members-already-in-ha"

// factInHABefore records, once per run (in preflight, before anything
// changes), whether member m was already in HA as far as its host shows:
// "yes: EVIDENCE" or "no: EVIDENCE".
func factInHABefore(m *Member) string { return "in-ha-before-run." + m.Host.Name }

// inHAObserved tells from what preflight read on member i (f) and whether
// Central runs there whether the member is already in HA as its host
// shows it.
func inHAObserved(a *HAAnswers, i int, f memberFacts, run bool, runEv string) (bool, string) {
	m := &a.Members[i]
	if f.prefs == nil {
		return false, "no preferences.cfg"
	}
	names := f.prefs.Find(ElemClusterMemberName)
	switch {
	case len(names) == 0:
		return false, a.prefsPath(m) + " has no ClusterMemberName"
	case len(names) > 1:
		return false, fmt.Sprintf("%s has %d ClusterMemberName lines", a.prefsPath(m), len(names))
	case names[0].Value != m.Name:
		return false, fmt.Sprintf("%s has ClusterMemberName %q, not %q", a.prefsPath(m), names[0].Value, m.Name)
	case !run:
		return false, fmt.Sprintf("ClusterMemberName %q, but %s", m.Name, runEv)
	}
	return true, fmt.Sprintf("ClusterMemberName %q in %s (line %d); %s", m.Name, a.prefsPath(m), names[0].No, runEv)
}

// recordInHABefore records factInHABefore for every member, once per run.
func recordInHABefore(e *steps.Env, a *HAAnswers, facts []memberFacts, runs []bool, evs []string) {
	for i := range a.Members {
		m := &a.Members[i]
		in, ev := inHAObserved(a, i, facts[i], runs[i], evs[i])
		v := "no: " + ev
		if in {
			v = "yes: " + ev
		}
		e.SetFact(factInHABefore(m), v)
	}
}

// inHARecorded: preflight recorded factInHABefore for every member.
func inHARecorded(e *steps.Env, a *HAAnswers) bool {
	for i := range a.Members {
		if _, ok := e.Fact(factInHABefore(&a.Members[i])); !ok {
			return false
		}
	}
	return true
}

// observedInHA lists the members (indices) preflight found already in HA,
// with its evidence for each.
func observedInHA(e *steps.Env, a *HAAnswers) (idx []int, evs []string) {
	for i := range a.Members {
		if v, _ := e.Fact(factInHABefore(&a.Members[i])); strings.HasPrefix(v, "yes: ") {
			idx = append(idx, i)
			evs = append(evs, strings.TrimPrefix(v, "yes: "))
		}
	}
	return idx, evs
}

// alreadyInHA: member m was found in HA before this run and the operator
// confirmed the recognised members' registration in this run. Its steps
// are then skipped with this evidence.
func alreadyInHA(e *steps.Env, m *Member) (bool, string) {
	v, _ := e.Fact(factInHABefore(m))
	if !strings.HasPrefix(v, "yes: ") {
		return false, ""
	}
	at, ok := e.Fact(factConfirmed(StepMembersInHA))
	if !ok {
		return false, ""
	}
	return true, fmt.Sprintf("%s was already in High Availability before this run (named and running; registration confirmed by the operator at %s, step %s): left untouched", m.Name, at, StepMembersInHA)
}

// leaveInHA wraps the Check of member i's step s: when the member is
// already in HA, the step is done without touching the host. The plan says
// so in the step's actions.
func leaveInHA(a *HAAnswers, i int, s *steps.Step) *steps.Step {
	m := &a.Members[i]
	check := s.Check
	s.Check = func(ctx context.Context, e *steps.Env, h string) (bool, string, error) {
		if ok, ev := alreadyInHA(e, m); ok {
			return true, ev, nil
		}
		return check(ctx, e, h)
	}
	s.Actions = append(s.Actions, fmt.Sprintf("skipped, leaving %s untouched, when %s is recognised as already in High Availability (step %s)", m.Host.Name, m.Name, StepMembersInHA))
	return s
}

// membersInHA is the step. Its Manual is the plan's (every member, and the
// rule); its Check puts the members it recognised in their place before
// the engine shows it (a Once step: the engine reads Manual for the
// operator only after this Check returned, on the same goroutine; the
// plan builds its own steps).
type membersInHA struct {
	a  *HAAnswers
	st *steps.Step
}

func membersInHAStep(a *HAAnswers) *steps.Step {
	s := &membersInHA{a: a}
	p := &a.Members[0]
	vals := make([]steps.KV, len(a.Members))
	for i, m := range a.Members {
		vals[i] = steps.KV{Label: m.Name, Value: fmt.Sprintf("%s, priority %d: recognised (and left untouched) when its preferences.cfg names it and Central runs there", m.Host.Name, m.Priority)}
	}
	s.st = &steps.Step{
		ID:     StepMembersInHA,
		Title:  "Members already in High Availability: confirm they are registered; hawiz leaves them untouched and adds only the others",
		Why:    "for a cluster that runs, the document repeats a failover member's steps for each member added; a member already in HA is not named, restarted or registered again",
		DocRef: docRefs(refAddFailover(a, p), haRef(a, p, hsRegisterMember), haRef(a, p, hsVerifyPair)),
		Mode:   steps.Once,
		Actions: []string{
			"(preflight, before anything changes) read on every member: ClusterMemberName in preferences.cfg, the Central service, port " + fmt.Sprint(CentralPort),
			"a member whose preferences.cfg holds exactly one ClusterMemberName, its name in the answers, and whose Central runs (active, port 1231 listening) is recognised as already in High Availability",
			"none recognised: nothing to confirm; else the operator confirms once, for all of them, that they are registered; their steps are then skipped (no write, no stop, no restart, no registration) and only the other members' steps run",
		},
		Manual: &steps.Manual{
			Instructions: s.instructions(nil),
			Values:       vals,
		},
		Check:  s.check,
		Apply:  s.apply,
		Verify: s.verify,
		After:  []string{StepPreflight},
	}
	return s.st
}

// instructions for the operator; recognised nil: the plan's (hawiz lists
// the members when it has read them).
func (s *membersInHA) instructions(recognised []string) []string {
	where := "Admin → Configuration → High Availability in the Micetro web UI"
	if s.a.VersionUI == UI101 {
		where = "Tools → Manage High availability in the Management Console"
	}
	which := "each member listed below"
	if recognised == nil {
		which = "each member hawiz recognises (listed here when it has read the members; the rule is below)"
	}
	return []string{
		"Log in as \"administrator\" and open " + where + ".",
		"Check that the list holds " + which + " under its name (its State Active or Standby).",
		"If all of them are listed, confirm: hawiz leaves them untouched (no write, no stop, no restart, no second registration) and runs the documented steps only for the other members.",
		"If one is missing, do not confirm: nothing has changed yet. Resume with --skip " + StepMembersInHA + " to have hawiz run every member's steps as for a new cluster (the primary is then restarted).",
		"To answer in advance (without a terminal): --confirm " + StepMembersInHA + ".",
	}
}

// observe makes sure the members were read before anything changed: by
// preflight, else (preflight not run in this run: --from, --only) now.
func (s *membersInHA) observe(ctx context.Context, e *steps.Env) error {
	if inHARecorded(e, s.a) {
		return nil
	}
	facts := gatherMembers(ctx, e, s.a)
	for _, f := range facts {
		if f.err != nil {
			return f.err
		}
	}
	runs, evs, errs := runningAll(ctx, e, &s.a.Common)
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	recordInHABefore(e, s.a, facts, runs, evs)
	return nil
}

func (s *membersInHA) check(ctx context.Context, e *steps.Env, h string) (bool, string, error) {
	if err := s.observe(ctx, e); err != nil {
		return false, "", err
	}
	a := s.a
	idx, evs := observedInHA(e, a)
	if len(idx) == 0 {
		return true, "no member was in High Availability before this run: every member's steps run", nil
	}
	list := s.listed(idx, evs)
	if at, ok := e.Fact(factConfirmed(StepMembersInHA)); ok {
		return true, "confirmed by the operator at " + at + " that these are registered: " + list, nil
	}
	var names []string
	vals := make([]steps.KV, len(idx))
	for k, i := range idx {
		m := &a.Members[i]
		names = append(names, m.Name)
		vals[k] = steps.KV{Label: m.Name, Value: fmt.Sprintf("%s (priority %d in the answers): %s", m.Host.Name, m.Priority, evs[k])}
	}
	s.st.Manual = &steps.Manual{Instructions: s.instructions(names), Values: vals}
	return false, "already in High Availability as the hosts show (named, Central running): " + list + "; waiting for the operator to confirm that they are registered", nil
}

// listed is "central1 (host: evidence); …".
func (s *membersInHA) listed(idx []int, evs []string) string {
	parts := make([]string, len(idx))
	for k, i := range idx {
		m := &s.a.Members[i]
		parts[k] = fmt.Sprintf("%s (%s: %s)", m.Name, m.Host.Name, evs[k])
	}
	return strings.Join(parts, "; ")
}

func (s *membersInHA) apply(_ context.Context, e *steps.Env, _ string) error {
	recordConfirmed(e, StepMembersInHA)
	return nil
}

func (s *membersInHA) verify(ctx context.Context, e *steps.Env, h string) (string, error) {
	if !inHARecorded(e, s.a) {
		return "", fmt.Errorf("the members were not read in this run (preflight)")
	}
	idx, evs := observedInHA(e, s.a)
	if len(idx) == 0 {
		return "no member was in High Availability before this run", nil
	}
	at, ok := e.Fact(factConfirmed(StepMembersInHA))
	if !ok {
		return "", fmt.Errorf("the operator has not confirmed that %s are registered in High Availability", s.listed(idx, evs))
	}
	untouched := make([]string, len(idx))
	for k, i := range idx {
		untouched[k] = s.a.Members[i].Name
	}
	return fmt.Sprintf("confirmed by the operator at %s; left untouched: %s (%s)", at, strings.Join(untouched, ", "), s.listed(idx, evs)), nil
}

// tweaksInHA wraps set-ha-tweaks' Check: a primary already in HA is left
// untouched, so its file must already hold the answers' ha_tweaks (the
// failovers added get them with the copy); otherwise the run stops, before
// anything is written, naming the field.
func tweaksInHA(a *HAAnswers, s *steps.Step) *steps.Step {
	p := &a.Members[0]
	check := s.Check
	want := a.HATweaks.values()
	s.Check = func(ctx context.Context, e *steps.Env, h string) (bool, string, error) {
		in, ev := alreadyInHA(e, p)
		if !in {
			return check(ctx, e, h)
		}
		got, err := verifyPrefs(ctx, e, &a.Common, p, want)
		if err != nil {
			return false, "", fmt.Errorf("ha_tweaks: %s is already in High Availability and left untouched, so hawiz does not change its heartbeat settings, and the members added get the primary's: %w. Set ha_tweaks to the values in that file or leave ha_tweaks out. Nothing was changed", p.Name, err)
		}
		return true, ev + "; " + got, nil
	}
	s.Actions = append(s.Actions, fmt.Sprintf("when %s is recognised as already in High Availability: not written; its file must already hold these values (else the run stops, naming ha_tweaks)", p.Name))
	return s
}
