// ha_point_agents_at_load_balancer.go: step point-agents-at-load-balancer of
// opsmanager-ha (only when the answers list agents): each MongoDB Agent's
// mmsBaseUrl becomes the LB URL and the agent is restarted
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// step 4, M2; agent config locations M20).

package opsmanager

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

func haPointAgentsAtLoadBalancer(a *Answers) *steps.Step {
	var agentNames []string
	for _, g := range a.Agents {
		agentNames = append(agentNames, g.Name)
	}
	return &steps.Step{
		ID:     StepAgents,
		Title:  "Update each MongoDB Agent to use the load balancer",
		Why:    "agents must talk to the LB URL, not to one Ops Manager server",
		DocRef: docRefs(haProcStep("4", "update each MongoDB Agent to use the load balancer"), refAgentConfig),
		Hosts:  agentNames,
		Mode:   steps.EachInOrder,
		Actions: []string{
			fmt.Sprintf("set %s=%s in the agent config, restart the agent", KeyAgentBase, a.LoadBalancer.URL),
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			return agentCheck(ctx, e, a, host)
		},
		Undo:  agentsUndo(a),
		Apply: func(ctx context.Context, e *steps.Env, host string) error { return agentApply(ctx, e, a, host) },
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			return agentVerify(ctx, e, a, host)
		},
	}
}

// agentsUndo is how to finish undoing point-agents-at-load-balancer in a
// rollback: hawiz restores each agent's configuration file (the write is
// in the change journal), but the agents' restarts are not journaled, so
// an agent keeps the load balancer's URL until it is restarted.
func agentsUndo(a *Answers) *steps.Manual {
	m := &steps.Manual{Instructions: []string{
		fmt.Sprintf("hawiz restored each agent's configuration file from the backup the run kept, just before this step (a file changed since the run is left as it is and named in the rollback's output): %s there is again what the agent used before the run (%s).",
			KeyAgentBase, refAgentConfig),
		"The agents still use the load balancer's URL until they are restarted; hawiz does not restart them in a rollback. Restart each agent now:",
	}}
	for _, g := range a.Agents {
		argv := agentArgv(&g, "restart")
		m.Instructions = append(m.Instructions, fmt.Sprintf("  on %s: %s", g.Name, strings.Join(argv, " ")))
		m.Values = append(m.Values, steps.KV{Label: g.Name, Value: g.ConfigPath})
	}
	return m
}

func (a *Answers) agent(name string) *Agent {
	for i := range a.Agents {
		if a.Agents[i].Name == name {
			return &a.Agents[i]
		}
	}
	return nil
}

func agentSudo(a *Answers) bool { return a.SSH.Sudo != steps.SudoNone }

func agentCheck(ctx context.Context, e *steps.Env, a *Answers, host string) (bool, string, error) {
	g := a.agent(host)
	h, err := e.Host(host)
	if err != nil {
		return false, "", err
	}
	b, _, err := h.ReadFile(ctx, g.ConfigPath, agentSudo(a))
	if err != nil {
		return false, "", err
	}
	v, _ := ParseProps(b).Get(KeyAgentBase)
	return v == a.LoadBalancer.URL, fmt.Sprintf("%s: %s=%s in %s", host, KeyAgentBase, v, g.ConfigPath), nil
}

func agentArgv(g *Agent, action string) []string {
	if g.ServiceManager == "service" {
		return []string{"service", g.Service, action}
	}
	return []string{"systemctl", action, g.Service}
}

func agentApply(ctx context.Context, e *steps.Env, a *Answers, host string) error {
	g := a.agent(host)
	h, err := e.Host(host)
	if err != nil {
		return err
	}
	b, fi, err := h.ReadFile(ctx, g.ConfigPath, agentSudo(a))
	if err != nil {
		return err
	}
	p := ParseProps(b)
	p.Set(KeyAgentBase, a.LoadBalancer.URL)
	if _, err := h.WriteFile(ctx, g.ConfigPath, p.Bytes(), remote.WriteOptions{IfSHA256: fi.SHA256, Backup: true, Sudo: agentSudo(a), Secret: true}); err != nil {
		return err
	}
	argv := agentArgv(g, "restart")
	res, err := h.Run(ctx, remote.Cmd{Program: argv[0], Args: argv[1:], Sudo: agentSudo(a), Timeout: 5 * time.Minute})
	if err != nil {
		return err
	}
	if res.ExitStatus != 0 {
		return fmt.Errorf("%s: %s (exit %d): %s", host, strings.Join(argv, " "), res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
	}
	return nil
}

func agentVerify(ctx context.Context, e *steps.Env, a *Answers, host string) (string, error) {
	ok, ev, err := agentCheck(ctx, e, a, host)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s", ev)
	}
	g := a.agent(host)
	argv := agentArgv(g, "status")
	if g.ServiceManager != "service" {
		argv = []string{"systemctl", "is-active", "--quiet", g.Service}
	}
	h, err := e.Host(host)
	if err != nil {
		return "", err
	}
	res, err := h.Run(ctx, remote.Cmd{Program: argv[0], Args: argv[1:], Sudo: agentSudo(a), Timeout: time.Minute})
	if err != nil {
		return "", err
	}
	if res.ExitStatus != 0 {
		return "", fmt.Errorf("%s: the agent (%s) is not running after the restart", host, g.Service)
	}
	return ev + "; " + g.Service + " running", nil
}
