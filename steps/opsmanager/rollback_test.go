package opsmanager

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// An opsmanager-ha run journals each Ops Manager start (the state before:
// stopped), so its rollback stops every server again, after which the
// conf files it restores are not in use. Failed before: the control
// script ran by Run, outside the journal; the rollback left every server
// running.
func TestHARunJournalsStartsRollbackStops(t *testing.T) {
	w := newWorld(t, 3, false)
	state := filepath.Join(w.dir, "state.json")
	y := w.answers("", "  mode: first-server\n")
	if _, err, rec := w.run(t, y, state, false, nil); err != nil {
		t.Fatalf("run: %v\n%s", err, rec)
	}
	w.checkDone(t)
	st, err := steps.ReadState(state)
	if err != nil {
		t.Fatal(err)
	}
	starts := map[string]bool{}
	for _, c := range st.Journal {
		if c.Kind == steps.ChangeService {
			if c.Service != "mongodb-mms" || c.Action != remote.ServiceStart || !c.StateKnown || c.WasActive || !c.Active || c.Manager == nil {
				t.Errorf("service change %+v", c)
			}
			starts[c.Host] = true
		}
	}
	if len(starts) != 3 {
		t.Fatalf("starts journaled on %v, want om1-om3", starts)
	}
	p, err := steps.RollbackProcedure(st, HA())
	if err != nil {
		t.Fatal(err)
	}
	a, err := steps.LoadAnswers(HA(), []byte(st.Answers))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	if _, err := steps.Run(context.Background(), steps.RunConfig{Procedure: p, Answers: a, StatePath: steps.RollbackStatePath(state), RunName: "t",
		Renderer: rec, Operator: steps.NonInteractive{Yes: true}, Yes: true, Confirm: []string{"undo-by-hand-" + StepStartFirst, "undo-by-hand-" + StepLB},
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second}, Getenv: func(string) string { return "" }}); err != nil {
		t.Fatalf("rollback: %v\n%s", err, rec)
	}
	for i := range w.servers {
		if omstandin.Healthy(mustConfig(t, w.inst(i))) {
			t.Errorf("om%d still runs after the rollback", i+1)
		}
		b, _ := os.ReadFile(filepath.Join(w.inst(i), "conf", "conf-mms.properties"))
		if string(b) != omstandin.DefaultConf {
			t.Errorf("om%d conf-mms.properties not restored", i+1)
		}
	}
}
