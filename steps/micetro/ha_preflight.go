package micetro

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Step preflight of micetro-central-ha: every member reachable, sudo,
// preferences.cfg on an MSSQL/PostgreSQL database, clocks and versions agree.
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html
// (C1, the note on database backends); C4 central_database.rst; C3
// ha_tweaks_central.rst (heartbeats use local clocks).

func preflightStep(a *HAAnswers) *steps.Step {
	run := func(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
		ev, err := preflight(ctx, e, a)
		if err != nil {
			return false, "", err
		}
		return true, ev, nil
	}
	return &steps.Step{
		ID:     StepPreflight,
		Title:  "Preflight: every member reachable, sudo, preferences.cfg on an MSSQL/PostgreSQL database, clocks and versions agree",
		Why:    "High Availability mode is available only with the MSSQL or PostgreSQL database backend; failover compares heartbeat times, so clocks must agree",
		DocRef: docRefs(refHARequirement, refDatabase, refTweaks),
		Mode:   steps.Once,
		Actions: append([]string{
			"check sudo on every member",
			"read preferences.cfg on every member: a database of MSSQL or PostgreSQL, the same database lines everywhere, no typographic quotes",
			"read every member's clock (within " + a.MaxClockSkew.String() + ") and Central version (the same everywhere)",
		}, append(a.netPreflightActions(), a.pathNotes()...)...),
		Check: run,
		Verify: func(ctx context.Context, e *steps.Env, h string) (string, error) {
			_, ev, err := run(ctx, e, h)
			return ev, err
		},
		After: []string{},
	}
}

// memberFacts is what preflight read on one member.
type memberFacts struct {
	prefs   *Prefs
	info    remote.FileInfo
	backend Backend
	clock   time.Duration // host clock minus local midpoint
	version string
	fwd     string // whether sshd allows TCP forwarding (steps.CheckForwarding's evidence)
	noFwd   bool
	err     error
}

func preflight(ctx context.Context, e *steps.Env, a *HAAnswers) (string, error) {
	if f := e.Fleet(); f != nil && a.SSH.Sudo != steps.SudoNone && !e.SudoChecked() { // the engine checks at connect
		if err := f.CheckSudo(ctx); err != nil {
			return "", err
		}
	}
	facts := gatherMembers(ctx, e, a)
	if problems := prefsProblems(e, a, facts); len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "\n"))
	}
	skew, problems := clockAndVersionProblems(a, facts)
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "\n"))
	}
	if err := recordCompleteBefore(ctx, e, a, facts); err != nil {
		return "", err
	}
	runs, _, errs := runningAll(ctx, e, &a.Common)
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	nev, err := netPreflight(ctx, e, &a.Common, runs, facts[0].prefs.DatabaseLines()["databaseserver"])
	if err != nil {
		return "", err
	}
	ev := fmt.Sprintf("%d members; database %s %s; Central %s everywhere; clock skew ≤ %v",
		len(a.Members), facts[0].backend, facts[0].prefs.DatabaseLines()["databaseserver"], facts[0].version, skew)
	ev += "\n" + nev
	for _, f := range facts {
		if f.noFwd {
			ev += "; " + f.fwd
		}
	}
	return ev, nil
}

// gatherMembers reads every member at once (gatherMember).
func gatherMembers(ctx context.Context, e *steps.Env, a *HAAnswers) []memberFacts {
	facts := make([]memberFacts, len(a.Members))
	var wg sync.WaitGroup
	for i := range a.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			facts[i] = gatherMember(ctx, e, &a.Common, &a.Members[i])
		}()
	}
	wg.Wait()
	return facts
}

// prefsProblems lists what is wrong with the members' preferences.cfg: a
// read that failed, a broken line, a failover on another database than the
// primary's. A failover that names no database yet gets a warning: the
// primary's copy replaces its file.
func prefsProblems(e *steps.Env, a *HAAnswers, facts []memberFacts) []string {
	var problems []string
	for i, f := range facts {
		if f.err != nil {
			problems = append(problems, f.err.Error())
			continue
		}
		m := &a.Members[i]
		for _, p := range f.prefs.Problems() {
			problems = append(problems, fmt.Sprintf("%s: %s %s", m.Host.Name, a.prefsPath(m), p))
		}
		if i == 0 {
			continue
		}
		if f.backend == "" {
			e.Warn(m.Host.Name, "%s names no MSSQL/PostgreSQL database yet; it will be replaced by the primary's copy ("+haRef(a, m, hsCopyPreferences).String()+")", a.prefsPath(m))
			continue
		}
		pd, md := facts[0].prefs.DatabaseLines(), f.prefs.DatabaseLines()
		for _, k := range []string{"database", "databaseserver", "databaseusername"} {
			if pd[k] != md[k] && !(k == "database" && strings.EqualFold(pd[k], md[k])) {
				problems = append(problems, fmt.Sprintf("%s: %s is %q but the primary %s has %q: every member must use the same database", m.Host.Name, k, md[k], a.Members[0].Host.Name, pd[k]))
			}
		}
	}
	return problems
}

