package micetro

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/hawiz/hawiz/steps"
)

// Step set-ha-tweaks of micetro-central-ha (only when ha_tweaks is set):
// HeartbeatInterval / HeartbeatMaxAllowedDowntime in the primary's
// preferences.cfg, which the failovers get with their copy of it.
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/ha_tweaks_central.html
// (C3 ha_tweaks_central.rst).

func (t *HATweaks) values() map[string]string {
	out := map[string]string{}
	if t.HeartbeatInterval != 0 {
		out[ElemHeartbeatInterval] = fmt.Sprint(t.HeartbeatInterval)
	}
	if t.HeartbeatMaxAllowedDowntime != 0 {
		out[ElemHeartbeatMaxAllowedDowntime] = fmt.Sprint(t.HeartbeatMaxAllowedDowntime)
	}
	return out
}

func tweaksStep(a *HAAnswers) *steps.Step {
	p := &a.Members[0]
	want := a.HATweaks.values()
	var acts []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		acts = append(acts, fmt.Sprintf(`set <%s value="%s" /> in %s on %s (the failovers get it with the copy of this file)`, k, want[k], a.prefsPath(p), p.Host.Name))
	}
	return &steps.Step{
		ID:      StepSetHATweaks,
		Title:   "Set HeartbeatInterval / HeartbeatMaxAllowedDowntime in preferences.cfg",
		Why:     "fine-tuning the Central High Availability cluster; written with ASCII quotes (the docs print “10”, which breaks the file)",
		DocRef:  refTweaks.String(),
		Hosts:   []string{p.Host.Name},
		Mode:    steps.Once,
		Actions: acts,
		Check: func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
			ev, err := verifyPrefs(ctx, e, &a.Common, p, want)
			return err == nil, ev, nil
		},
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			return setPrefs(ctx, e, &a.Common, p, want, false, nil)
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			return verifyPrefs(ctx, e, &a.Common, p, want)
		},
	}
}
