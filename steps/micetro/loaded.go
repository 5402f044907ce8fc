package micetro

import (
	"context"
	"fmt"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// This file tells whether Central runs with the preferences.cfg now on disk:
// the check of the steps that restart or start it (restart-primary,
// restart-primary-after-register, start-MEMBER).

// loadedCurrentPrefs reports whether Central runs on m with the
// preferences.cfg now on disk: active, listening, and either restarted by
// this run with this very content (fact restartedFact) or started after the
// file was last written and after notBefore (a fact written by
// formatHostTime on the host's clock; "" = none). The times are compared as
// spans (clock.go): with sub-second times a start a moment after the edit,
// in the same second, counts; when the order is unclear (the host tells
// whole seconds only, or both fall within the same few milliseconds) it is
// "not restarted yet" (a harmless restart).
//
// overlapOK accepts a start whose order with the last write is unclear:
// right for a failover, whose file is only written while Central is stopped
// (so a start near that instant came after it); wrong for the primary, whose
// file is edited while Central runs.
//
// The probes (state, port, the file's stat, the process start) are
// read-only and run at once. seen returns what they saw, for the step's
// Apply: whether the service was active and the file's stat.
func loadedCurrentPrefs(ctx context.Context, e *steps.Env, c *Common, h *remote.Host, m *Member, factKey string, notBefore string, overlapOK bool) (_ bool, _ string, seen observed, _ error) {
	var (
		active, listening, found bool
		since                    span
		info                     remote.FileInfo
		errR, errS, errP         error
	)
	par(func() { active, listening, errR = probeRunning(ctx, c, h, m) },
		func() { info, errS = h.Stat(ctx, c.prefsPath(m), c.sudo(m)) },
		func() { since, found, errP = startedAt(ctx, c, h, m) })
	if errR != nil {
		return false, "", seen, errR
	}
	seen.active = active
	if errS == nil {
		seen.info, seen.stat = info, true
	}
	ok, ev := runningText(c, m, active, listening)
	if !ok {
		return false, ev, seen, nil
	}
	if errS != nil {
		return false, "", seen, errS
	}
	if v, _ := e.Fact(factKey); v != "" && v == restartStamp(info.SHA256, notBefore) {
		return true, ev + "; restarted by this run with the current preferences.cfg", seen, nil
	}
	if errP != nil {
		return false, "", seen, errP
	}
	if !found {
		return false, ev + fmt.Sprintf("; no %s process found to date its start", c.daemonProcess(m)), seen, nil
	}
	ok, ev, err := startedAfter(c, m, info, since, notBefore, overlapOK, ev)
	return ok, ev, seen, err
}

// startedAfter compares since, when Central started on m, with the last
// write of its preferences.cfg (info) and the registration (notBefore), as
// loadedCurrentPrefs says; ev is the evidence so far.
func startedAfter(c *Common, m *Member, info remote.FileInfo, since span, notBefore string, overlapOK bool, ev string) (bool, string, error) {
	prec := info.ModTimePrecision
	if prec <= 0 {
		prec = time.Second
	}
	need, what := exactly(info.ModTime, prec), "the last write of "+c.prefsPath(m)
	if notBefore != "" {
		t, p, err := parseHostTime(notBefore)
		if err != nil {
			return false, "", fmt.Errorf("the recorded registration time %q: %w", notBefore, err)
		}
		if nb := exactly(t, p); nb.hi.After(need.hi) {
			need, what = later(need, nb), "the registration"
		}
	}
	if since.surelyAfter(need) {
		return true, ev + fmt.Sprintf("; running since %s, after %s (%s)", since, what, need), nil
	}
	if overlapOK && since.maybeAfter(need) {
		return true, ev + fmt.Sprintf("; running since %s, no earlier than %s (%s), which is only written while Central is stopped", since, what, need), nil
	}
	return false, ev + fmt.Sprintf("; running since %s, not surely after %s (%s): not restarted yet", since, what, need), nil
}

// observed is what a Check saw of a member's service and preferences.cfg.
type observed struct {
	active bool
	stat   bool // info is valid
	info   remote.FileInfo
}

// restartStamp is the fact a restart records: the file content it loaded
// and the registration it follows ("" = none).
func restartStamp(sha string, notBefore string) string {
	if notBefore == "" {
		notBefore = "0"
	}
	return sha + "@" + notBefore
}
