package micetro

import (
	"context"
	"fmt"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Step start-MEMBER of micetro-central-ha: "Start Central on NAME".
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html
// (C1 central_ha.rst, Linux or Windows, step 9).

// startMember starts Central on failover member i. Its Check hands what it
// saw to its Apply, and its Apply the proof that Central runs to its Verify.
type startMember struct {
	a       *HAAnswers
	m       *Member
	id      string
	factKey string // the fact this start records (restartStamp)
	seen    handoff[observed]
	proved  handoff[string]
}

func startMemberStep(a *HAAnswers, i int, id string) *steps.Step {
	m := &a.Members[i]
	s := &startMember{a: a, m: m, id: id, factKey: factRestarted(m) + "." + id}
	return &steps.Step{
		ID:      id,
		Title:   "Start Central on " + m.Name,
		Why:     "the failover joins the cluster when it starts with its ClusterMemberName",
		DocRef:  haRef(a, m, hsStartMember).String(),
		Hosts:   []string{m.Host.Name},
		Mode:    steps.Once,
		Actions: []string{startCommand(&a.Common, m) + " on " + m.Host.Name + fmt.Sprintf("; then the service is active and port %d listens", CentralPort)},
		Check:   s.check,
		Apply:   s.apply,
		Verify:  s.verify,
	}
}

func (s *startMember) check(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
	h, err := e.Host(hn)
	if err != nil {
		return false, "", err
	}
	ok, ev, seen, err := loadedCurrentPrefs(ctx, e, &s.a.Common, h, s.m, s.factKey, "", true)
	s.seen.put(hn, seen)
	return ok, ev, err
}

// observe returns what the Check saw moments ago, else what is there now:
// the service's state, and the file's hash as the start finds it (read
// before the start, as for the restarts).
func (s *startMember) observe(ctx context.Context, h *remote.Host, hn string) observed {
	seen, cached := s.seen.take(hn)
	if cached {
		return seen
	}
	var errA, errS error
	par(func() { seen.active, errA = isActive(ctx, &s.a.Common, h, s.m) },
		func() { seen.info, errS = h.Stat(ctx, s.a.prefsPath(s.m), s.a.sudo(s.m)) })
	seen.stat = errS == nil
	if errA != nil {
		seen.active = false
	}
	return seen
}

func (s *startMember) apply(ctx context.Context, e *steps.Env, hn string) error {
	h, err := e.Host(hn)
	if err != nil {
		return err
	}
	seen := s.observe(ctx, h, hn)
	// Running with an older file (Check said not loaded): restart.
	act := remote.ServiceStart
	if seen.active {
		act = remote.ServiceRestart
	}
	markChanged(e, hn)
	active, err := startAndVerify(ctx, &s.a.Common, h, s.m, act)
	if err != nil {
		return err
	}
	if seen.stat && seen.info.Exists {
		e.SetFact(s.factKey, restartStamp(seen.info.SHA256, ""))
	}
	proveRunning(&s.proved, &s.a.Common, s.m, s.id, hn, active)
	return nil
}

func (s *startMember) verify(ctx context.Context, e *steps.Env, hn string) (string, error) {
	return verifyRunning(ctx, e, &s.proved, &s.a.Common, s.m, hn)
}
