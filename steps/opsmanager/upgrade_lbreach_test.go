package opsmanager

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
	"github.com/hawiz/hawiz/steps"
)

// The upgrade stops one server at a time, so the others must serve behind
// the load balancer meanwhile: a load balancer that does not reach one of
// them (om3 left out of its pool) stops the upgrade in preflight, naming
// it, before any server is stopped (issue 19 item 3: the load balancer's
// address reaches each server's port).
func TestUpgradePreflightLBMustReachEveryServer(t *testing.T) {
	w := newWorld(t, 3, false)
	_, err, rec := w.run(t, w.answers("", "  mode: first-server\n"), filepath.Join(w.dir, "ha.json"), false, nil)
	if err != nil {
		t.Fatalf("ha: %v\n%s", err, rec)
	}
	exe, _ := os.Executable()
	pkg := filepath.Join(w.dir, "mongodb-mms-7.0.1.x86_64.tar.gz")
	f, _ := os.Create(pkg)
	if err := omstandin.WriteTarball(f, "7.0.1", w.user, standinWrapper(exe)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	w.lb.SetBackends([]string{"om1", "om2"})
	y := w.upgradeAnswers(pkg, "7.0.1", filepath.Join(w.dir, "key-before-upgrade"))
	up, err := w.runUpgrade(t, context.Background(), y, filepath.Join(w.dir, "up.json"), false, nil)
	if err == nil || !strings.Contains(err.Error(), "must reach every server") || !strings.Contains(err.Error(), "om3") {
		t.Fatalf("upgrade with om3 out of the LB's pool: %v\n%s", err, up)
	}
	if steps.ExitCode(err) == steps.ExitOK {
		t.Fatalf("exit 0")
	}
	if n := strings.Count(up.String(), "apply "+StepUpEach); n != 0 {
		t.Errorf("%d servers were upgraded after the preflight refused:\n%s", n, up)
	}
	for i := 0; i < 3; i++ {
		if omstandin.Running(mustConfig(t, w.inst(i))) == 0 {
			t.Errorf("om%d stopped", i+1)
		}
	}
	// With om3 back in the pool the preflight holds.
	w.lb.SetBackends([]string{"om1", "om2", "om3"})
	up, err = w.runUpgrade(t, context.Background(), y, filepath.Join(w.dir, "up2.json"), false, nil)
	if err != nil {
		t.Fatalf("upgrade with every server in the pool: %v\n%s", err, up)
	}
	if !strings.Contains(up.String(), "through the load balancer: ") {
		t.Errorf("the preflight's evidence does not say what the load balancer reached:\n%s", up)
	}
}
