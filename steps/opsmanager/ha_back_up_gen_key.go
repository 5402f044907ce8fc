// ha_back_up_gen_key.go: step back-up-gen-key of opsmanager-ha: a copy of
// gen.key on this machine, mode 0600, at gen_key.backup_to
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// "gen.key", M1: back up gen.key once generated). The backup itself is in
// backup.go, shared with opsmanager-upgrade.

package opsmanager

import (
	"context"

	"github.com/hawiz/hawiz/steps"
)

func haBackUpGenKey(a *Answers) *steps.Step {
	c := &a.Common
	return &steps.Step{
		ID:     StepBackupKey,
		Title:  "Back up the gen.key file to a secure location",
		Why:    "without the key the backing databases and credentials cannot be decrypted",
		DocRef: refGenKeyImportant.String(),
		Actions: []string{
			"offer a local copy (mode 0600) at gen_key.backup_to; say where it went",
		},
		Check: func(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
			return backupCheck(ctx, e, c, a.GenKey.BackupTo)
		},
		Apply: func(ctx context.Context, e *steps.Env, _ string) error {
			return backupApply(ctx, e, c, a.GenKey.BackupTo)
		},
	}
}
