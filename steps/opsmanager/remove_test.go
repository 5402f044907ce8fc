package opsmanager

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// poolLB is a load balancer whose pool the test changes (as an operator
// changes a real one's).
type poolLB struct{ cur atomic.Pointer[omstandin.LB] }

func (p *poolLB) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.cur.Load().ServeHTTP(w, r) }

// usePool puts a pool LB in front of w's servers (every server in it) and
// makes w's answers use it; set(names) changes the pool.
func usePool(t *testing.T, w *world) (set func(names ...string)) {
	t.Helper()
	p := &poolLB{}
	set = func(names ...string) {
		p.cur.Store(&omstandin.LB{Backends: names, Resolve: func(be string) string {
			var i int
			fmt.Sscanf(be, "om%d", &i)
			return w.serveAddr(i - 1)
		}})
	}
	var all []string
	for i := range w.servers {
		all = append(all, fmt.Sprintf("om%d", i+1))
	}
	set(all...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	w.lbURL = "http://" + ln.Addr().String()
	return set
}

// removeYAML is opsmanager-remove-server's answers for w: its servers and
// load balancer, and remove.
func (w *world) removeYAML(remove string) string {
	y := w.answers("", "  mode: first-server\n")
	y = y[:strings.Index(y, "appdb:")]
	return y + fmt.Sprintf("load_balancer:\n  url: %s\nstart_timeout: 30s\nremove: %s\n", w.lbURL, remove)
}

// poolOperator takes the server out of the pool when asked to (the manual
// step) and records what it was asked.
type poolOperator struct {
	steps.NonInteractive
	mu     sync.Mutex
	asked  []string
	onPool func()
}

func (o *poolOperator) ConfirmManual(_ context.Context, s *steps.Step, _ string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.asked = append(o.asked, s.ID)
	if s.ID == StepRmPool && o.onPool != nil {
		o.onPool()
	}
	return nil
}

func (w *world) runRemove(t *testing.T, y, state string, op steps.Operator) (*recorder, error) {
	t.Helper()
	p := RemoveServer()
	a, err := steps.LoadAnswers(p, []byte(y))
	if err != nil {
		return nil, err
	}
	rec := &recorder{}
	_, err = steps.Run(context.Background(), steps.RunConfig{
		Procedure: p, Answers: a, AnswersFile: "rm.yaml", StatePath: state, RunName: "rm",
		Renderer: rec, Operator: op, Yes: true,
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second},
		Getenv: func(string) string { return "" },
	})
	return rec, err
}

// haThenPool runs opsmanager-ha on 3 servers behind a pool LB.
func haThenPool(t *testing.T) (*world, func(...string)) {
	t.Helper()
	w := newWorld(t, 3, false)
	set := usePool(t, w)
	if out, err, rec := w.run(t, w.answers("", "  mode: first-server\n"), filepath.Join(w.dir, "ha.json"), false, nil); err != nil {
		t.Fatalf("HA run: %v (%+v)\n%s", err, out, rec)
	}
	return w, set
}

// The happy path: the operator takes om3 out of the pool; the tagged
// requests prove none reaches it; it is stopped; om1 and om2 serve. A
// fresh run then changes nothing and asks nothing.
func TestRemoveServerHappyPathAndRerun(t *testing.T) {
	w, set := haThenPool(t)
	op := &poolOperator{NonInteractive: steps.NonInteractive{Yes: true}, onPool: func() { set("om1", "om2") }}
	rec, err := w.runRemove(t, w.removeYAML("om3"), filepath.Join(w.dir, "rm.json"), op)
	if err != nil {
		t.Fatalf("remove: %v\n%s", err, rec)
	}
	if strings.Join(op.asked, " ") != StepRmPool {
		t.Errorf("asked %v", op.asked)
	}
	if omstandin.Healthy(mustConfig(t, w.inst(2))) {
		t.Error("om3 still runs")
	}
	for i := 0; i < 2; i++ {
		if !omstandin.Healthy(mustConfig(t, w.inst(i))) {
			t.Errorf("om%d does not run", i+1)
		}
	}
	if s := rec.String(); !strings.Contains(s, "om3 0") || !strings.Contains(s, "none reached om3") {
		t.Errorf("no tagged-request evidence:\n%s", s)
	}
	op2 := &poolOperator{NonInteractive: steps.NonInteractive{Yes: true}}
	rec, err = w.runRemove(t, w.removeYAML("om3"), filepath.Join(w.dir, "rm2.json"), op2)
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, rec)
	}
	if n := rec.count(steps.EventApply); n != 0 || len(op2.asked) != 0 {
		t.Errorf("re-run applied %d, asked %v:\n%s", n, op2.asked, rec)
	}
}

// A confirmation while the LB still sends to the server fails the step's
// verification, and the server is not stopped.
func TestRemoveServerStillInPoolNotStopped(t *testing.T) {
	w, _ := haThenPool(t)
	op := &poolOperator{NonInteractive: steps.NonInteractive{Yes: true}}
	rec, err := w.runRemove(t, w.removeYAML("om3"), filepath.Join(w.dir, "rm.json"), op)
	if err == nil || !strings.Contains(err.Error()+rec.String(), "the load balancer still sends requests to om3") {
		t.Fatalf("err = %v\n%s", err, rec)
	}
	if !omstandin.Healthy(mustConfig(t, w.inst(2))) {
		t.Error("om3 was stopped while still in the pool")
	}
}

// Refusals change nothing: an unknown server, the last server (answers),
// and a server that stays but does not run (preflight).
func TestRemoveServerRefusals(t *testing.T) {
	w, set := haThenPool(t)
	for _, tc := range []struct{ remove, want string }{
		{"om9", `remove: "om9" is not one of the servers (om1, om2, om3)`},
		{"", "remove: is required"},
	} {
		if _, err := w.runRemove(t, w.removeYAML(tc.remove), filepath.Join(w.dir, "x.json"), steps.NonInteractive{Yes: true}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("remove %q: %v", tc.remove, err)
		}
	}
	a := &RemoveServerAnswers{Remove: "om1"}
	a.Servers = []Server{{HostAnswers: steps.HostAnswers{Name: "om1"}, Install: InstallPackage}}
	a.LoadBalancer.URL = "http://lb.example.net:8080"
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), `remove: "om1" is the last Application server`) {
		t.Errorf("last server: %v", err)
	}
	// om2 stays but is stopped: refused before the pool is touched.
	if out, err := exec.Command(filepath.Join(w.inst(1), "bin", "mongodb-mms"), "stop").CombinedOutput(); err != nil {
		t.Fatalf("stopping om2: %v %s", err, out)
	}
	op := &poolOperator{NonInteractive: steps.NonInteractive{Yes: true}, onPool: func() { set("om1", "om2") }}
	rec, err := w.runRemove(t, w.removeYAML("om3"), filepath.Join(w.dir, "rm.json"), op)
	if err == nil || steps.ExitCode(err) != steps.ExitRefused || !strings.Contains(err.Error()+rec.String(), "a server that stays must run and be healthy") {
		t.Fatalf("err = %v (exit %d)\n%s", err, steps.ExitCode(err), rec)
	}
	if len(op.asked) != 0 || !omstandin.Healthy(mustConfig(t, w.inst(2))) {
		t.Errorf("asked %v; om3 healthy %v", op.asked, omstandin.Healthy(mustConfig(t, w.inst(2))))
	}
}
