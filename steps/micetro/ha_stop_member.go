package micetro

import (
	"context"
	"fmt"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Step stop-MEMBER of micetro-central-ha: "On NAME, install the Men&Mice
// Central application; if it is already installed, make sure it is stopped".
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html
// (C1 central_ha.rst, Linux or Windows, step 7).

// stopMember stops Central on failover member i. Its Apply hands what the
// stop's own session saw to its Verify.
type stopMember struct {
	a      *HAAnswers
	i      int
	m      *Member
	proved handoff[string]
}

func stopMemberStep(a *HAAnswers, i int, id string) *steps.Step {
	m := &a.Members[i]
	s := &stopMember{a: a, i: i, m: m}
	return &steps.Step{
		ID:     id,
		Title:  fmt.Sprintf("On %s, install the Men&Mice Central application; if it is already installed, make sure it is stopped", m.Name),
		Why:    "the failover must not run against the database before it has the cluster configuration",
		DocRef: docStep(m, "7"),
		Hosts:  []string{m.Host.Name},
		Mode:   steps.Once,
		Actions: []string{
			"Central is installed (preflight found its preferences.cfg and version)",
			stopCommand(&a.Common, m) + " on " + m.Host.Name + "; then the service is not active",
		},
		Check:  s.check,
		Apply:  s.apply,
		Verify: s.verify,
	}
}

func (s *stopMember) notActive() string { return "service " + s.a.serviceName(s.m) + " is not active" }

func (s *stopMember) check(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
	h, err := e.Host(hn)
	if err != nil {
		return false, "", err
	}
	var (
		ok, active bool
		ev         string
		errC, errA error
	)
	par(func() { ok, ev, errC = copyDone(ctx, e, s.a, s.i) },
		func() { active, errA = isActive(ctx, &s.a.Common, h, s.m) })
	if errC != nil || ok {
		return ok, ev + " (already configured; stopping it is no longer needed)", errC
	}
	if errA != nil {
		return false, "", errA
	}
	if active {
		return false, "service " + s.a.serviceName(s.m) + " is active", nil
	}
	return true, s.notActive(), nil
}

func (s *stopMember) apply(ctx context.Context, e *steps.Env, hn string) error {
	h, err := e.Host(hn)
	if err != nil {
		return err
	}
	markChanged(e, hn)
	active, err := service(ctx, &s.a.Common, h, s.m, remote.ServiceStop)
	if err == nil && !active { // the state check of the stop's own session
		s.proved.put(hn, s.notActive()+" (seen right after the stop)")
	}
	return err
}

// verify holds when the service is not active (as the stop's own session
// saw right after it, else asked now), or when the member is already
// configured (then it may run).
func (s *stopMember) verify(ctx context.Context, e *steps.Env, hn string) (string, error) {
	if ev, ok := s.proved.take(hn); ok {
		return ev, nil
	}
	h, err := e.Host(hn)
	if err != nil {
		return "", err
	}
	active, err := isActive(ctx, &s.a.Common, h, s.m)
	if err != nil {
		return "", err
	}
	if !active {
		return s.notActive(), nil
	}
	if ok, ev, err := copyDone(ctx, e, s.a, s.i); err != nil || ok {
		return ev, err
	}
	return "", fmt.Errorf("service %s is still active on %s", s.a.serviceName(s.m), hn)
}
