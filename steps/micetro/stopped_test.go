package micetro

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/remote"
)

// Issue 16 item 3: a service that does not exist is not "stopped". Stopped
// means the unit exists and is inactive, no mmcentrald process runs and
// port 1231 is closed.

// runAs moves the member's running Central from the unit mmcentral to the
// unit unit (a site-made unit name), as a site that wraps Central has it;
// keep says whether the unit mmcentral still exists (inactive).
func runAs(t *testing.T, ctx context.Context, h *fakeHost, rh *remote.Host, unit string, keep bool) {
	t.Helper()
	sd := remote.ServiceManager{Kind: "systemctl"}
	if _, err := rh.Service(ctx, sd, "mmcentral", remote.ServiceStop, false); err != nil {
		t.Fatal(err)
	}
	h.writeFile("units/"+unit, "")
	if _, err := rh.Service(ctx, sd, unit, remote.ServiceStart, false); err != nil {
		t.Fatal(err)
	}
	if !keep {
		os.Remove(filepath.Join(h.root, "units", "mmcentral"))
	}
}

// A member whose Central runs under a unit of another name: the answers'
// unit mmcentral does not exist there. Before, `systemctl is-active
// mmcentral` said "inactive", so the member counted as stopped and its
// preferences.cfg was replaced under the running Central. Now the run
// stops with an error naming the host and the unit tried, and the file is
// untouched.
func TestHAUnknownUnitIsNotStopped(t *testing.T) {
	w, _, _, e, list := setup(t, 2, nil)
	ctx := context.Background()
	rh, err := e.Host("central2")
	if err != nil {
		t.Fatal(err)
	}
	runAs(t, ctx, w.hosts[1], rh, "site-central", false)
	before := w.hosts[1].prefs()
	_, err = runSteps(ctx, e, list)
	if !errors.Is(err, remote.ErrNoSuchService) || !strings.Contains(err.Error(), `central2 has no Central service "mmcentral"`) {
		t.Fatalf("run: %v", err)
	}
	if w.hosts[1].prefs() != before {
		t.Fatal("preferences.cfg was written on a member whose Central runs")
	}
}

// The unit exists and is inactive, but Central runs outside it (and
// listens on 1231): not stopped either. The stop step's Verify says what
// still runs; the copy never writes.
func TestHACentralOutsideItsUnitIsNotStopped(t *testing.T) {
	w, a, _, e, list := setup(t, 2, nil)
	ctx := context.Background()
	rh, err := e.Host("central2")
	if err != nil {
		t.Fatal(err)
	}
	runAs(t, ctx, w.hosts[1], rh, "by-hand", true)
	before := w.hosts[1].prefs()
	_, err = runSteps(ctx, e, list)
	if err == nil || !strings.Contains(err.Error(), "stop-central2@central2 verify: Central is not stopped on central2: a mmcentrald process runs") ||
		!strings.Contains(err.Error(), "port 1231 listens") {
		t.Fatalf("run: %v", err)
	}
	if w.hosts[1].prefs() != before {
		t.Fatal("preferences.cfg was written on a member whose Central runs")
	}
	// The copy's own guard, called directly, refuses too.
	cp := stepByID(t, list, "copy-preferences-central2")
	if err := cp.Apply(ctx, e, "central2"); err == nil || !strings.Contains(err.Error(), "must be stopped before") {
		t.Fatalf("copy: %v", err)
	}
	if w.hosts[1].prefs() != before {
		t.Fatal("the copy wrote preferences.cfg under a running Central")
	}
	// Stopped, it is: every part said.
	if _, err := rh.Service(ctx, remote.ServiceManager{Kind: "systemctl"}, "by-hand", remote.ServiceStop, false); err != nil {
		t.Fatal(err)
	}
	ok, ev, err := stopped(ctx, &a.Common, rh, &a.Members[1])
	if err != nil || !ok || ev != "service mmcentral is not active, no mmcentrald process runs, port 1231 is closed" {
		t.Fatalf("stopped: %v %q %v", ok, ev, err)
	}
}

// The upgrade's stop-secondaries: a secondary whose unit does not exist is
// an error before anything is installed anywhere.
func TestUpgradeUnknownUnitIsNotStopped(t *testing.T) {
	w, _, e, list := upgradeSetup(t, 2)
	ctx := context.Background()
	rh, err := e.Host("central2")
	if err != nil {
		t.Fatal(err)
	}
	runAs(t, ctx, w.hosts[1], rh, "site-central", false)
	_, err = runSteps(ctx, e, list)
	if !errors.Is(err, remote.ErrNoSuchService) || !strings.Contains(err.Error(), `central2 has no Central service "mmcentral"`) {
		t.Fatalf("run: %v", err)
	}
	for _, h := range w.hosts {
		if installs(h) != 0 {
			t.Errorf("%s: installed", h.name)
		}
	}
}
