// Tests of the demo's table of per-procedure setups (demo.go, demo_*.go).
package fleet

import (
	"testing"

	"github.com/hawiz/hawiz/steps/catalog"
)

func TestDemoSetupsNameCatalogProcedures(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range demoSetups() {
		if catalog.Find(s.procedure) == nil {
			t.Errorf("demo setup %q: no such procedure in the catalog", s.procedure)
		}
		if seen[s.procedure] {
			t.Errorf("demo setup %q listed twice", s.procedure)
		}
		seen[s.procedure] = true
	}
	if got := DemoProcedures(); len(got) == 0 || got[0] != "micetro-central-ha" {
		t.Errorf("DemoProcedures() = %v, want micetro-central-ha first (the default)", got)
	}
}

func TestSetupRefusesBeforeStartingAnything(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Members: 1}, "--members 1: micetro-central-ha needs 2 to 9 members"},
		{Options{Procedure: "micetro-central-upgrade", Members: 10}, "--members 10: micetro-central-upgrade needs 2 to 9 members"},
		{Options{Procedure: "opsmanager-ha", Members: 1}, "--members 1: opsmanager-ha needs 2 to 9 servers"},
		{Options{Procedure: "nope"}, `--procedure "nope": the demo runs micetro-central-ha, opsmanager-ha, micetro-central-upgrade, micetro-remove-member, micetro-change-active, opsmanager-remove-server`},
		{Options{Procedure: "micetro-remove-member", Members: 1}, "--members 1: micetro-remove-member needs 2 to 9 members"},
		{Options{Procedure: "opsmanager-remove-server", Members: 10}, "--members 10: opsmanager-remove-server needs 2 to 9 servers"},
	} {
		c.o.TempDir = t.TempDir()
		d, err := Setup(c.o)
		if err == nil {
			d.Close()
			t.Errorf("Setup(%+v) = nil error, want %q", c.o, c.want)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("Setup(%+v) = %q, want %q", c.o, err, c.want)
		}
	}
}
