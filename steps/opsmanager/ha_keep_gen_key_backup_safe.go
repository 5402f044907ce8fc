// ha_keep_gen_key_backup_safe.go: step keep-gen-key-backup-safe of
// opsmanager-ha, the closing reminder: where the gen.key backup is, or that
// there is none (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// "gen.key" important notes, M1).

package opsmanager

import (
	"context"
	"fmt"

	"github.com/hawiz/hawiz/steps"
)

func haKeepGenKeyBackupSafe(a *Answers) *steps.Step {
	return &steps.Step{
		ID:     StepKeepKeySafe,
		Title:  "Keep the gen.key backup safe",
		Why:    "the backup is the only way back if every server loses its key; shared storage holding it must itself be HA",
		DocRef: refGenKeyImportant.String(),
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) { return keepSafe(e, a) },
	}
}

func keepSafe(e *steps.Env, a *Answers) (string, error) {
	sum, _ := e.Fact(factGenKeySHA)
	where, ok := e.Fact(factGenKeyBackup)
	var msg string
	if ok && where != "" {
		msg = fmt.Sprintf("gen.key backup: %s (mode 0600, sha256 %s). Keep it safe and off these servers: it decrypts the backing databases and credentials; any shared storage holding it must itself be highly available ("+refGenKeyImportant.String()+").", where, short(sum))
	} else {
		msg = fmt.Sprintf("No gen.key backup was made by hawiz: copy gen.key (sha256 %s) from %s to a secure location now ("+refGenKeyImportant.String()+").", short(sum), a.Servers[0].Name)
		e.Warn("", "%s", msg)
	}
	e.Output("", msg)
	return msg, nil
}
