package micetro

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hawiz/hawiz/lab/standins/mmcentral"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Issue 16 item 5 (Micetro): adding a member to a cluster that is already
// in High Availability runs the documented steps for the new member only.
// The step ID is spelled out (not StepMembersInHA) so that this file also
// builds against the code before the change, where it fails.

const stepInHA = "members-already-in-ha"

// manualRecorder is testOperator that also keeps the Manual each step
// showed when it asked.
type manualRecorder struct {
	*testOperator
	shown map[string]steps.Manual
}

func (o *manualRecorder) ConfirmManual(ctx context.Context, s *steps.Step, host string) error {
	o.mu.Lock()
	if o.shown == nil {
		o.shown = map[string]steps.Manual{}
	}
	if s.Manual != nil {
		o.shown[s.ID] = *s.Manual
	}
	o.mu.Unlock()
	return o.testOperator.ConfirmManual(ctx, s, host)
}

// fileMark is what tells a write of a file: its content, inode and
// modification time (a write by hawiz is a new file renamed into place).
type fileMark struct {
	content string
	ino     uint64
	mtime   time.Time
}

func markOf(t *testing.T, h *fakeHost) fileMark {
	t.Helper()
	p := filepath.Join(h.root, "var/mmsuite/mmcentral/preferences.cfg")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fileMark{h.prefs(), fi.Sys().(*syscall.Stat_t).Ino, fi.ModTime()}
}

func backups(h *fakeHost) []string {
	b, _ := filepath.Glob(filepath.Join(h.root, "var/mmsuite/mmcentral/preferences.cfg.hawiz-*"))
	return b
}

// serviceActions are the start/stop/restart calls in h's systemctl log.
func serviceActions(h *fakeHost) []string {
	var out []string
	for _, l := range strings.Split(h.systemctlLog(), "\n") {
		if f := strings.Fields(l); len(f) > 0 && (f[0] == "start" || f[0] == "stop" || f[0] == "restart") {
			out = append(out, l)
		}
	}
	return out
}

// twoThenThree: a world of three hosts where central1 and central2 were set
// up as a 2-member cluster by an earlier run (its own state); central3 runs
// Central standalone. It returns the 3-member answers and steps, and clears
// the hosts' systemctl logs.
func twoThenThree(t *testing.T) (*world, *HAAnswers, *steps.Env, []*steps.Step) {
	t.Helper()
	w, a3, _, e, list3 := setup(t, 3, nil)
	ctx := context.Background()
	a2 := *a3
	a2.Members = append([]Member(nil), a3.Members[:2]...)
	p, s := dnsPair(t, "10.0.0.11", "10.0.0.12")
	a2.DNS.Servers = []string{p.Addr(), s.Addr()}
	if err := a2.Validate(); err != nil {
		t.Fatal(err)
	}
	list2, err := CentralHA().Steps(&a2)
	if err != nil {
		t.Fatal(err)
	}
	e2 := steps.NewEnv(ctx, &a2, e.Fleet(), &testOperator{confirm: true})
	if _, err := runSteps(ctx, e2, list2); err != nil {
		t.Fatal(err)
	}
	for i, h := range w.hosts[:2] {
		if got, want := h.prefs(), mmcentral.SamplePrefs+`<ClusterMemberName value="central`+string(rune('1'+i))+`"/>`+"\n"; got != want {
			t.Fatalf("%s after the 2-member run: %q", h.name, got)
		}
	}
	for _, h := range w.hosts {
		os.Remove(filepath.Join(h.root, "run", "systemctl.log"))
	}
	return w, a3, e, list3
}

