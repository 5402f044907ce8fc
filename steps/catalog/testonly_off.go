//go:build !hawiztest

package catalog

import "github.com/hawiz/hawiz/steps"

// testProcedures is empty in every hawiz build; see testonly_on.go.
func testProcedures() []*steps.Procedure { return nil }
