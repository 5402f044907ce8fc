// ha_copy_gen_key.go: step copy-gen-key of opsmanager-ha: the first
// server's gen.key, identical, on every other server before they start
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// step 6, M2; "gen.key", M1).

package opsmanager

import (
	"context"
	"fmt"

	"github.com/hawiz/hawiz/steps"
)

func haCopyGenKey(a *Answers) *steps.Step {
	c := &a.Common
	names := c.serverNames()
	return &steps.Step{
		ID:     StepCopyKey,
		Title:  "Copy the gen.key file to every other Application server",
		Why:    "the key must be identical on every server before they start; a server without it cannot join",
		DocRef: docRefs(haProcStep("6", "copy the gen.key file to every other Application server"), refGenKey),
		Hosts:  names[1:],
		Mode:   steps.EachInOrder,
		Actions: []string{
			fmt.Sprintf("copy gen.key from %s (read into memory, never shown) to each other server: 0600, owner the service user; compare SHA-256", names[0]),
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			return keyMatches(ctx, e, c, host)
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error { return copyKey(ctx, e, c, host) },
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			return keyVerify(ctx, e, c, host)
		},
	}
}

// copyKey writes the cluster's key, read from the server that holds it, to
// host.
func copyKey(ctx context.Context, e *steps.Env, c *Common, host string) error {
	key, err := sourceKey(ctx, e, c, GenKeyFirst, "")
	if err != nil {
		return err
	}
	return writeKey(ctx, e, c, host, key)
}