// A finished 2-member cluster, then a run with 3 members and a fresh
// state: central1 and central2 are recognised as already in HA, confirmed
// once, and left untouched (no write of their preferences.cfg, no
// systemctl stop/start/restart); central3 gets its documented steps
// (register, stop, copy, start, verify). Before, the fresh state asked to
// register the primary again and restarted it after that registration.
func TestHAAddMemberLeavesMembersInHAUntouched(t *testing.T) {
	w, a, e0, list := twoThenThree(t)
	ctx := context.Background()
	marks := []fileMark{markOf(t, w.hosts[0]), markOf(t, w.hosts[1])}
	baks := [][]string{backups(w.hosts[0]), backups(w.hosts[1])}
	time.Sleep(20 * time.Millisecond) // a write now would show in the mtime

	op := &manualRecorder{testOperator: &testOperator{confirm: true}}
	e := steps.NewEnv(ctx, a, e0.Fleet(), op) // a fresh state: no facts
	lg, err := runSteps(ctx, e, list)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(op.confirmed, " "), stepInHA+" register-central3 verify-central3-standby log-in-through-dns-name"; got != want {
		t.Errorf("asked to confirm %q, want %q", got, want)
	}
	if got, want := strings.Join(lg.applied, " "), stepInHA+"@ register-central3@central1 stop-central3@central3 copy-preferences-central3@central3 start-central3@central3 verify-central3-standby@central3 log-in-through-dns-name@"; got != want {
		t.Errorf("applied\n %s\nwant\n %s", got, want)
	}
	// One confirmation names the recognised members, and only them.
	m := op.shown[stepInHA]
	var labels []string
	for _, kv := range m.Values {
		labels = append(labels, kv.Label)
	}
	if strings.Join(labels, " ") != "central1 central2" || !strings.Contains(strings.Join(m.Instructions, "\n"), "--confirm "+stepInHA) {
		t.Errorf("the confirmation showed %+v", m)
	}
	for i, h := range w.hosts[:2] {
		if got := markOf(t, h); got != marks[i] {
			t.Errorf("%s: preferences.cfg was written: %+v, before %+v", h.name, got, marks[i])
		}
		if got := backups(h); len(got) != len(baks[i]) {
			t.Errorf("%s: new backups %v", h.name, got)
		}
		if acts := serviceActions(h); len(acts) != 0 {
			t.Errorf("%s: systemctl %v on a member already in HA", h.name, acts)
		}
	}
	for _, id := range []string{"name-primary@central1", "restart-primary@central1", "register-primary@central1", "restart-primary-after-register@central1", "stop-central2@central2", "copy-preferences-central2@central2", "start-central2@central2"} {
		if ev := lg.evid[id]; !strings.Contains(ev, "already in High Availability") || !strings.Contains(ev, "left untouched") {
			t.Errorf("%s: evidence %q", id, ev)
		}
	}
	h3 := w.hosts[2]
	if got, want := h3.prefs(), mmcentral.SamplePrefs+`<ClusterMemberName value="central3"/>`+"\n"; got != want {
		t.Errorf("central3 prefs %q", got)
	}
	if acts := strings.Join(serviceActions(h3), ","); acts != "stop mmcentral,start mmcentral" {
		t.Errorf("central3 systemctl: %s", acts)
	}

	// Again with a fresh state and the same three members: one confirmation,
	// nothing changes anywhere.
	for _, h := range w.hosts {
		os.Remove(filepath.Join(h.root, "run", "systemctl.log"))
	}
	all := []fileMark{markOf(t, w.hosts[0]), markOf(t, w.hosts[1]), markOf(t, w.hosts[2])}
	op2 := &manualRecorder{testOperator: &testOperator{confirm: true}}
	e2 := steps.NewEnv(ctx, a, e0.Fleet(), op2)
	lg, err = runSteps(ctx, e2, list)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(op2.confirmed, " "); got != stepInHA {
		t.Errorf("the re-run asked %q, want %s once", got, stepInHA)
	}
	if got := strings.Join(lg.applied, " "); got != stepInHA+"@" {
		t.Errorf("the re-run applied %s", got)
	}
	var labels2 []string
	for _, kv := range op2.shown[stepInHA].Values {
		labels2 = append(labels2, kv.Label)
	}
	if strings.Join(labels2, " ") != "central1 central2 central3" {
		t.Errorf("the re-run's confirmation listed %v", labels2)
	}
	for i, h := range w.hosts {
		if got := markOf(t, h); got != all[i] {
			t.Errorf("%s: the re-run wrote preferences.cfg", h.name)
		}
		if acts := serviceActions(h); len(acts) != 0 {
			t.Errorf("%s: the re-run ran systemctl %v", h.name, acts)
		}
	}
}

