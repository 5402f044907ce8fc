package steps_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

// svcScript is a test service manager: NAME.on exists while NAME runs; a
// start or restart appends "ACTION NAME: <conf.txt>" to svc.log (what the
// service read when it started).
const svcScript = `a=$1 s=$2
case $a in
start|restart) touch "$s.on"; echo "$a $s: $(cat conf.txt 2>/dev/null)" >> svc.log ;;
stop) rm -f "$s.on" ;;
is-active) test -e "$s.on" ;;
*) exit 2 ;;
esac`

var rbManager = remote.ServiceManager{Kind: "command", Command: []string{"sh", "-c", svcScript, "svc", "{action}", "{service}"}}

// rbProcedure changes, on each host: conf.txt (with a backup), restarts
// svc (reading conf.txt), creates extra.txt, stops other and starts third.
func rbProcedure() *steps.Procedure {
	p := steptest.Procedure()
	p.Name, p.Title = "rb-test", "Rollback test"
	p.Steps = func(sa steps.Answers) ([]*steps.Step, error) {
		a := sa.(*steptest.Answers)
		names := []string{a.Hosts[0].Name, a.Hosts[1].Name}
		step := func(id string, f func(ctx context.Context, h *remote.Host) error) *steps.Step {
			return &steps.Step{ID: id, Title: id, Hosts: names, Mode: steps.EachInOrder,
				Apply: func(ctx context.Context, e *steps.Env, host string) error {
					h, err := e.Host(host)
					if err != nil {
						return err
					}
					return f(ctx, h)
				}}
		}
		svc := func(name string, act remote.ServiceAction) func(ctx context.Context, h *remote.Host) error {
			return func(ctx context.Context, h *remote.Host) error {
				_, err := h.Service(ctx, rbManager, name, act, false)
				return err
			}
		}
		return []*steps.Step{
			step("edit-conf", func(ctx context.Context, h *remote.Host) error {
				_, err := h.WriteFile(ctx, "conf.txt", []byte("new\n"), remote.WriteOptions{Backup: true})
				return err
			}),
			step("restart-svc", svc("svc", remote.ServiceRestart)),
			step("create-extra", func(ctx context.Context, h *remote.Host) error {
				_, err := h.WriteFile(ctx, "extra.txt", []byte("gen.key bytes\n"), remote.WriteOptions{Secret: true, Mode: 0o600})
				return err
			}),
			step("stop-other", svc("other", remote.ServiceStop)),
			step("start-third", svc("third", remote.ServiceStart)),
		}, nil
	}
	return p
}

// rbSeqProcedure is one step that does ops, in order, on each host.
func rbSeqProcedure(name string, ops ...func(ctx context.Context, h *remote.Host) error) *steps.Procedure {
	p := rbProcedure()
	p.Name = name
	p.Steps = func(sa steps.Answers) ([]*steps.Step, error) {
		a := sa.(*steptest.Answers)
		return []*steps.Step{{ID: name, Title: name, Hosts: []string{a.Hosts[0].Name, a.Hosts[1].Name}, Mode: steps.EachInOrder,
			Apply: func(ctx context.Context, e *steps.Env, host string) error {
				h, err := e.Host(host)
				if err != nil {
					return err
				}
				for _, op := range ops {
					if err := op(ctx, h); err != nil {
						return err
					}
				}
				return nil
			}}}, nil
	}
	return p
}

func rbSvc(act remote.ServiceAction) func(ctx context.Context, h *remote.Host) error {
	return func(ctx context.Context, h *remote.Host) error {
		_, err := h.Service(ctx, rbManager, "svc", act, false)
		return err
	}
}

func rbWriteConf(ctx context.Context, h *remote.Host) error {
	_, err := h.WriteFile(ctx, "conf.txt", []byte("new\n"), remote.WriteOptions{Backup: true})
	return err
}

// rbBounceProcedure is what Micetro's HA procedure does to a secondary:
// stop svc, write conf.txt (with a backup), start svc again.
func rbBounceProcedure() *steps.Procedure {
	return rbSeqProcedure("rb-bounce", rbSvc(remote.ServiceStop), rbWriteConf, rbSvc(remote.ServiceStart))
}

type rbWorld struct {
	lab   *steptest.Lab
	state string
	src   *steps.Procedure
}