// clockAndVersionProblems returns the members' clock skew, and the
// problems: a skew over max_clock_skew, Central versions that differ.
func clockAndVersionProblems(a *HAAnswers, facts []memberFacts) (time.Duration, []string) {
	versions := map[string][]string{}
	offs := make([]time.Duration, len(facts))
	for i, f := range facts {
		offs[i] = f.clock
		versions[f.version] = append(versions[f.version], a.Members[i].Host.Name)
	}
	var problems []string
	skew, p := skewProblem(&a.Common, offs, a.MaxClockSkew, "max_clock_skew ")
	if p != "" {
		problems = append(problems, p)
	}
	if len(versions) > 1 {
		var vs []string
		for v, ns := range versions {
			vs = append(vs, fmt.Sprintf("%s on %s", v, strings.Join(ns, ", ")))
		}
		sort.Strings(vs)
		problems = append(problems, "Central versions differ ("+strings.Join(vs, "; ")+"): upgrade every member to the same version first")
	}
	return skew, problems
}

// recordCompleteBefore records once per run, before anything changes,
// whether the cluster was already complete (factCompleteBefore) and which
// members were already in High Availability (factInHABefore); the members'
// services are probed once, at once, for both.
func recordCompleteBefore(ctx context.Context, e *steps.Env, a *HAAnswers, facts []memberFacts) error {
	_, complete := e.Fact(factCompleteBefore)
	if complete && inHARecorded(e, a) {
		return nil
	}
	runs, evs, errs := runningAll(ctx, e, &a.Common)
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if !inHARecorded(e, a) {
		recordInHABefore(e, a, facts, runs, evs)
	}
	if complete {
		return nil
	}
	done, ev, err := clusterComplete(a, facts, runs, evs)
	if err != nil {
		return err
	}
	if done {
		e.SetFact(factCompleteBefore, "yes: "+ev)
	} else {
		e.SetFact(factCompleteBefore, "no: "+ev)
	}
	return nil
}

// gatherMember reads m's preferences.cfg, clock and Central version: three
// read-only probes at once.
func gatherMember(ctx context.Context, e *steps.Env, c *Common, m *Member) memberFacts {
	var f memberFacts
	h, err := e.Host(m.Host.Name)
	if err != nil {
		f.err = err
		return f
	}
	var (
		p                      *Prefs
		fwdOK                  bool
		errP, errC, errV, errF error
	)
	par(func() { p, f.info, errP = readPrefs(ctx, c, h, m) },
		func() { f.clock, errC = memberClock(ctx, h, m) },
		func() { f.version, errV = centralVersion(ctx, c, h, m) },
		func() { fwdOK, f.fwd, errF = steps.CheckForwarding(ctx, e, m.Host.Name) })
	f.noFwd = errF == nil && !fwdOK
	if errF != nil {
		f.err = errF
		return f
	}
	if errP != nil {
		f.err = errP
		return f
	}
	if p == nil {
		f.err = fmt.Errorf("%s: %s does not exist: install Micetro Central there first (%s), or set preferences_path", m.Host.Name, c.prefsPath(m), refInstall)
		return f
	}
	f.prefs = p
	f.backend, err = p.Backend()
	if err != nil && m == &c.Members[0] {
		f.err = fmt.Errorf("%s: %s %v", m.Host.Name, c.prefsPath(m), err)
		return f
	}
	if err != nil {
		// A failover that names another backend (SQLite) is a fresh install;
		// one that names nothing too: the primary's copy replaces the file.
		f.backend = ""
	}
	if errC != nil {
		f.err = errC
		return f
	}
	f.err = errV
	return f
}
