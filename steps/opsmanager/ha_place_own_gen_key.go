// ha_place_own_gen_key.go: step place-own-gen-key of opsmanager-ha: before
// any server starts, every server holds the deployment's gen.key — the one
// a server already holds (an existing deployment, whatever gen_key.mode
// says), else with gen_key.mode file or generate the operator's or a new
// one; in first-server mode with no key anywhere there is nothing to place
// (the first server creates it, M2 step 5)
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// Procedure: "If you instead create your own gen.key, distribute it to the
// servers before starting any", and "gen.key", M1).

package opsmanager

import (
	"context"
	"fmt"

	"github.com/hawiz/hawiz/steps"
)

func haPlaceOwnGenKey(a *Answers) *steps.Step {
	c := &a.Common
	action := "write gen.key (24 bytes, 0600, owner the service user and its primary group) on each server that lacks it: the key a server already holds, else "
	switch a.GenKey.Mode {
	case GenKeyFile:
		action += "gen_key.file"
	case GenKeyGenerate:
		action += "one hawiz generates"
	default:
		action += "nothing (no server holds a key: the first server creates it at its first start)"
	}
	return &steps.Step{
		ID:      StepPlaceKey,
		Title:   "Distribute the gen.key to every server before any starts",
		Why:     "a gen.key that exists (an existing deployment's, or one you bring) must be on every server before any Application starts; a server started without it creates a second key",
		DocRef:  docRefs(refHAProcedureIntro, refGenKey),
		Hosts:   c.serverNames(),
		Mode:    steps.EachInOrder,
		Actions: []string{action + "; the bytes are never shown"},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			if none, ev, err := noKeyToPlace(ctx, e, a, host); none || err != nil {
				return none, ev, err
			}
			return keyMatches(ctx, e, c, host)
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error { return placeOwnKey(ctx, e, a, host) },
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			if none, ev, err := noKeyToPlace(ctx, e, a, host); none || err != nil {
				return ev, err
			}
			return keyVerify(ctx, e, c, host)
		},
	}
}

// noKeyToPlace: first-server mode and no server holds a key (nor is one
// recorded): the first server creates it, there is nothing to place.
func noKeyToPlace(ctx context.Context, e *steps.Env, a *Answers, host string) (bool, string, error) {
	if a.GenKey.Mode != GenKeyFirst {
		return false, "", nil
	}
	want, _, err := deploymentKey(ctx, e, &a.Common)
	if err != nil || want != "" {
		return false, "", err
	}
	return true, fmt.Sprintf("%s: nothing to place: no server holds a gen.key, %s creates it at its first start ("+refStartFirstStep.String()+")", host, a.Servers[0].Name), nil
}

// placeOwnKey writes the deployment's key (or, with none, the key from
// gen_key.file or a generated one) to host.
func placeOwnKey(ctx context.Context, e *steps.Env, a *Answers, host string) error {
	if _, _, err := deploymentKey(ctx, e, &a.Common); err != nil {
		return err
	}
	key, err := sourceKey(ctx, e, &a.Common, a.GenKey.Mode, a.GenKey.File)
	if err != nil {
		return err
	}
	return writeKey(ctx, e, &a.Common, host, key)
}
