// inplace.go: which servers of the answers are already in the running
// deployment, said by preflight-servers before anything changes. A server
// is in the deployment when its conf-mms.properties already means the
// answers (mms.centralUrl and mms.remoteIp.header by sameValue,
// mongo.mongoUri by planURI), it holds the deployment's gen.key (hash,
// size, owner, group and mode as keyMatches wants them) and Ops Manager
// runs on it and answers /monitor/health 200. These are the conditions
// under which every step's Check says done on it, so such a server gets no
// write, no stop and no restart; a server added to the answers gets its
// configuration and the deployment's key, then starts (issue 16 item 5).

package opsmanager

import (
	"context"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// placement is one server's standing in the deployment.
type placement struct {
	inPlace bool     // left alone by every step
	running bool     // Ops Manager runs on it
	why     []string // what differs from the answers, when not in place
}

// placeServer reads host's file, key and service (read-only).
func placeServer(ctx context.Context, e *steps.Env, a *Answers, host string) (placement, error) {
	c := &a.Common
	var p placement
	h, l, err := layoutHost(ctx, e, c, host)
	if err != nil {
		return p, err
	}
	b, _, err := h.ReadFile(ctx, l.Conf, l.Sudo)
	if err != nil {
		return p, err
	}
	props := ParseProps(b)
	for _, w := range lbKeys(a) {
		if v, ok := props.Get(w.k); !ok || !sameValue(w.k, v, w.v) {
			p.why = append(p.why, w.k+" differs")
		}
	}
	ans, err := answersCreds(e, a)
	if err != nil {
		return p, err
	}
	ed, err := ans.plan(e, props)
	if err != nil {
		return p, fmt.Errorf("%s: %s: %w", host, l.Conf, err)
	}
	if !ed.done {
		p.why = append(p.why, KeyMongoURI+" differs")
	}
	ok, kev, err := keyMatches(ctx, e, c, host)
	if err != nil {
		return p, err
	}
	if !ok {
		p.why = append(p.why, strings.TrimPrefix(kev, host+": "))
	}
	if p.running, err = running(ctx, e, h, l, c); err != nil {
		return p, err
	}
	up, uev, err := serverUp(ctx, e, c, h, l)
	if err != nil {
		return p, err
	}
	if !up {
		p.why = append(p.why, strings.TrimPrefix(uev, host+": "))
	}
	p.inPlace = len(p.why) == 0
	return p, nil
}

// preflightPlacement says, before anything changes, which servers are
// already in the deployment and left alone, which run but need a change
// (and so a restart, one at a time, after every server runs), and which
// are added. It runs after preflightGenKey (the deployment's key is known).
func preflightPlacement(ctx context.Context, e *steps.Env, a *Answers) (string, error) {
	names := a.serverNames()
	ps := make([]placement, len(names))
	if _, err := forEachServer(ctx, names, func(ctx context.Context, name string) (string, error) {
		p, err := placeServer(ctx, e, a, name)
		ps[indexOf(names, name)] = p
		return "", err
	}); err != nil {
		return "", err
	}
	var inPlace, changed, added []string
	for i, p := range ps {
		switch {
		case p.inPlace:
			inPlace = append(inPlace, names[i])
		case p.running:
			changed = append(changed, fmt.Sprintf("%s (%s)", names[i], strings.Join(p.why, "; ")))
		default:
			added = append(added, names[i])
		}
	}
	if len(inPlace) == 0 && len(changed) == 0 {
		return "no server runs yet: every server is configured and started by this run", nil
	}
	var parts []string
	if len(inPlace) > 0 {
		parts = append(parts, "already in the deployment (left alone: no write, no stop, no restart): "+strings.Join(inPlace, ", "))
	}
	if len(added) > 0 {
		parts = append(parts, "added: "+strings.Join(added, ", ")+" (configured, given the deployment's gen.key, started and checked before any running server is restarted)")
	}
	if len(changed) > 0 {
		parts = append(parts, "running but not as the answers say: "+strings.Join(changed, ", ")+"; what differs is changed in place and such a server is restarted in step "+StepRestartChanged+" only when its file changed, after every server runs, one at a time")
	}
	return strings.Join(parts, "; "), nil
}
