package micetro

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
)

func changeSetup(t *testing.T, mod func(*ChangeActiveAnswers)) (*world, *ChangeActiveAnswers, *testOperator, *steps.Env, []*steps.Step) {
	t.Helper()
	w, ha, _, e, list := setup(t, 3, nil)
	if _, err := runSteps(context.Background(), e, list); err != nil {
		t.Fatal(err)
	}
	a := &ChangeActiveAnswers{HAAnswers: *ha}
	a.Members = append([]Member(nil), ha.Members...)
	mod(a)
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	op := &testOperator{confirm: true}
	cl, err := ChangeActive().Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	return w, a, op, steps.NewEnv(context.Background(), a, e.Fleet(), op), cl
}

// Set Active and a new priority: two UI steps, then what hawiz observes;
// nothing on the hosts changes; the same state runs again without asking.
func TestChangeActiveHappyPathAndRerun(t *testing.T) {
	w, _, op, e, list := changeSetup(t, func(a *ChangeActiveAnswers) {
		a.Active = "central2"
		a.Priorities = []PriorityChange{{Member: "central3", Priority: 25}}
	})
	if got := strings.Join(ids(list), " "); got != "preflight set-active edit-priority-central3 verify-members" {
		t.Fatalf("steps %s", got)
	}
	mark := map[string]string{}
	for _, h := range w.hosts {
		mark[h.name] = changesOf(h)
	}
	lg, err := runSteps(context.Background(), e, list)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(op.confirmed, " ") != "set-active edit-priority-central3" {
		t.Errorf("confirmed %v", op.confirmed)
	}
	if ev := lg.evid["set-active@central1"]; !strings.Contains(ev, "central2 runs Central") || !strings.Contains(ev, "operator confirmed central2 Active") {
		t.Errorf("set-active evidence %q", ev)
	}
	for _, h := range w.hosts {
		if changesOf(h) != mark[h.name] {
			t.Errorf("%s changed", h.name)
		}
	}
	lg, err = runSteps(context.Background(), e, list)
	if err != nil || strings.Join(lg.applied, " ") != StepCaVerify+"@" {
		t.Errorf("re-run applied %v: %v", lg.applied, err)
	}
}

// Refusals: unknown member, the primary's priority, a duplicate priority,
// nothing to change; a member whose Central is stopped cannot be made
// Active (refused in preflight, nothing asked).
func TestChangeActiveRefusals(t *testing.T) {
	base := func() *ChangeActiveAnswers {
		a := &ChangeActiveAnswers{}
		a.Members = []Member{{Name: "central1", Priority: 10}, {Name: "central2", Priority: 20}, {Name: "central3", Priority: 30}}
		a.DNS.Name = "central.example.com"
		return a
	}
	for _, tc := range []struct {
		mod  func(*ChangeActiveAnswers)
		want string
	}{
		{func(a *ChangeActiveAnswers) { a.Active = "central9" }, `active: "central9" is not one of the members`},
		{func(a *ChangeActiveAnswers) {}, "active: is required unless priorities are given"},
		{func(a *ChangeActiveAnswers) { a.Priorities = []PriorityChange{{"central1", 5}} }, `priorities[0].member: "central1" is the primary`},
		{func(a *ChangeActiveAnswers) { a.Priorities = []PriorityChange{{"central2", 30}} }, "priorities[0].priority: 30 is already central3's"},
		{func(a *ChangeActiveAnswers) { a.Priorities = []PriorityChange{{"central2", 10}} }, "priorities[0].priority: 10 must be higher"},
	} {
		a := base()
		tc.mod(a)
		if err := a.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want %q", err, tc.want)
		}
	}
	_, _, op, e, list := changeSetup(t, func(a *ChangeActiveAnswers) { a.Active = "central3" })
	stopCentral(t, e, "central3")
	_, err := runSteps(context.Background(), e, list)
	var ref *steps.RefusedError
	if !errors.As(err, &ref) || !strings.Contains(err.Error(), "active: central3 does not run Central") || len(op.confirmed) != 0 {
		t.Fatalf("err = %v, confirmed %v", err, op.confirmed)
	}
}
