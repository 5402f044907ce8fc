// upgrade_check_upgrade_package.go: step check-upgrade-package of
// opsmanager-upgrade: the package the operator downloaded, by SHA-256, the
// same through a resumed run
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/upgrade-ops-manager/
// the download step shared with the install pages, M16, M9, M10; follow the
// upgrade path, no downgrade, M17).

package opsmanager

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/hawiz/hawiz/steps"
)

func upCheckUpgradePackage(a *UpgradeAnswers) *steps.Step {
	return &steps.Step{
		ID:      StepUpPackage,
		Title:   "Download the new Ops Manager package",
		Why:     "the file hawiz uploads is checked by SHA-256 here and again on every server",
		DocRef:  docRefs(upgradeStep("download step", "download the new package or archive"), refUpgradePathNoDown),
		Actions: []string{"SHA-256 of " + a.Upgrade.Package},
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			return checkPackage(e, &a.Upgrade)
		},
	}
}

// checkPackage hashes upgrade.package: it must match upgrade.sha256 when
// given, and the hash recorded when this upgrade began.
func checkPackage(e *steps.Env, u *Upgrade) (string, error) {
	sum, size, err := fileSHA256(u.Package)
	if err != nil {
		return "", fmt.Errorf("upgrade.package: %w", err)
	}
	if u.SHA256 != "" && sum != u.SHA256 {
		return "", fmt.Errorf("upgrade.package %s has sha256 %s, not the %s given in upgrade.sha256", u.Package, sum, u.SHA256)
	}
	if old, ok := e.Fact("upgrade.package.sha256"); ok && old != sum {
		return "", &steps.RefusedError{Reason: fmt.Sprintf("upgrade.package changed since this upgrade began (sha256 %s, was %s)", short(sum), short(old))}
	}
	e.SetFact("upgrade.package.sha256", sum)
	return fmt.Sprintf("%s: %d bytes, sha256 %s", u.Package, size, sum), nil
}

func fileSHA256(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
