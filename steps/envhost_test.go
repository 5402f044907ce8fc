package steps

import (
	"context"
	"strings"
	"testing"
)

// Env.Host never hands out a nil host: an unknown name, a run without a
// fleet and a local step's "" are errors that say which.
func TestEnvHostUnknownIsAnError(t *testing.T) {
	e := NewEnv(context.Background(), nil, nil, nil)
	for name, want := range map[string]string{"central9": "host central9: not connected", "": "local step has no host"} {
		h, err := e.Host(name)
		if h != nil || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Host(%q) = %v, %v; want an error containing %q", name, h, err, want)
		}
	}
}
