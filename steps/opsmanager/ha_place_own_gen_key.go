// ha_place_own_gen_key.go: step place-own-gen-key of opsmanager-ha (only
// with gen_key.mode file or generate): a gen.key the operator brings, or one
// hawiz generates, is on every server before any starts
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// Procedure: "If you instead create your own gen.key, distribute it to the
// servers before starting any", and "gen.key", M1).

package opsmanager

import (
	"context"

	"github.com/hawiz/hawiz/steps"
)

func haPlaceOwnGenKey(a *Answers) *steps.Step {
	c := &a.Common
	return &steps.Step{
		ID:     StepPlaceKey,
		Title:  "Distribute your own gen.key to every server before any starts",
		Why:    "a gen.key you bring must be on every server before any Application starts",
		DocRef: "M1 Procedure (\"If you instead create your own gen.key, distribute it to the servers before starting any\"); M1 gen.key",
		Hosts:  c.serverNames(),
		Mode:   steps.EachInOrder,
		Actions: []string{
			"write gen.key (24 bytes, 0600, owner the service user) on each server; the bytes are never shown",
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			return keyMatches(ctx, e, c, host)
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error { return placeOwnKey(ctx, e, a, host) },
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			return keyVerify(ctx, e, c, host)
		},
	}
}

// placeOwnKey writes the key from gen_key.file, or a generated one, to host.
func placeOwnKey(ctx context.Context, e *steps.Env, a *Answers, host string) error {
	key, err := sourceKey(ctx, e, &a.Common, a.GenKey.Mode, a.GenKey.File)
	if err != nil {
		return err
	}
	return writeKey(ctx, e, &a.Common, host, key)
}
