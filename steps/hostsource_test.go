// Tests of HostSource: the hosts and ssh block the engine takes from answers.
package steps

import (
	"reflect"
	"testing"

	"github.com/hawiz/hawiz/remote"
)

type noHosts struct{}

func (noHosts) Validate() error { return nil }

type twoHosts struct {
	ssh   *SSHAnswers
	hosts []HostAnswers
}

func (*twoHosts) Validate() error              { return nil }
func (a *twoHosts) HostAnswers() []HostAnswers { return a.hosts }
func (a *twoHosts) SSHAnswers() *SSHAnswers    { return a.ssh }

func TestHostSource(t *testing.T) {
	if got := HostConfigs(noHosts{}); got != nil {
		t.Errorf("HostConfigs(answers without HostSource) = %v, want nil", got)
	}
	if got := HostNames(noHosts{}); got != nil {
		t.Errorf("HostNames(answers without HostSource) = %v, want nil", got)
	}
	if got := sshAnswersOf(noHosts{}); *got != (SSHAnswers{Sudo: SudoNoPasswd}) {
		t.Errorf("sshAnswersOf(answers without HostSource) = %+v, want the defaults", got)
	}
	a := &twoHosts{
		ssh: &SSHAnswers{User: "admin", Port: 2222, IdentityFile: "/k", ProxyJump: "jump", Sudo: SudoPassword},
		hosts: []HostAnswers{
			{Name: "b", Address: "10.0.0.2"},
			{Name: "a", Port: 22, User: "root", OS: "windows"},
		},
	}
	want := []remote.HostConfig{
		{Name: "b", Address: "10.0.0.2", Port: 2222, User: "admin", ProxyJump: "jump", IdentityFiles: []string{"/k"}},
		{Name: "a", Port: 22, User: "root", ProxyJump: "jump", IdentityFiles: []string{"/k"}, OS: remote.Windows},
	}
	if got := HostConfigs(a); !reflect.DeepEqual(got, want) {
		t.Errorf("HostConfigs = %+v\nwant %+v", got, want)
	}
	if got := HostNames(a); !reflect.DeepEqual(got, []string{"b", "a"}) {
		t.Errorf("HostNames = %v, want [b a] (the answers' order)", got)
	}
	if got := sshAnswersOf(a); got != a.ssh {
		t.Errorf("sshAnswersOf = %p, want the answers' block %p", got, a.ssh)
	}
	a.ssh = nil
	if got := sshAnswersOf(a); *got != (SSHAnswers{Sudo: SudoNoPasswd}) {
		t.Errorf("sshAnswersOf(nil block) = %+v, want the defaults", got)
	}
	if got := HostConfigs(&twoHosts{}); got != nil {
		t.Errorf("HostConfigs(no hosts) = %v, want nil (connect nowhere)", got)
	}
}