func (w *rbWorld) file(i int, name string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(w.lab.Roots[i], name))
	return string(b), err == nil
}

// newRBWorld: before the run each host has conf.txt "old", mode 0640, svc
// and other running, third stopped; then the run.
func newRBWorld(t *testing.T) *rbWorld { t.Helper(); return newRBWorldWith(t, rbProcedure()) }

func newRBWorldWith(t *testing.T, src *steps.Procedure) *rbWorld {
	t.Helper()
	w := &rbWorld{lab: steptest.NewLab(t), src: src}
	w.state = filepath.Join(w.lab.Dir, "state.json")
	for _, r := range w.lab.Roots {
		os.WriteFile(filepath.Join(r, "conf.txt"), []byte("old\n"), 0o640)
		os.WriteFile(filepath.Join(r, "svc.on"), nil, 0o644)
		os.WriteFile(filepath.Join(r, "other.on"), nil, 0o644)
	}
	cfg := w.lab.Config(t, w.state, "")
	cfg.Procedure = w.src
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for i := range w.lab.Roots {
		if c, _ := w.file(i, "conf.txt"); c != "new\n" {
			t.Fatalf("the run did not write conf.txt: %q", c)
		}
	}
	return w
}

func (w *rbWorld) rollbackConfig(t *testing.T) (steps.RunConfig, *steptest.Recorder) {
	t.Helper()
	st, err := steps.ReadState(w.state)
	if err != nil {
		t.Fatal(err)
	}
	p, err := steps.RollbackProcedure(st, w.src)
	if err != nil {
		t.Fatal(err)
	}
	a, err := steps.LoadAnswers(w.src, []byte(st.Answers))
	if err != nil {
		t.Fatal(err)
	}
	rec := &steptest.Recorder{}
	path := steps.RollbackStatePath(w.state)
	_, statErr := os.Stat(path)
	return steps.RunConfig{Procedure: p, Answers: a, StatePath: path, RunName: "t", Resume: statErr == nil,
		Renderer: rec, Operator: steps.NonInteractive{Yes: true}, Yes: true,
		Remote: remote.Options{AgentSocket: "none"}, Getenv: steptest.Getenv(nil)}, rec
}

// The journal records every change, with hashes and backups, never content.
func TestJournalRecordsChanges(t *testing.T) {
	w := newRBWorld(t)
	st, err := steps.ReadState(w.state)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for i, c := range st.Journal {
		if c.Seq != i+1 {
			t.Errorf("change %d has seq %d", i, c.Seq)
		}
		kinds[c.Step]++
		switch c.Step {
		case "edit-conf":
			if c.Kind != steps.ChangeFile || c.Path != "conf.txt" || !strings.HasPrefix(c.Backup, "conf.txt.hawiz-") || len(c.Before) != 64 || len(c.After) != 64 {
				t.Errorf("edit: %+v", c)
			}
		case "create-extra":
			if c.Before != "absent" || c.Backup != "" {
				t.Errorf("create: %+v", c)
			}
		case "restart-svc", "stop-other":
			if c.Kind != steps.ChangeService || !c.StateKnown || !c.WasActive {
				t.Errorf("%s: %+v", c.Step, c)
			}
		case "start-third":
			if !c.StateKnown || c.WasActive || !c.Active {
				t.Errorf("start: %+v", c)
			}
		}
	}
	for _, s := range []string{"edit-conf", "restart-svc", "create-extra", "stop-other", "start-third"} {
		if kinds[s] != 2 {
			t.Errorf("step %s: %d changes recorded, want 2 (one per host): %v", s, kinds[s], kinds)
		}
	}
	b, _ := os.ReadFile(w.state)
	if strings.Contains(string(b), "gen.key bytes") || strings.Contains(string(b), `"new\n"`) {
		t.Error("the state holds a file's content")
	}
}

