package micetro

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Issue 16 item 4: the Micetro update upgrades the Active member first,
// with Automatic Update confirmed off, proves the new version from the
// running daemon, and refuses an update path the vendor does not support.

var sd = remote.ServiceManager{Kind: "systemctl"}

func stopCentral(t *testing.T, e *steps.Env, hn string) {
	t.Helper()
	h, err := e.Host(hn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Service(context.Background(), sd, "mmcentral", remote.ServiceStop, false); err != nil {
		t.Fatal(err)
	}
}

// nothingStoppedOrInstalled: no member was stopped, restarted or installed.
func nothingStoppedOrInstalled(t *testing.T, w *world) {
	t.Helper()
	for _, h := range w.hosts {
		if installs(h) != 0 {
			t.Errorf("%s: installed", h.name)
		}
		for _, l := range strings.Split(h.systemctlLog(), "\n") {
			if l != "" && !strings.HasPrefix(l, "status ") {
				t.Errorf("%s: systemctl %s", h.name, l)
			}
		}
	}
}

// After a failover central1, listed first, is down and central2 is the
// Active member: the update refuses before anything stops, naming the
// member that runs. Before, stop-secondaries stopped central2 (the Active
// Central) and central3 and upgraded central1 first.
func TestUpgradeAfterFailoverRefusesToStopTheActive(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stopped []string
		want    string
	}{
		{"only central2 runs", []string{"central1", "central3"}, "central2 (central2) is the only member running Central, so it is the Active one"},
		{"central2 and central3 run", []string{"central1"}, "central2 (central2), central3 (central3) run Central"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _, e, list := upgradeSetup(t, 3)
			for _, hn := range tc.stopped {
				stopCentral(t, e, hn)
			}
			for _, h := range w.hosts {
				h.writeFile("run/systemctl.log", "")
			}
			_, err := runSteps(context.Background(), e, list)
			if err == nil || !strings.Contains(err.Error(), "central1, the first member in the answers, does not run Central") ||
				!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "List the Active member first under members") {
				t.Fatalf("run: %v", err)
			}
			nothingStoppedOrInstalled(t, w)
		})
	}
}

// Only the first member runs Central: hawiz sees that it is the Active one
// and asks nothing about it.
func TestUpgradeActiveMemberObserved(t *testing.T) {
	w, _, e, list := upgradeSetup(t, 3)
	stopCentral(t, e, "central2")
	stopCentral(t, e, "central3")
	lg, err := runSteps(context.Background(), e, list)
	if err != nil {
		t.Fatal(err)
	}
	op := e.Operator().(*testOperator)
	if slices.Contains(op.confirmed, StepUpActiveMember) {
		t.Errorf("asked although only central1 runs: %v", op.confirmed)
	}
	if ev := lg.evid[StepUpActiveMember+"@"]; !strings.Contains(ev, "observed: only central1 runs Central") {
		t.Errorf("evidence %q", ev)
	}
	for _, h := range w.hosts {
		if installs(h) != 1 {
			t.Errorf("%s: %d installs", h.name, installs(h))
		}
	}
}

// Several members run: the operator is asked, with every member listed
// and the first suggested, before anything stops; without an answer the
// run stops there (nothing stopped); the engine's non-interactive run says
// how to answer (--confirm confirm-active-member), and with that flag and
// --confirm automatic-update-off it goes to the end.
func TestUpgradeActiveMemberAskedBeforeAnythingStops(t *testing.T) {
	w, a, e, list := upgradeSetup(t, 3)
	s := stepByID(t, list, StepUpActiveMember)
	if s.Manual == nil || len(s.Manual.Values) != 3 || !strings.Contains(s.Manual.Values[0].Value, "suggested as the Active member") ||
		!strings.Contains(strings.Join(s.Manual.Instructions, "\n"), "--confirm confirm-active-member") {
		t.Fatalf("the question: %+v", s.Manual)
	}
	if i, j := slices.Index(ids(list), StepUpActiveMember), slices.Index(ids(list), StepUpStopSecondaries); i < 0 || i > j {
		t.Fatalf("order %v", ids(list))
	}
	op := e.Operator().(*testOperator)
	op.stopAt = map[string]bool{StepUpActiveMember: true}
	if _, err := runSteps(context.Background(), e, list); !errors.Is(err, steps.ErrWaitingForOperator) {
		t.Fatalf("run: %v", err)
	}
	nothingStoppedOrInstalled(t, w)

	// Through the engine, non-interactively: it stops at the question and
	// tells how to answer; answered up front, it runs to the end.
	a.SSH.KnownHosts = filepath.Join(w.dir, "known_hosts")
	cfg := steps.RunConfig{
		Procedure: CentralUpgrade(), Answers: a, AnswersFile: "upgrade.yaml", StatePath: filepath.Join(w.dir, "state.json"),
		Operator: steps.NonInteractive{Yes: true}, Yes: true, Confirm: []string{StepUpAutoUpdateOff},
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second, SessionPerCommand: worldSessions},
		Getenv: func(string) string { return "" },
	}
	_, err := steps.Run(context.Background(), cfg)
	var se *steps.StoppedError
	if !errors.As(err, &se) || !strings.Contains(se.Resume, "--confirm "+StepUpActiveMember) {
		t.Fatalf("engine run: %v", err)
	}
	nothingStoppedOrInstalled(t, w)
	cfg.Resume, cfg.Confirm = true, []string{StepUpAutoUpdateOff, StepUpActiveMember}
	if _, err := steps.Run(context.Background(), cfg); err != nil && steps.ExitCode(err) != steps.ExitStopped {
		t.Fatal(err)
	}
	for _, h := range w.hosts {
		if installs(h) != 1 {
			t.Errorf("%s: %d installs", h.name, installs(h))
		}
	}
}

