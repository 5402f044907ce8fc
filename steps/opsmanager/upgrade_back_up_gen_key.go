// upgrade_back_up_gen_key.go: step back-up-gen-key of opsmanager-upgrade: a
// copy of gen.key off the servers, on this machine at gen_key_backup_to, in
// case the upgrade loses the key
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/upgrade-ops-manager/
// M17; "gen.key" of the HA page, M1). The backup itself is in backup.go,
// shared with opsmanager-ha.

package opsmanager

import (
	"context"

	"github.com/hawiz/hawiz/steps"
)

func upBackUpGenKey(a *UpgradeAnswers) *steps.Step {
	c := &a.Common
	return &steps.Step{
		ID:     StepUpLocalKey,
		Title:  "Back up the gen.key file to a secure location",
		Why:    "a copy off the servers, in case the upgrade loses the key",
		DocRef: docRefs(refUpgradeBackup, refGenKeyImportant),
		Check: func(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
			return backupCheck(ctx, e, c, a.GenKeyBackup)
		},
		Apply: func(ctx context.Context, e *steps.Env, _ string) error { return backupApply(ctx, e, c, a.GenKeyBackup) },
	}
}
