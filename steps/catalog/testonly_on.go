//go:build hawiztest

package catalog

import (
	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

// testProcedures adds the engine's test procedure (steps/steptest,
// "test-files") to binaries built with -tags hawiztest, so tests can run
// the real hawiz binary against in-process SSH hosts
// (cmd/hawiz/interrupt_test.go). Never in a release build.
func testProcedures() []*steps.Procedure { return []*steps.Procedure{steptest.Procedure()} }
