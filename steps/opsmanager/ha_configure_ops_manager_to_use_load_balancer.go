// ha_configure_ops_manager_to_use_load_balancer.go: step
// configure-ops-manager-to-use-load-balancer of opsmanager-ha: mms.centralUrl
// and mms.remoteIp.header in every server's conf-mms.properties
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// step 2, M2; mms.centralUrl M5, mms.remoteIp.header M6; the M1 note swaps
// the two, procedures.md §C.1).

package opsmanager

import (
	"context"
	"fmt"

	"github.com/hawiz/hawiz/steps"
)

func haConfigureOpsManagerToUseLoadBalancer(a *Answers) *steps.Step {
	c := &a.Common
	return &steps.Step{
		ID:     StepUseLB,
		Title:  "Configure Ops Manager to use the load balancer",
		Why:    "mms.centralUrl is the LB URL and mms.remoteIp.header the header carrying the client IP (local overrides in conf-mms.properties)",
		DocRef: docRefs(haProcStep("2", "configure Ops Manager to use the load balancer (its note swaps the two settings; the settings' own pages are right)"), refCentralURL, refRemoteIPHeader),
		Hosts:  c.serverNames(),
		Mode:   steps.EachInOrder,
		Actions: []string{
			fmt.Sprintf("set %s=%s and %s=%s in conf-mms.properties (in place, backup kept)", KeyCentralURL, a.LoadBalancer.URL, KeyRemoteIP, a.LoadBalancer.RemoteIPHeader),
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			return confHas(ctx, e, c, host, lbKeys(a))
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error { return confSet(ctx, e, c, host, lbKeys(a)) },
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			return confVerify(ctx, e, c, host, lbKeys(a), []string{KeyCentralURL, KeyRemoteIP})
		},
	}
}

// lbKeys are the two keys this step sets, with the answers' values.
func lbKeys(a *Answers) []kv {
	return []kv{{KeyCentralURL, a.LoadBalancer.URL}, {KeyRemoteIP, a.LoadBalancer.RemoteIPHeader}}
}