// A rollback puts every file back to its pre-run content (mode included),
// removes the file the run created, returns each service to its state,
// and restarts svc after conf.txt is restored (svc reads "old").
func TestRollbackUndoesRun(t *testing.T) {
	w := newRBWorld(t)
	cfg, _ := w.rollbackConfig(t)
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for i, r := range w.lab.Roots {
		if c, _ := w.file(i, "conf.txt"); c != "old\n" {
			t.Errorf("host %d: conf.txt %q", i, c)
		}
		if fi, err := os.Stat(filepath.Join(r, "conf.txt")); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("host %d: conf.txt mode %v %v", i, fi.Mode(), err)
		}
		if _, ok := w.file(i, "extra.txt"); ok {
			t.Errorf("host %d: extra.txt still there", i)
		}
		for svc, on := range map[string]bool{"svc": true, "other": true, "third": false} {
			if _, ok := w.file(i, svc+".on"); ok != on {
				t.Errorf("host %d: %s running %t, want %t", i, svc, ok, on)
			}
		}
		log, _ := w.file(i, "svc.log")
		lines := strings.Split(strings.TrimSpace(log), "\n")
		if last := lines[len(lines)-1]; last != "restart svc: old" {
			t.Errorf("host %d: svc's last start read %q, want the restored conf.txt (log %q)", i, last, log)
		}
	}
	ev, err := os.ReadFile(steps.EvidencePath(steps.RollbackStatePath(w.state)))
	if err != nil || !strings.Contains(string(ev), "holds sha256") {
		t.Errorf("evidence: %v\n%s", err, ev)
	}
	// again: nothing left to do, every check says done
	cfg, _ = w.rollbackConfig(t)
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}

// A service the run stopped and started again (around a file write) is
// stopped, the file restored, and started again by the rollback; a second
// rollback neither stops nor starts it again (the stop's undo is not
// re-checked against the state the later start's undo left), and re-runs
// nothing with a warning. Failed before: the second rollback found svc
// active where undo "stop" wanted it stopped, stopped it and started it.
func TestRollbackSecondRunLeavesServicesAlone(t *testing.T) {
	w := newRBWorldWith(t, rbBounceProcedure())
	for round := 1; round <= 3; round++ {
		cfg, rec := w.rollbackConfig(t)
		if _, err := steps.Run(context.Background(), cfg); err != nil {
			t.Fatalf("rollback %d: %v", round, err)
		}
		for i := range w.lab.Roots {
			if c, _ := w.file(i, "conf.txt"); c != "old\n" {
				t.Errorf("rollback %d, host %d: conf.txt %q", round, i, c)
			}
			if _, on := w.file(i, "svc.on"); !on {
				t.Errorf("rollback %d, host %d: svc not running", round, i)
			}
			log, _ := w.file(i, "svc.log")
			// the run's start read "new", the rollback's start "old"; no other start
			if log != "start svc: new\nstart svc: old\n" {
				t.Errorf("rollback %d, host %d: svc.log %q", round, i, log)
			}
		}
		if round == 1 {
			continue
		}
		for _, e := range rec.Kinds(steps.EventApply) {
			t.Errorf("rollback %d applied %s on %s", round, e.Step, e.Host)
		}
		for _, e := range rec.Kinds(steps.EventWarning) {
			t.Errorf("rollback %d warned: %s %s %s", round, e.Step, e.Host, e.Message)
		}
	}
}

// A run that restarted a running service twice (Micetro's primary: after
// naming it and after registering it) is undone by one restart, after the
// file is restored. Failed before: the rollback restarted svc twice.
func TestRollbackRestartsOnce(t *testing.T) {
	w := newRBWorldWith(t, rbSeqProcedure("rb-restarts", rbWriteConf, rbSvc(remote.ServiceRestart), rbSvc(remote.ServiceRestart)))
	cfg, _ := w.rollbackConfig(t)
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for i := range w.lab.Roots {
		log, _ := w.file(i, "svc.log")
		if log != "restart svc: new\nrestart svc: new\nrestart svc: old\n" {
			t.Errorf("host %d: svc.log %q, want the run's two restarts and one of the rollback's", i, log)
		}
	}
}

