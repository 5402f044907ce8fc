package micetro

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// This file edits and checks elements of a member's preferences.cfg on the
// host (the parser is prefs.go): the steps name-primary and set-ha-tweaks.

// prefsRead is one read of a preferences.cfg.
type prefsRead struct {
	prefs *Prefs
	info  remote.FileInfo
}

// setPrefs sets each element=value of want in m's preferences.cfg, in one
// write: compare-and-swap on the content read, a backup kept. read, when not
// nil, is the content the step's Check just read (not read again): a file
// changed since is refused (remote.ErrChanged), never overwritten.
// askOnDifferent: an element holding another value stops and asks the
// operator (ClusterMemberName).
func setPrefs(ctx context.Context, e *steps.Env, c *Common, m *Member, want map[string]string, askOnDifferent bool, read *prefsRead) error {
	h, err := e.Host(m.Host.Name)
	if err != nil {
		return err
	}
	path := c.prefsPath(m)
	if read == nil {
		pr, info, err := readPrefs(ctx, c, h, m)
		if err != nil {
			return err
		}
		read = &prefsRead{pr, info}
	}
	pr, info := read.prefs, read.info
	if pr == nil {
		return fmt.Errorf("%s does not exist on %s", path, m.Host.Name)
	}
	if probs := pr.Problems(); len(probs) > 0 {
		return fmt.Errorf("%s on %s: %v: fix it by hand first (Central would not start)", path, m.Host.Name, probs)
	}
	out, changed := pr.Bytes(), false
	for _, elem := range slices.Sorted(maps.Keys(want)) {
		value := want[elem]
		if old, ok := pr.Get(elem); ok && old != value && askOnDifferent {
			if err := confirmReplace(ctx, e, path, m, elem, old, value); err != nil {
				return err
			}
		}
		o, ch, err := pr.Set(elem, value)
		if err != nil {
			return fmt.Errorf("%s on %s: %w", path, m.Host.Name, err)
		}
		if ch {
			out, changed = o, true
			pr = ParsePrefs(o, c.eol(m))
		}
	}
	if !changed {
		return nil
	}
	return writePrefs(ctx, e, c, h, m, out, info.SHA256)
}

// confirmReplace asks the operator whether elem's value old in m's file at
// path may become value; a no stops the run (steps.StoppedError).
func confirmReplace(ctx context.Context, e *steps.Env, path string, m *Member, elem, old, value string) error {
	q := fmt.Sprintf("%s on %s already has <%s value=%q/>, not %q. Replace it? (a member renamed in the file must be renamed in the HA list too)", path, m.Host.Name, elem, old, value)
	yes, err := e.Operator().Confirm(ctx, q, false)
	if err != nil {
		return err
	}
	if !yes {
		return &steps.StoppedError{Reason: fmt.Sprintf("%s on %s names the member %q; the answers say %q", path, m.Host.Name, old, value)}
	}
	return nil
}

// writePrefs writes out as m's preferences.cfg if it still has SHA-256 cas,
// keeping a backup (recorded as a fact and shown).
func writePrefs(ctx context.Context, e *steps.Env, c *Common, h *remote.Host, m *Member, out []byte, cas string) error {
	path := c.prefsPath(m)
	markChanged(e, m.Host.Name)
	res, err := h.WriteFile(ctx, path, out, remote.WriteOptions{IfSHA256: cas, Backup: true, Sudo: c.sudo(m)})
	if err != nil {
		return fmt.Errorf("writing %s on %s: %w", path, m.Host.Name, err)
	}
	if res.Backup != "" {
		e.SetFact("backup."+m.Host.Name+"."+path, res.Backup)
		e.Output(m.Host.Name, fmt.Sprintf("%s written (backup %s)", path, res.Backup))
	}
	return nil
}

// verifyPrefs checks that m's preferences.cfg holds want (once each), has no
// typographic quotes and still names the database.
func verifyPrefs(ctx context.Context, e *steps.Env, c *Common, m *Member, want map[string]string) (string, error) {
	h, err := e.Host(m.Host.Name)
	if err != nil {
		return "", err
	}
	pr, info, err := readPrefs(ctx, c, h, m)
	if err != nil {
		return "", err
	}
	path := c.prefsPath(m)
	if pr == nil {
		return "", fmt.Errorf("%s does not exist on %s", path, m.Host.Name)
	}
	var ev []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		got := pr.Find(k)
		if len(got) != 1 || got[0].Value != want[k] {
			return "", fmt.Errorf("%s on %s: want exactly one <%s value=%q/>, found %d", path, m.Host.Name, k, want[k], len(got))
		}
		ev = append(ev, fmt.Sprintf("%s=%q (line %d)", k, want[k], got[0].No))
	}
	if probs := pr.Problems(); len(probs) > 0 {
		return "", fmt.Errorf("%s on %s: %v", path, m.Host.Name, probs)
	}
	if _, err := pr.Backend(); err != nil {
		return "", fmt.Errorf("%s on %s %v", path, m.Host.Name, err)
	}
	return fmt.Sprintf("%s: %s; sha256 %s", path, strings.Join(ev, ", "), short(info.SHA256)), nil
}

// short is a SHA-256's first 12 hex digits, for evidence.
func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