// Through the engine, with nobody at a terminal: --yes does not confirm
// the members' registration; the run stops at that step before anything
// changed (exit 3, resumable with --confirm), then goes on with it and sets
// up central3 only.
func TestHAAddMemberThroughEngineConfirm(t *testing.T) {
	w, a, _, _ := twoThenThree(t)
	a.SSH.KnownHosts = filepath.Join(w.dir, "known_hosts")
	marks := []fileMark{markOf(t, w.hosts[0]), markOf(t, w.hosts[1]), markOf(t, w.hosts[2])}
	base := steps.RunConfig{
		Procedure: CentralHA(), Answers: a, AnswersFile: "ha3.yaml", StatePath: filepath.Join(w.dir, "state3.json"),
		Operator: steps.NonInteractive{Yes: true}, Yes: true,
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second, SessionPerCommand: worldSessions},
		Getenv: func(string) string { return "" },
	}
	out, err := steps.Run(context.Background(), base)
	if steps.ExitCode(err) != steps.ExitStopped || out.Step != stepInHA {
		t.Fatalf("exit %d at %q: %v", steps.ExitCode(err), out.Step, err)
	}
	for i, h := range w.hosts {
		if markOf(t, h) != marks[i] || len(serviceActions(h)) != 0 {
			t.Fatalf("%s changed before the confirmation: %v", h.name, serviceActions(h))
		}
	}
	cfg := base
	cfg.Answers, cfg.Resume = nil, true
	cfg.Confirm = []string{stepInHA, "register-central3", "verify-central3-standby", "log-in-through-dns-name"}
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for i, h := range w.hosts[:2] {
		if markOf(t, h) != marks[i] || len(serviceActions(h)) != 0 {
			t.Errorf("%s touched: %v", h.name, serviceActions(h))
		}
	}
	if got := w.hosts[2].prefs(); got != mmcentral.SamplePrefs+`<ClusterMemberName value="central3"/>`+"\n" {
		t.Errorf("central3 prefs %q", got)
	}
}

// A primary already in HA is not written: ha_tweaks its file does not hold
// stop the run, naming the field, before anything changed.
func TestHAAddMemberTweaksOnPrimaryInHARefused(t *testing.T) {
	w, a, e0, _ := twoThenThree(t)
	ctx := context.Background()
	a.HATweaks = &HATweaks{HeartbeatInterval: 7}
	list, err := CentralHA().Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	marks := []fileMark{markOf(t, w.hosts[0]), markOf(t, w.hosts[1]), markOf(t, w.hosts[2])}
	e := steps.NewEnv(ctx, a, e0.Fleet(), &testOperator{confirm: true})
	_, err = runSteps(ctx, e, list)
	if err == nil || !strings.Contains(err.Error(), "ha_tweaks:") || !strings.Contains(err.Error(), "HeartbeatInterval") {
		t.Fatalf("err = %v", err)
	}
	for i, h := range w.hosts {
		if markOf(t, h) != marks[i] || len(serviceActions(h)) != 0 {
			t.Errorf("%s changed: %v", h.name, serviceActions(h))
		}
	}
}

// A member named as in the answers whose Central does not run is not in HA
// as far as hawiz can tell: nothing to confirm for it, and its steps run.
func TestHAAddMemberStoppedMemberIsNotRecognised(t *testing.T) {
	w, a, e0, list := twoThenThree(t)
	ctx := context.Background()
	h1, err := e0.Host("central2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h1.Service(ctx, remote.ServiceManager{Kind: "systemctl"}, "mmcentral", remote.ServiceStop, false); err != nil {
		t.Fatal(err)
	}
	op := &manualRecorder{testOperator: &testOperator{stopAt: map[string]bool{"register-central2": true}}}
	e := steps.NewEnv(ctx, a, e0.Fleet(), op)
	_, err = runSteps(ctx, e, list)
	if !errors.Is(err, steps.ErrWaitingForOperator) {
		t.Fatalf("err = %v", err)
	}
	var labels []string
	for _, kv := range op.shown[stepInHA].Values {
		labels = append(labels, kv.Label)
	}
	if strings.Join(labels, " ") != "central1" {
		t.Errorf("recognised %v, want central1 only", labels)
	}
	for _, l := range serviceActions(w.hosts[0]) {
		if strings.HasPrefix(l, "restart") {
			t.Errorf("central1 (in HA) restarted: %v", serviceActions(w.hosts[0]))
		}
	}
}
