package tui

import (
	"context"
	"fmt"
	"time"

	"github.com/hawiz/hawiz/steps"
)

type fakeMember struct {
	Name     string            `yaml:"name"`
	Host     steps.HostAnswers `yaml:"host"`
	Priority int               `yaml:"priority,omitempty" help:"primary 10; others higher"`
}

type fakeDNS struct {
	Name string        `yaml:"name"`
	TTL  uint32        `yaml:"ttl,omitempty"`
	Wait time.Duration `yaml:"max_wait,omitempty"`
}

type fakeAnswers struct {
	SSH     steps.SSHAnswers `yaml:"ssh"`
	Members []fakeMember     `yaml:"members"`
	DNS     fakeDNS          `yaml:"dns"`
}

func (a *fakeAnswers) Validate() error {
	var es steps.FieldErrors
	es = append(es, a.SSH.Validate().Prefix("ssh")...)
	if len(a.Members) < 2 {
		es.Add("members", "needs at least 2 members, got %d", len(a.Members))
	}
	for i := range a.Members {
		m := &a.Members[i]
		f := fmt.Sprintf("members[%d]", i)
		if m.Name == "" {
			es.Add(f+".name", "is required")
		}
		if m.Host.Name == "" {
			m.Host.Name = m.Name
		}
		es = append(es, m.Host.Validate().Prefix(f+".host")...)
		if i > 0 && m.Priority != 0 && m.Priority <= 10 {
			es.Add(f+".priority", "%d must be higher than the primary's 10", m.Priority)
		}
	}
	if a.DNS.Name == "" {
		es.Add("dns.name", "is required")
	}
	return es.Err()
}

func (a *fakeAnswers) HostAnswers() []steps.HostAnswers {
	var hs []steps.HostAnswers
	for _, m := range a.Members {
		hs = append(hs, m.Host)
	}
	return hs
}

func (a *fakeAnswers) SSHAnswers() *steps.SSHAnswers { return &a.SSH }

func fakeProc() *steps.Procedure {
	return &steps.Procedure{
		Name: "fake-ha", Title: "Fake service high availability", Description: "Two members, one round-robin name (a test procedure)",
		Version:    1,
		NewAnswers: func() steps.Answers { return &fakeAnswers{} },
		Steps: func(a steps.Answers) ([]*steps.Step, error) {
			fa := a.(*fakeAnswers)
			var names []string
			for _, m := range fa.Members {
				names = append(names, m.Host.Name)
			}
			noop := func(context.Context, *steps.Env, string) error { return nil }
			return []*steps.Step{
				{ID: "stop-services", Title: "Stop the service on every member", Hosts: names, Mode: steps.EachInOrder, Actions: []string{"systemctl stop fake"}, Apply: noop},
				{ID: "write-config", Title: "Write the cluster configuration", Hosts: names, Mode: steps.EachInOrder, Actions: []string{"append <Cluster/> to /etc/fake.cfg"}, Apply: noop},
				{ID: "enable-ha", Title: "Enable high availability in the web UI", Hosts: names[:1], Mode: steps.Once,
					Manual: &steps.Manual{Instructions: []string{"Open Admin → Configuration → High Availability.", "Add every member with the values below, then save."},
						Values: []steps.KV{{Label: "Member 1", Value: "central1 (priority 10)"}, {Label: "Member 2", Value: "central2 (priority 20)"}}}},
				{ID: "start-services", Title: "Start the service on every member", Hosts: names, Mode: steps.EachInOrder, Apply: noop},
				{ID: "check-dns", Title: "Check the round-robin DNS name " + fa.DNS.Name, Apply: noop},
			}, nil
		},
	}
}

func fakeAnswersValid() *fakeAnswers {
	a := &fakeAnswers{Members: []fakeMember{{Name: "central1", Host: steps.HostAnswers{Address: "10.0.0.1"}}, {Name: "central2", Priority: 20, Host: steps.HostAnswers{Address: "10.0.0.2"}}}, DNS: fakeDNS{Name: "central.example.com"}}
	if err := a.Validate(); err != nil {
		panic(err)
	}
	return a
}
