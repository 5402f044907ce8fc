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

// stopMember stops Central on failover member i.
type stopMember struct {
	a *HAAnswers
	i int
	m *Member
}

func stopMemberStep(a *HAAnswers, i int, id string) *steps.Step {
	m := &a.Members[i]
	s := &stopMember{a: a, i: i, m: m}
	return &steps.Step{
		ID:     id,
		Title:  fmt.Sprintf("On %s, install the Men&Mice Central application; if it is already installed, make sure it is stopped", m.Name),
		Why:    "the failover must not run against the database before it has the cluster configuration",
		DocRef: haRef(a, m, hsStopMember).String(),
		Hosts:  []string{m.Host.Name},
		Mode:   steps.Once,
		Actions: []string{
			"Central is installed (preflight found its preferences.cfg and version)",
			stopCommand(&a.Common, m) + " on " + m.Host.Name + "; then the service exists and is not active, no " + a.daemonProcess(m) + " process runs and port 1231 is closed",
		},
		Check:  s.check,
		Apply:  s.apply,
		Verify: s.verify,
	}
}

func (s *stopMember) check(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
	h, err := e.Host(hn)
	if err != nil {
		return false, "", err
	}
	var (
		ok, down   bool
		ev, downEv string
		errC, errS error
	)
	par(func() { ok, ev, errC = copyDone(ctx, e, s.a, s.i) },
		func() { down, downEv, errS = stopped(ctx, &s.a.Common, h, s.m) })
	if errC != nil || ok {
		return ok, ev + " (already configured; stopping it is no longer needed)", errC
	}
	if errS != nil {
		return false, "", errS
	}
	return down, downEv, nil
}

func (s *stopMember) apply(ctx context.Context, e *steps.Env, hn string) error {
	h, err := e.Host(hn)
	if err != nil {
		return err
	}
	markChanged(e, hn)
	_, err = service(ctx, &s.a.Common, h, s.m, remote.ServiceStop)
	return err
}

// verify holds when Central is stopped (the service not active, no
// process, port 1231 closed), or when the member is already configured
// (then it may run).
func (s *stopMember) verify(ctx context.Context, e *steps.Env, hn string) (string, error) {
	h, err := e.Host(hn)
	if err != nil {
		return "", err
	}
	down, ev, err := stopped(ctx, &s.a.Common, h, s.m)
	if err != nil || down {
		return ev, err
	}
	if ok, cev, err := copyDone(ctx, e, s.a, s.i); err != nil || ok {
		return cev, err
	}
	return "", notStoppedErr(&s.a.Common, s.m, ev)
}
