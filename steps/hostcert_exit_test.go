package steps

import (
	"fmt"
	"testing"

	"github.com/hawiz/hawiz/remote"
)

// A host that a @cert-authority line covers and that shows no valid
// certificate is refused like a changed host key: exit 4, not 1.
func TestHostCertErrorIsRefused(t *testing.T) {
	ce := &remote.HostCertError{Host: "central2", Address: "10.0.0.2:22", Reason: "no certificate signed by its CA"}
	for _, err := range []error{ce, fmt.Errorf("connect: %w", ce), classifyConnect(fmt.Errorf("connect: %w", ce))} {
		if got := ExitCode(err); got != ExitRefused {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, ExitRefused)
		}
	}
	var re *RefusedError
	if err := classifyConnect(ce); !asRefused(err, &re) {
		t.Fatalf("classifyConnect(%v) = %T, want *RefusedError", ce, err)
	}
}

func asRefused(err error, re **RefusedError) bool {
	r, ok := err.(*RefusedError)
	*re = r
	return ok
}
