package micetro

import (
	"context"
	"fmt"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Steps restart-primary ("Restart the primary Central application") and
// restart-primary-after-register ("Restart Central", after the primary was
// added to the High Availability list) of micetro-central-ha.
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html
// (C1 central_ha.rst, Linux or Windows, steps 2 and 4).

// restartPrimary is one restart of Central on the primary. Its Check hands
// what it saw to its Apply, and its Apply the proof that Central runs to
// its Verify.
type restartPrimary struct {
	a  *HAAnswers
	p  *Member
	id string
	// registeredFact, when set, names the fact holding the time the member
	// was registered: the restart must come after it.
	registeredFact string
	factKey        string // the fact this restart records (restartStamp)
	seen           handoff[observed]
	proved         handoff[string]
}

func restartPrimaryStep(a *HAAnswers, id, title, doc, registeredFact string) *steps.Step {
	p := &a.Members[0]
	s := &restartPrimary{a: a, p: p, id: id, registeredFact: registeredFact, factKey: factRestarted(p) + "." + id}
	return &steps.Step{
		ID:      id,
		Title:   title,
		Why:     "Central reads preferences.cfg (and its HA membership) only when it starts",
		DocRef:  doc,
		Hosts:   []string{p.Host.Name},
		Mode:    steps.Once,
		Actions: []string{restartCommand(&a.Common, p) + " on " + p.Host.Name + fmt.Sprintf("; then the service is active and port %d listens", CentralPort)},
		Check:   s.check,
		Apply:   s.apply,
		Verify:  s.verify,
	}
}

func (s *restartPrimary) check(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
	h, err := e.Host(hn)
	if err != nil {
		return false, "", err
	}
	var notBefore string
	if s.registeredFact != "" {
		v, ok := e.Fact(s.registeredFact)
		if !ok {
			// Registered in an earlier run (inferred): any restart
			// since the last edit is after it.
			if done, _, err := inferredDone(ctx, e, s.a); err != nil || !done {
				return false, "the member's registration time is unknown", err
			}
		}
		notBefore = v
	}
	ok, ev, seen, err := loadedCurrentPrefs(ctx, e, &s.a.Common, h, s.p, s.factKey, notBefore, false)
	s.seen.put(hn, seen)
	return ok, ev, err
}

// notBefore is the registration time the restart must follow ("" = none).
func (s *restartPrimary) notBefore(e *steps.Env) string {
	if s.registeredFact == "" {
		return ""
	}
	v, _ := e.Fact(s.registeredFact)
	return v
}

func (s *restartPrimary) apply(ctx context.Context, e *steps.Env, hn string) error {
	a, p := s.a, s.p
	h, err := e.Host(hn)
	if err != nil {
		return err
	}
	// The file's hash as the restart finds it: the Check's stat,
	// moments ago, else stat now. Read before the restart, never
	// after: a write after the restart must not be taken as loaded
	// (the check then compares times and restarts again).
	seen, _ := s.seen.take(hn)
	if !seen.stat {
		seen.info, err = h.Stat(ctx, a.prefsPath(p), a.sudo(p))
		seen.stat = err == nil
	}
	markChanged(e, hn)
	active, err := startAndVerify(ctx, &a.Common, h, p, remote.ServiceRestart)
	if err != nil {
		return err
	}
	if seen.stat && seen.info.Exists {
		e.SetFact(s.factKey, restartStamp(seen.info.SHA256, s.notBefore(e)))
	}
	proveRunning(&s.proved, &a.Common, p, s.id, hn, active)
	return nil
}

func (s *restartPrimary) verify(ctx context.Context, e *steps.Env, hn string) (string, error) {
	return verifyRunning(ctx, e, &s.proved, &s.a.Common, s.p, hn)
}
