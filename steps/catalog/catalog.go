// Package catalog lists every procedure hawiz can run.
package catalog

import (
	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/micetro"
	"github.com/hawiz/hawiz/steps/opsmanager"
)

// All returns every procedure, freshly built on each call (no package state),
// in the order `hawiz procedures` lists them. Procedure packages add one line each.
func All() []*steps.Procedure {
	return append([]*steps.Procedure{
		micetro.CentralHA(), micetro.CentralUpgrade(), micetro.RemoveMember(), micetro.ChangeActive(),
		opsmanager.HA(), opsmanager.UpgradeProcedure(), opsmanager.RemoveServer(),
	}, testProcedures()...)
}

// Find returns the procedure called name, or nil.
func Find(name string) *steps.Procedure {
	for _, p := range All() {
		if p.Name == name {
			return p
		}
	}
	return nil
}
