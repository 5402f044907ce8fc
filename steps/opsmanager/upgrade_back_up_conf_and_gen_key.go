// upgrade_back_up_conf_and_gen_key.go: step back-up-conf-and-gen-key of
// opsmanager-upgrade: conf-mms.properties and gen.key copied beside
// themselves (*.hawiz-pre-upgrade) on every server, their hashes recorded
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/upgrade-ops-manager/
// back up conf-mms.properties and gen.key, M17; upgrades overwrite
// configuration files, M14).

package opsmanager

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

func upBackUpConfAndGenKey(a *UpgradeAnswers) *steps.Step {
	c := &a.Common
	return &steps.Step{
		ID:     StepUpBackup,
		Title:  "Back up conf-mms.properties and gen.key",
		Why:    "the docs warn that the upgrade process deletes existing data: keep both before upgrading",
		DocRef: docRefs(refUpgradeBackup, refLogsOverwrite),
		Hosts:  c.serverNames(),
		Mode:   steps.Parallel,
		Actions: []string{
			"cp -p conf-mms.properties and gen.key to *.hawiz-pre-upgrade on each server; record their SHA-256",
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			return upBackupCheck(ctx, e, c, host)
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error { return upBackupApply(ctx, e, c, host) },
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			return upBackupVerify(ctx, e, c, host)
		},
	}
}

func upBackupPaths(l layout) (string, string) {
	return l.Conf + ".hawiz-pre-upgrade", l.GenKey + ".hawiz-pre-upgrade"
}

// upBackupCheck: done when both backups hold the recorded hashes.
func upBackupCheck(ctx context.Context, e *steps.Env, c *Common, host string) (bool, string, error) {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return false, "", err
	}
	bc, bk := upBackupPaths(l)
	h, err := e.Host(host)
	if err != nil {
		return false, "", err
	}
	cs, ok1 := e.Fact(upFact(host, "conf_sha256"))
	ks, ok2 := e.Fact(upFact(host, "gen_key_sha256"))
	if !ok1 || !ok2 {
		sums, adopted, err := adoptEarlierBackups(ctx, e, h, l)
		if err != nil {
			return false, "", err
		}
		if !adopted {
			return false, host + ": no backup recorded yet", nil
		}
		cs, ks = sums[0], sums[1]
	}
	fc, err := h.Stat(ctx, bc, l.Sudo)
	if err != nil {
		return false, "", err
	}
	fk, err := h.Stat(ctx, bk, l.Sudo)
	if err != nil {
		return false, "", err
	}
	ok := fc.SHA256 == cs && fk.SHA256 == ks
	return ok, fmt.Sprintf("%s: %s sha256 %s; %s sha256 %s", host, bc, short(fc.SHA256), bk, short(fk.SHA256)), nil
}

// adoptEarlierBackups: in a new run, backups from an earlier run count when
// they hold exactly the current files (nothing changed since); their hashes
// are then recorded and returned (conf, gen.key).
func adoptEarlierBackups(ctx context.Context, e *steps.Env, h *remote.Host, l layout) ([2]string, bool, error) {
	bc, bk := upBackupPaths(l)
	same := true
	var sums [2]string
	for i, p := range [][2]string{{l.Conf, bc}, {l.GenKey, bk}} {
		a, err := h.Stat(ctx, p[0], l.Sudo)
		if err != nil {
			return sums, false, err
		}
		b, err := h.Stat(ctx, p[1], l.Sudo)
		if err != nil {
			return sums, false, err
		}
		same = same && a.Exists && b.Exists && a.SHA256 == b.SHA256
		sums[i] = a.SHA256
	}
	if !same {
		return sums, false, nil
	}
	e.SetFact(upFact(h.Name(), "conf_sha256"), sums[0])
	e.SetFact(upFact(h.Name(), "gen_key_sha256"), sums[1])
	return sums, true, nil
}

// upBackupApply records the pre-upgrade hashes (once) and copies both files
// to their backups.
func upBackupApply(ctx context.Context, e *steps.Env, c *Common, host string) error {
	h, l, err := layoutHost(ctx, e, c, host)
	if err != nil {
		return err
	}
	if err := recordPreUpgradeHashes(ctx, e, h, l); err != nil {
		return err
	}
	bc, bk := upBackupPaths(l)
	for _, p := range [][2]string{{l.Conf, bc}, {l.GenKey, bk}} {
		res, err := h.Run(ctx, remote.Cmd{Program: "cp", Args: []string{"-p", p[0], p[1]}, Sudo: l.Sudo, Timeout: time.Minute})
		if err != nil {
			return err
		}
		if res.ExitStatus != 0 {
			return fmt.Errorf("%s: cp -p %s %s: %s", host, p[0], p[1], strings.TrimSpace(string(res.Stderr)))
		}
	}
	return nil
}

// recordPreUpgradeHashes records the hashes of conf-mms.properties and
// gen.key once: a resumed run must compare with what was there before any
// server was touched.
func recordPreUpgradeHashes(ctx context.Context, e *steps.Env, h *remote.Host, l layout) error {
	host := h.Name()
	for _, f := range []struct{ key, path string }{{"conf_sha256", l.Conf}, {"gen_key_sha256", l.GenKey}} {
		if _, ok := e.Fact(upFact(host, f.key)); ok {
			continue
		}
		fi, err := h.Stat(ctx, f.path, l.Sudo)
		if err != nil {
			return err
		}
		if !fi.Exists {
			return fmt.Errorf("%s: %s does not exist", host, f.path)
		}
		e.SetFact(upFact(host, f.key), fi.SHA256)
	}
	return nil
}

func upBackupVerify(ctx context.Context, e *steps.Env, c *Common, host string) (string, error) {
	ok, ev, err := upBackupCheck(ctx, e, c, host)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("backup copies do not match the recorded files: %s", ev)
	}
	return ev, nil
}
