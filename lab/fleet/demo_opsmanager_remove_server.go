// The demo of opsmanager-remove-server: the servers are first made an HA
// deployment by a quiet opsmanager-ha run on the demo fleet (the real
// procedure, its state in the fleet's state directory) in a demo-only
// first step, demo-set-up-ha (so that starting the wizard's demos costs
// nothing and a failed setup stops only this run), then the last server
// is taken out. The demo's load balancer is in-process: when the
// pool step is confirmed the demo takes the server out of its pool itself,
// as the operator does on a real load balancer, before hawiz proves it.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/opsmanager"
)

// demoSetupHA is the demo's own first step of opsmanager-remove-server.
const demoSetupHA = "demo-set-up-ha"

// omSetupDone marks, in a kept fleet's root, that the setup run finished.
const omSetupDone = "opsmanager-ha-setup.done"

func setupOpsManagerRemoveServer(d *Demo) error {
	o := d.Opts
	if err := checkMembers(o, "servers"); err != nil {
		return err
	}
	f, err := Start(Config{Kind: OpsManager, Hosts: demoHostNames("om", o.Members), Seed: o.Seed, Exe: o.Exe, TempDir: o.TempDir, Root: o.Root})
	if err != nil {
		return err
	}
	d.Fleet = f
	ha := opsManagerHAAnswers(f)
	a := &opsmanager.RemoveServerAnswers{Common: ha.Common, LoadBalancer: ha.LoadBalancer, Remove: f.Hosts[len(f.Hosts)-1].Name}
	d.Answers = a
	d.Procedure = f.pullsFromPool(opsmanager.RemoveServer(), a.Remove)
	d.Notes = []string{
		demoHostsNote(f),
		"the demo's first step " + demoSetupHA + " (not part of the procedure) makes the servers an HA deployment with an opsmanager-ha run on the demo fleet (its state: " + filepath.Join(f.StateDir, "opsmanager-ha-setup.json") + ")",
		"the load balancer " + f.LBURL + " is an in-process stand-in; when you confirm " + opsmanager.StepRmPool + " the demo takes " + a.Remove + " out of its pool itself (on a real load balancer you do), then hawiz proves it with tagged requests",
	}
	return nil
}

// setupOpsManagerHA runs opsmanager-ha on f quietly (once: a kept fleet
// that finished it skips it), so that the servers are what the procedures
// that change an HA deployment need.
func (f *Fleet) setupOpsManagerHA() error {
	done := filepath.Join(f.Root, omSetupDone)
	if _, err := os.Stat(done); err == nil {
		return nil
	}
	a := opsManagerHAAnswers(f)
	if err := a.Validate(); err != nil { // as Setup validates a demo's answers
		return fmt.Errorf("demo setup answers: %w", err)
	}
	state := filepath.Join(f.StateDir, "opsmanager-ha-setup.json")
	os.Remove(state)
	discard := steps.RendererFunc(func(steps.Event) {})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err := steps.Run(ctx, steps.RunConfig{
		Procedure: opsmanager.HA(), Answers: a, AnswersFile: "(hawiz demo setup)", RunName: "demo-setup",
		StatePath: state, Renderer: discard, Operator: &Operator{R: discard}, Yes: true,
		Remote: remote.Options{SSHConfigFile: "none", AgentSocket: "none", KnownHostsFile: f.KnownHosts},
		Getenv: demoGetenv(filepath.Join(f.Root, "state")),
	})
	if err != nil {
		return fmt.Errorf("demo setup (opsmanager-ha on the demo servers): %w", err)
	}
	return os.WriteFile(done, nil, 0o600)
}

// pullsFromPool is p with the demo's setup step first and the demo playing
// the operator at the pool step: before the step's verification it takes
// server out of the demo load balancer's pool (once; the check before the
// confirmation sees the pool as it is).
func (f *Fleet) pullsFromPool(p *steps.Procedure, server string) *steps.Procedure {
	q := *p
	q.Steps = func(a steps.Answers) ([]*steps.Step, error) {
		list, err := p.Steps(a)
		if err != nil {
			return nil, err
		}
		for i, s := range list {
			if s.ID != opsmanager.StepRmPool || s.Verify == nil {
				continue
			}
			c := *s
			verify := s.Verify
			c.Verify = func(ctx context.Context, e *steps.Env, h string) (string, error) {
				if pool := f.Pool(); slices.Contains(pool, server) {
					pool = slices.DeleteFunc(pool, func(n string) bool { return n == server })
					if err := f.SetPool(pool); err != nil {
						return "", err
					}
					e.Warn("", "the demo took %s out of its load balancer's pool (what you do on a real load balancer)", server)
				}
				return verify(ctx, e, h)
			}
			list[i] = &c
		}
		done := filepath.Join(f.Root, omSetupDone)
		isDone := func() bool { _, err := os.Stat(done); return err == nil }
		setup := &steps.Step{
			ID:     demoSetupHA,
			Title:  "Demo only: make the demo servers an HA deployment (an opsmanager-ha run on the demo fleet)",
			Why:    "opsmanager-remove-server takes a server out of an HA deployment; the demo's servers start as fresh installs",
			DocRef: opsmanager.DocHA,
			Mode:   steps.Once,
			Actions: []string{"run opsmanager-ha on the demo servers (its events are not shown; its state: " +
				filepath.Join(f.StateDir, "opsmanager-ha-setup.json") + ")"},
			Check: func(context.Context, *steps.Env, string) (bool, string, error) {
				if isDone() {
					return true, "the demo servers are an HA deployment (" + done + ")", nil
				}
				return false, "the demo servers are fresh installs", nil
			},
			Apply: func(context.Context, *steps.Env, string) error { return f.setupOpsManagerHA() },
			Verify: func(context.Context, *steps.Env, string) (string, error) {
				if !isDone() {
					return "", errors.New("the demo's opsmanager-ha run did not finish")
				}
				return "opsmanager-ha finished on the demo servers", nil
			},
		}
		return append([]*steps.Step{setup}, list...), nil
	}
	return &q
}