// Automatic Update is confirmed off before anything stops.
func TestUpgradeAutomaticUpdateConfirmedFirst(t *testing.T) {
	w, _, e, list := upgradeSetup(t, 2)
	s := stepByID(t, list, StepUpAutoUpdateOff)
	if s.Manual == nil || !strings.Contains(strings.Join(s.Manual.Instructions, "\n"), "Prepare Update or Deploy Update") ||
		!strings.Contains(s.DocRef, "Auto Updater cannot be used") {
		t.Fatalf("step %+v", s)
	}
	if i, j := slices.Index(ids(list), StepUpAutoUpdateOff), slices.Index(ids(list), StepUpStopSecondaries); i < 0 || i > j {
		t.Fatalf("order %v", ids(list))
	}
	e.Operator().(*testOperator).stopAt = map[string]bool{StepUpAutoUpdateOff: true}
	if _, err := runSteps(context.Background(), e, list); !errors.Is(err, steps.ErrWaitingForOperator) {
		t.Fatalf("run: %v", err)
	}
	nothingStoppedOrInstalled(t, w)
}

// An installer that leaves the old daemon running: the binary on disk
// says the new version, the running Central is still the old one. hawiz
// restarts it and proves the new one from its process start (after the
// install began) and port 1231. Before, the version on disk and a running
// service were taken as the upgrade.
func TestUpgradeProvesTheRunningDaemon(t *testing.T) {
	w, a, e, list := upgradeSetup(t, 2)
	a.InstallCommand = []string{"sh", "-c", "echo 10.3.6 > /usr/share/mmcentral-standin/VERSION"} // no restart
	ctx := context.Background()
	upto := slices.Index(ids(list), StepUpUpgradePrimary)
	if _, err := runSteps(ctx, e, list[:upto]); err != nil {
		t.Fatal(err)
	}
	h0 := w.hosts[0]
	h0.writeFile("run/systemctl.log", "")
	up := list[upto]
	if err := up.Apply(ctx, e, "central1"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h0.systemctlLog(), "restart mmcentral") {
		t.Fatalf("the old daemon was not restarted: %q", h0.systemctlLog())
	}
	ev, err := up.Verify(ctx, e, "central1")
	if err != nil || !strings.Contains(ev, "after the install began") || !strings.Contains(ev, "port 1231 listening") {
		t.Fatalf("verify: %q %v", ev, err)
	}
	// The old daemon again (a process older than the install): Check and
	// Verify say so, however the binary reports.
	if _, err := e.Fleet().Host("central1").Service(ctx, sd, "mmcentral", remote.ServiceRestart, false); err != nil {
		t.Fatal(err)
	}
	e.SetFact(factInstallStarted("central1"), formatHostTime(time.Now().Add(time.Hour), time.Second))
	if done, ev, err := up.Check(ctx, e, "central1"); err != nil || done || !strings.Contains(ev, "the old daemon") {
		t.Fatalf("check: %v %q %v", done, ev, err)
	}
	if _, err := up.Verify(ctx, e, "central1"); err == nil || !strings.Contains(err.Error(), "not proven new") {
		t.Fatalf("verify: %v", err)
	}
}

// An update path the vendor's table does not support is refused in
// preflight, naming the document, before anything changes.
func TestUpgradeUnsupportedPathRefused(t *testing.T) {
	w, a, e, list := upgradeSetup(t, 2)
	for _, h := range w.hosts {
		h.writeFile("usr/share/mmcentral-standin/VERSION", "9.4.2\n")
	}
	a.Installer.ExpectedVersion = "11.0.1"
	_, err := runSteps(context.Background(), e, list)
	if err == nil || !strings.Contains(err.Error(), "central1 runs Central 9.4.2: the vendor does not support updating it to 11.0.1 in one step; update to 10.x first") ||
		!strings.Contains(err.Error(), "central2 runs Central 9.4.2") || !strings.Contains(err.Error(), "updates.html#update-paths") {
		t.Fatalf("run: %v", err)
	}
	nothingStoppedOrInstalled(t, w)
}

func TestUnsupportedPath(t *testing.T) {
	for _, c := range []struct{ from, to, via string }{
		{"10.3.5", "10.3.6", ""}, {"10.3.5", "11.0.1", ""}, {"9.4.2", "10.5.0", ""}, {"7.3", "10.0", ""},
		{"9.4.2", "11.0.1", "10.x"}, {"10.5.1", "25.1.0", "11.x"}, {"11.0.3", "25.1.0", ""}, {"11.0.3", "26.1", "25.x"},
		{"6.2.1", "9.3.4", ""}, {"6.2.1", "9.4.0", "9.3"}, {"6.2.1", "10.0", "9.3"}, {"25.1.0", "26.2.0", ""},
	} {
		if got := unsupportedPath(c.from, c.to); got != c.via {
			t.Errorf("%s → %s: %q, want %q", c.from, c.to, got, c.via)
		}
	}
}
