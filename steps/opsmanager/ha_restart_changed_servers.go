// ha_restart_changed_servers.go: step restart-changed-servers of
// opsmanager-ha: a server that ran while hawiz changed its
// conf-mms.properties (steps 2 and 3) is restarted to read it — after every
// server being added has started and answered /monitor/health, one server
// at a time, each only while every other server serves behind the load
// balancer (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// Overview, "Multiple Ops Manager Application Servers": any server can
// handle requests, another fills in when one is unavailable; the settings
// in conf-mms.properties are read when Ops Manager starts, configuration
// page). A server whose file did not change is never restarted. Restarting
// is in start.go.

package opsmanager

import (
	"context"

	"github.com/hawiz/hawiz/steps"
)

func haRestartChangedServers(a *Answers) *steps.Step {
	c := &a.Common
	return &steps.Step{
		ID:     StepRestartChanged,
		Title:  "Restart the servers whose conf-mms.properties changed while they ran, one at a time",
		Why:    "a running Application reads conf-mms.properties when it starts; the others keep serving behind the load balancer while one restarts",
		DocRef: docRefs(refMultipleServers, refConfigFile, refStartStop),
		Hosts:  c.serverNames(),
		Mode:   steps.EachInOrder,
		Actions: []string{
			"only a server that ran while this run changed its conf-mms.properties: after every server is started and healthy, and only while every other server answers /monitor/health 200: stop, start, wait for /monitor/health 200 and \"Started in\"; then the next",
			"a server whose file this run did not change is not restarted",
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			if !restartPending(e, host) {
				return true, host + ": its conf-mms.properties was not changed while it ran: not restarted", nil
			}
			return false, host + ": conf-mms.properties changed while it ran: restart needed", nil
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error { return restartApply(ctx, e, c, host) },
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			return startVerify(ctx, e, c, host)
		},
	}
}
