package opsmanager

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Rolling back opsmanager-ha lists the work hawiz cannot undo as manual
// steps, at their place in the reverse order, citing the run's pages: the
// App DB data Ops Manager wrote on its first start (after om1 is stopped
// again; the documented recovery: restore the App DB backup; gen.key kept)
// and the load balancer the operator configured (last: after every file is
// restored). The rollback waits for them and finishes once they are
// confirmed. Failed before: opsmanager-ha's steps had no Undo, so the
// rollback named neither and ran through.
func TestHARollbackListsManualUndos(t *testing.T) {
	w := newWorld(t, 3, false)
	state := filepath.Join(w.dir, "state.json")
	if _, err, rec := w.run(t, w.answers("", "  mode: first-server\n"), state, false, nil); err != nil {
		t.Fatalf("run: %v\n%s", err, rec)
	}
	st, err := steps.ReadState(state)
	if err != nil {
		t.Fatal(err)
	}
	p, err := steps.RollbackProcedure(st, HA())
	if err != nil {
		t.Fatal(err)
	}
	a, err := steps.LoadAnswers(HA(), []byte(st.Answers))
	if err != nil {
		t.Fatal(err)
	}
	list, err := p.Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	lastStopOM1, firstConfRestore, lastFile := -1, -1, -1
	bySeq := map[string]*steps.Change{}
	for _, c := range st.Journal {
		bySeq[strconv.Itoa(c.Seq)] = c
	}
	for i, s := range list {
		pos[s.ID] = i
		f := strings.SplitN(s.ID, "-", 3) // undo-N-kind
		c, ok := bySeq[f[min(1, len(f)-1)]]
		if f[0] != "undo" || !ok {
			continue
		}
		switch {
		case c.Kind == steps.ChangeService && c.Host == "om1":
			lastStopOM1 = i
		case c.Kind == steps.ChangeFile && strings.HasSuffix(c.Path, "conf-mms.properties") && firstConfRestore < 0:
			firstConfRestore = i
		}
		if c.Kind == steps.ChangeFile {
			lastFile = i
		}
	}
	first, lb := "undo-by-hand-"+StepStartFirst, "undo-by-hand-"+StepLB
	if _, ok := pos["undo-by-hand-"+StepAgents]; ok {
		t.Error("an undo of the agents' step, which the run (no agents) did not have")
	}
	if pos[first] == 0 || pos[lb] == 0 || lastStopOM1 < 0 || firstConfRestore < 0 ||
		!(lastStopOM1 < pos[first] && pos[first] < firstConfRestore && lastFile < pos[lb]) {
		t.Errorf("order: om1 stopped at %d, App DB note at %d, first conf restore at %d, last file undo at %d, load balancer at %d",
			lastStopOM1, pos[first], firstConfRestore, lastFile, pos[lb])
	}
	var plan bytes.Buffer
	if err := steps.WritePlan(&plan, p, a); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Application Database", "restore it from the backup taken before the run", refFailedRolling.String(),
		"The gen.key Ops Manager created on om1 is kept",
		"take the Ops Manager Application servers (om1, om2, om3) out of the pool", HealthPath,
		haProcStep("1", "configure a load balancer with the pool of Application hosts").String(), haProcStep("5", "start one of the Application servers").String(),
	} {
		if !strings.Contains(plan.String(), want) {
			t.Errorf("the plan lacks %q:\n%s", want, plan.String())
		}
	}
	cfg := steps.RunConfig{Procedure: p, Answers: a, StatePath: steps.RollbackStatePath(state), RunName: "t",
		Renderer: &recorder{}, Operator: steps.NonInteractive{Yes: true}, Yes: true,
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second}, Getenv: func(string) string { return "" }}
	out, err := steps.Run(context.Background(), cfg)
	var se *steps.StoppedError
	if !errors.As(err, &se) || out.Step != first || !strings.Contains(se.Resume, "--confirm "+first) {
		t.Fatalf("without confirmation: stopped at %q: %v", out.Step, err)
	}
	for i := range w.servers {
		if omstandin.Healthy(mustConfig(t, w.inst(i))) {
			t.Errorf("om%d runs while the rollback waits at the App DB note", i+1)
		}
	}
	cfg.Resume, cfg.Confirm = true, []string{first, lb}
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	for i := range w.servers {
		b, _ := os.ReadFile(filepath.Join(w.inst(i), "conf", "conf-mms.properties"))
		if string(b) != omstandin.DefaultConf {
			t.Errorf("om%d conf-mms.properties not restored", i+1)
		}
	}
}

// With agents, point-agents-at-load-balancer's undo says that hawiz
// restored each agent's file but does not restart the agents, and gives
// each agent's restart command and the agent configuration page.
func TestHAAgentsUndo(t *testing.T) {
	a := &Answers{}
	a.LoadBalancer.URL = "http://om.example.net:8080"
	a.Agents = []Agent{{ConfigPath: "/etc/mongodb-mms/automation-agent.config", Service: "mongodb-mms-automation-agent"},
		{ConfigPath: "/x/agent.config", Service: "agent2", ServiceManager: "service"}}
	a.Agents[0].Name, a.Agents[1].Name = "db1", "db2"
	u := haPointAgentsAtLoadBalancer(a).Undo
	if u == nil {
		t.Fatal("no Undo")
	}
	text := strings.Join(u.Instructions, "\n")
	for _, want := range []string{"hawiz does not restart them", "on db1: systemctl restart mongodb-mms-automation-agent", "on db2: service agent2 restart", KeyAgentBase, refAgentConfig.String()} {
		if !strings.Contains(text, want) {
			t.Errorf("agents' undo lacks %q:\n%s", want, text)
		}
	}
}
