// hosts.go holds hostOf, the one place this package looks up a connected
// host by name.

package opsmanager

import (
	"fmt"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// hostOf returns the connected host called name. Every lookup in this
// package goes through it, so a name the fleet does not hold (a server or
// agent that is not connected) is an error naming it, never a nil host.
func hostOf(e *steps.Env, name string) (*remote.Host, error) {
	h := e.Host(name)
	if h == nil {
		return nil, fmt.Errorf("%s: not connected", name)
	}
	return h, nil
}