// A file the run wrote twice (Ops Manager's conf-mms.properties: the LB
// settings, then the App DB URI) is restored to its first content; a
// second rollback does nothing and names nothing as left. Failed before:
// the second rollback found the file (rightly) at its pre-run content where
// the undo of the second write expected its own, and named it changed
// after hawiz wrote it ("left as it is").
func TestRollbackFileWrittenTwice(t *testing.T) {
	mid := func(ctx context.Context, h *remote.Host) error {
		_, err := h.WriteFile(ctx, "conf.txt", []byte("mid\n"), remote.WriteOptions{Backup: true})
		return err
	}
	w := newRBWorldWith(t, rbSeqProcedure("rb-twice", mid, rbWriteConf))
	for round := 1; round <= 2; round++ {
		cfg, rec := w.rollbackConfig(t)
		if _, err := steps.Run(context.Background(), cfg); err != nil {
			t.Fatalf("rollback %d: %v", round, err)
		}
		for i := range w.lab.Roots {
			if c, _ := w.file(i, "conf.txt"); c != "old\n" {
				t.Errorf("rollback %d, host %d: conf.txt %q", round, i, c)
			}
		}
		for _, e := range rec.Kinds(steps.EventWarning) {
			t.Errorf("rollback %d warned: %s %s %s", round, e.Step, e.Host, e.Message)
		}
		if round == 2 {
			for _, e := range rec.Kinds(steps.EventApply) {
				t.Errorf("rollback %d applied %s on %s", round, e.Step, e.Host)
			}
		}
		ev, _ := os.ReadFile(steps.EvidencePath(steps.RollbackStatePath(w.state)))
		if strings.Contains(string(ev), "LEFT AS IT IS") {
			t.Errorf("rollback %d: the evidence names a file left:\n%s", round, ev)
		}
	}
}

// A file edited after the run is left as it is and named; the rest is undone.
func TestRollbackLeavesEditedFile(t *testing.T) {
	w := newRBWorld(t)
	os.WriteFile(filepath.Join(w.lab.Roots[1], "conf.txt"), []byte("operator's edit\n"), 0o640)
	cfg, rec := w.rollbackConfig(t)
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if c, _ := w.file(1, "conf.txt"); c != "operator's edit\n" {
		t.Errorf("edited conf.txt was overwritten: %q", c)
	}
	if c, _ := w.file(0, "conf.txt"); c != "old\n" {
		t.Errorf("h1 conf.txt %q", c)
	}
	named := false
	for _, e := range rec.Kinds(steps.EventWarning) {
		if e.Host == "h2" && strings.Contains(e.Message, "conf.txt was changed after hawiz wrote it") {
			named = true
		}
	}
	if !named {
		t.Error("no warning names the edited file")
	}
	ev, _ := os.ReadFile(steps.EvidencePath(steps.RollbackStatePath(w.state)))
	if !strings.Contains(string(ev), "LEFT AS IT IS: conf.txt") {
		t.Errorf("evidence does not name the file left:\n%s", ev)
	}
	// Again: the file still holds the operator's edit; nothing is applied
	// (failed before: the undo ran again to leave it again) and the
	// evidence still names it.
	cfg, rec = w.rollbackConfig(t)
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for _, e := range rec.Kinds(steps.EventApply) {
		t.Errorf("second rollback applied %s on %s", e.Step, e.Host)
	}
	ev, _ = os.ReadFile(steps.EvidencePath(steps.RollbackStatePath(w.state)))
	if !strings.Contains(string(ev), "LEFT AS IT IS: conf.txt") {
		t.Errorf("second rollback's evidence does not name the file left:\n%s", ev)
	}
}

// A rollback killed after any save resumes and ends with everything undone.
func TestRollbackKilledResumes(t *testing.T) {
	for _, at := range []int{3, 6, 9, 14} {
		w := newRBWorld(t)
		ctx, cancel := context.WithCancel(context.Background())
		cfg, _ := w.rollbackConfig(t)
		cfg.Hook = func(point string, n int) {
			if point == "after-save" && n == at {
				cancel()
			}
		}
		_, err := steps.Run(ctx, cfg)
		cancel()
		if err == nil {
			t.Fatalf("at %d: not interrupted", at)
		}
		cfg, _ = w.rollbackConfig(t)
		if !cfg.Resume {
			t.Fatalf("at %d: no rollback state to resume", at)
		}
		if _, err := steps.Run(context.Background(), cfg); err != nil {
			t.Fatalf("at %d: resume: %v", at, err)
		}
		for i := range w.lab.Roots {
			c, _ := w.file(i, "conf.txt")
			_, extra := w.file(i, "extra.txt")
			_, third := w.file(i, "third.on")
			_, other := w.file(i, "other.on")
			if c != "old\n" || extra || third || !other {
				t.Errorf("at %d, host %d: conf %q extra %t third %t other %t", at, i, c, extra, third, other)
			}
		}
	}
}

