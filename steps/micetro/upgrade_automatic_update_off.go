package micetro

import (
	"context"
	"fmt"

	"github.com/hawiz/hawiz/steps"
)

// Step automatic-update-off of micetro-central-upgrade: the operator
// confirms that Micetro's own (automatic) update is not in use, before
// anything stops. The documents forbid it in HA and say where it is run
// (the web UI's Micetro Version page, the Management Console's Update
// Manager); no setting hawiz could read on a host turns it off.
// Docs: https://docs.menandmice.com/en/10.1/guides/implementation/central_ha.html#update-central-ha
// (Updating Central in High Availability setup, the warning);
// https://docs.menandmice.com/en/latest/guides/implementation/console_updates.html
// (Update Guide - Management Console, "Viewing Update Status", the warning);
// https://docs.menandmice.com/en/latest/guides/implementation/updates.html
// (Preparing the Update, Deploying the Update).

func autoUpdateOffStep(a *UpgradeAnswers) *steps.Step {
	id := StepUpAutoUpdateOff
	return &steps.Step{
		ID:     id,
		Title:  "Automatic Update is not used while Central is in High Availability",
		Why:    "the Automatic Update feature cannot be used when the Central service is in High Availability setup; each member is updated by hand, in order",
		DocRef: docRefs(refUpdateHA("the warning"), refAutoUpdate),
		Mode:   steps.Once,
		Manual: &steps.Manual{
			Instructions: []string{
				"Before anything stops: Micetro's own update (the Auto Updater) must not run while Central is in High Availability; hawiz updates each member with the installer instead.",
				"Micetro 10.2 and later: Admin → Configuration → Micetro Version: no update is being prepared or deployed; do not select Prepare Update or Deploy Update until hawiz is done.",
				"Management Console (10.1 and older): Tools → Update Status shows no update in progress; do not click Start Update (Tools → Check for Updates) until hawiz is done.",
				"Confirm when no automatic update is in progress and none will be started during this update. To answer in advance (without a terminal): --confirm " + id + ".",
			},
			Values: []steps.KV{{Label: "Update to", Value: a.Installer.ExpectedVersion + " with the installer, member by member"}},
		},
		Check: func(ctx context.Context, e *steps.Env, h string) (bool, string, error) {
			if done, ev, err := factCheck(id)(ctx, e, h); done || err != nil {
				return done, ev, err
			}
			if v, _ := e.Fact(factUpgradedBefore); v == "yes" {
				return true, "every member already ran " + a.Installer.ExpectedVersion + " before this run: nothing is updated", nil
			}
			return false, "not confirmed yet", nil
		},
		Apply: func(_ context.Context, e *steps.Env, _ string) error {
			recordConfirmed(e, id)
			return nil
		},
		Verify: func(ctx context.Context, e *steps.Env, h string) (string, error) {
			done, ev, err := factCheck(id)(ctx, e, h)
			if err == nil && !done {
				err = fmt.Errorf("the operator has not confirmed that Automatic Update is not in use")
			}
			return ev, err
		},
	}
}
