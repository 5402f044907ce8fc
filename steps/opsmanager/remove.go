// remove.go holds the procedure opsmanager-remove-server: its step IDs,
// answers, template and ordered table. The HA page describes the pool of
// Application servers behind the load balancer (M2 step 1) and how to stop
// a server (M11), not how to take one out: the order here (out of the
// pool, proven by tagged requests, then stopped) is hawiz's [derived], and
// each step says so in its Why.

package opsmanager

import (
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// Step IDs of opsmanager-remove-server (stable: they are in state files).
const (
	StepRmPreflight = "preflight-servers"
	StepRmPool      = "take-server-out-of-pool"
	StepRmStop      = "stop-removed-server"
)

var (
	refStopServer = docRef{startStopPage, "Stop Ops Manager: service mongodb-mms stop (package), <install_dir>/bin/mongodb-mms stop (archive)"}
	refPool       = haProcStep("1", "configure a load balancer with the pool of Application hosts; the page describes no removal from the pool")
)

// RemoveServerAnswers are the answers of opsmanager-remove-server: the
// servers and the load balancer as opsmanager-ha's answers give them,
// plus the server to take out.
type RemoveServerAnswers struct {
	Common       `yaml:",inline"`
	LoadBalancer LoadBalancer `yaml:"load_balancer"`
	// Remove names the server to take out: one of servers, not the last.
	Remove string `yaml:"remove" title:"Server to remove" help:"the name of the Application server to take out of the load balancer's pool and stop: one of the servers" example:"om3"`
}

// Validate checks the servers, the load balancer and remove.
func (a *RemoveServerAnswers) Validate() error {
	var es steps.FieldErrors
	a.Common.validate(&es)
	a.LoadBalancer.validate(&es, "load_balancer")
	es = append(es, a.checkUsers(nil)...)
	switch i := a.removedIndex(); {
	case a.Remove == "":
		es.Add("remove", "is required: the name of the server to take out (one of servers[].name)")
	case i < 0:
		es.Add("remove", "%q is not one of the servers (%s)", a.Remove, strings.Join(a.serverNames(), ", "))
	case len(a.Servers) == 1:
		es.Add("remove", "%q is the last Application server: removing it leaves the load balancer nothing to send to; hawiz refuses it", a.Remove)
	}
	return steps.WithPlaceholders(a, es).Err()
}

func (a *RemoveServerAnswers) removedIndex() int {
	for i, s := range a.Servers {
		if s.Name == a.Remove {
			return i
		}
	}
	return -1
}

// remaining names the servers that stay.
func (a *RemoveServerAnswers) remaining() []string {
	var out []string
	for _, s := range a.Servers {
		if s.Name != a.Remove {
			out = append(out, s.Name)
		}
	}
	return out
}

// HostAnswers lists the servers (steps.HostSource).
func (a *RemoveServerAnswers) HostAnswers() []steps.HostAnswers {
	var out []steps.HostAnswers
	for _, s := range a.Servers {
		out = append(out, s.HostAnswers)
	}
	return out
}

// RemoveServer is the procedure opsmanager-remove-server.
func RemoveServer() *steps.Procedure {
	return &steps.Procedure{
		Name:        "opsmanager-remove-server",
		Title:       "Take an Ops Manager Application server out of the HA pool",
		Description: "Take one Application server out of the load balancer's pool (proven by tagged requests), then stop it",
		DocURL:      DocHA,
		Version:     1,
		NewAnswers:  func() steps.Answers { return &RemoveServerAnswers{} },
		Template:    TemplateRemoveServer,
		Steps: func(an steps.Answers) ([]*steps.Step, error) {
			a := an.(*RemoveServerAnswers)
			list := []*steps.Step{removePreflight(a), removeFromPool(a), removeStop(a)}
			return list, steps.Lint(list, steps.HostNames(a))
		},
	}
}

// TemplateRemoveServer is printed by `hawiz answers opsmanager-remove-server`.
const TemplateRemoveServer = `# hawiz answers: opsmanager-remove-server (take one Application server out of the pool)
ssh:
  user: admin               # sudo rights needed (service mongodb-mms stop)
servers:                    # every Application server behind the load balancer now
  - name: om1
    install: package
  - name: om2
    install: package
  - name: om3
    install: package
load_balancer:
  url: http://opsmanager.example.net:8080
  # requests: 12            # tagged requests that must all miss the removed server (default 4 per server)
remove: om3                 # the server to take out of the pool and stop
`

func removeSummary(a *RemoveServerAnswers) string {
	return fmt.Sprintf("%s out; %s stay", a.Remove, strings.Join(a.remaining(), ", "))
}