// A symbolic link where hawiz wrote a file is refused before anything is
// written on any host.
func TestRollbackRefusesSymlink(t *testing.T) {
	w := newRBWorld(t)
	r := w.lab.Roots[1]
	os.Rename(filepath.Join(r, "conf.txt"), filepath.Join(r, "target.txt"))
	if err := os.Symlink("target.txt", filepath.Join(r, "conf.txt")); err != nil {
		t.Fatal(err)
	}
	cfg, _ := w.rollbackConfig(t)
	_, err := steps.Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("want a refusal naming the symbolic link, got %v", err)
	}
	if c, _ := w.file(0, "conf.txt"); c != "new\n" {
		t.Errorf("h1 was written before every host was checked: %q", c)
	}
	if _, ok := w.file(0, "extra.txt"); !ok {
		t.Error("h1's extra.txt removed before every host was checked")
	}
	if c, _ := w.file(1, "target.txt"); c != "new\n" {
		t.Errorf("the link's target was written: %q", c)
	}
}

// A state without a journal has nothing to roll back: a clear usage error.
func TestRollbackWithoutJournal(t *testing.T) {
	w := newRBWorld(t)
	st, _ := steps.ReadState(w.state)
	st.Journal = nil
	if _, err := steps.RollbackProcedure(st, w.src); err == nil || steps.ExitCode(err) != steps.ExitUsage || !strings.Contains(err.Error(), "no change") {
		t.Fatalf("got %v", err)
	}
}

// A step of the run that has an Undo (work in a vendor's UI) and was done
// is a manual step of the rollback, citing the run step's page, at the
// point where it was done: after the undos of the changes later steps made,
// before those of earlier steps. A run step not done gets none. Failed
// before: the rollback did not mention it.
func TestRollbackManualUndoInPlace(t *testing.T) {
	src := rbProcedure()
	inner := src.Steps
	src.Steps = func(a steps.Answers) ([]*steps.Step, error) {
		list, err := inner(a)
		if err != nil {
			return nil, err
		}
		ui := &steps.Step{ID: "ui-work", Title: "Register it in the UI", DocRef: "https://vendor.example/ui#register", Mode: steps.Once,
			Manual: &steps.Manual{Instructions: []string{"Click Register."}},
			Undo:   &steps.Manual{Instructions: []string{"Click Unregister."}}}
		never := &steps.Step{ID: "never-done", Title: "skipped", Mode: steps.Once, Manual: ui.Manual, Undo: ui.Undo}
		// after create-extra, before stop-other
		return append(list[:3:3], append([]*steps.Step{ui, never}, list[3:]...)...), nil
	}
	w := &rbWorld{lab: steptest.NewLab(t), src: src}
	w.state = filepath.Join(w.lab.Dir, "state.json")
	for _, r := range w.lab.Roots {
		os.WriteFile(filepath.Join(r, "conf.txt"), []byte("old\n"), 0o640)
		os.WriteFile(filepath.Join(r, "svc.on"), nil, 0o644)
		os.WriteFile(filepath.Join(r, "other.on"), nil, 0o644)
	}
	cfg := w.lab.Config(t, w.state, "")
	cfg.Procedure, cfg.Confirm, cfg.Skip = src, []string{"ui-work"}, []string{"never-done"}
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	rc, _ := w.rollbackConfig(t)
	list, err := rc.Procedure.Steps(rc.Answers)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range list {
		order = append(order, s.ID)
		if s.ID == "undo-by-hand-ui-work" && (s.Manual == nil || s.Manual.Instructions[0] != "Click Unregister." || s.DocRef != "https://vendor.example/ui#register") {
			t.Errorf("manual undo %+v", s)
		}
	}
	got := strings.Join(order, " ")
	i, stop, create := strings.Index(got, "undo-by-hand-ui-work"), strings.LastIndex(got, "-start "), strings.Index(got, "-remove")
	if i < 0 || strings.Contains(got, "never-done") || stop < 0 || create < 0 || !(stop < i && i < create) {
		t.Fatalf("rollback steps %s: want undo-by-hand-ui-work after the undo of stop-other and before the removal of extra.txt", got)
	}
	rc.Confirm = []string{"undo-by-hand-ui-work"}
	if _, err := steps.Run(context.Background(), rc); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.file(0, "extra.txt"); ok {
		t.Error("extra.txt still there")
	}
}
