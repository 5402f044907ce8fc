package micetro

import (
	"context"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Step stop-secondaries of micetro-central-upgrade: "Turn off the Central
// service on each secondary server".
// Docs: https://docs.menandmice.com/en/10.1/guides/implementation/central_ha.html#update-central-ha
// (C2 central_ha.rst on branch 10.1, "Updating Central in High Availability
// setup", step 1).

// stopSecondaries is the step.
type stopSecondaries struct{ a *UpgradeAnswers }

func stopSecondariesStep(a *UpgradeAnswers) *steps.Step {
	s := &stopSecondaries{a}
	var hosts, acts []string
	for i := 1; i < len(a.Members); i++ {
		m := &a.Members[i]
		hosts = append(hosts, m.Host.Name)
		acts = append(acts, stopCommand(&a.Common, m)+" on "+m.Host.Name)
	}
	return &steps.Step{
		ID:      StepUpStopSecondaries,
		Title:   "Turn off the Central service on each secondary server",
		Why:     "the primary is upgraded first, while no secondary can take over",
		DocRef:  refUpdateHA("step 1").String(),
		Hosts:   hosts,
		Mode:    steps.EachInOrder,
		Actions: acts,
		Check:   s.check,
		Apply:   s.apply,
		Verify:  s.verify,
	}
}

func (s *stopSecondaries) check(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
	a := s.a
	h, err := e.Host(hn)
	if err != nil {
		return false, "", err
	}
	_, m := a.memberByHost(hn)
	if ok, ev, err := upgraded(ctx, a, h, m); err != nil || ok {
		return ok, ev + "; nothing to stop", err
	}
	return stopped(ctx, &a.Common, h, m)
}

func (s *stopSecondaries) apply(ctx context.Context, e *steps.Env, hn string) error {
	h, err := e.Host(hn)
	if err != nil {
		return err
	}
	_, m := s.a.memberByHost(hn)
	markChanged(e, hn)
	_, err = service(ctx, &s.a.Common, h, m, remote.ServiceStop)
	return err
}

func (s *stopSecondaries) verify(ctx context.Context, e *steps.Env, hn string) (string, error) {
	a := s.a
	h, err := e.Host(hn)
	if err != nil {
		return "", err
	}
	_, m := a.memberByHost(hn)
	if ok, ev, err := upgraded(ctx, a, h, m); err != nil || ok {
		return ev, err
	}
	down, ev, err := stopped(ctx, &a.Common, h, m)
	if err == nil && !down {
		err = notStoppedErr(&a.Common, m, ev)
	}
	return ev, err
}
