package tui

import (
	"testing"
	"time"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/micetro"
)

// Config.Answers fill the form in: its result is the same answers.
func TestFormPrefilledFromAnswers(t *testing.T) {
	p := micetro.CentralHA()
	a := &micetro.HAAnswers{}
	a.SSH = steps.SSHAnswers{User: "demo", SSHConfig: "none", Sudo: steps.SudoNone}
	for i, n := range []string{"central1", "central2", "central3"} {
		a.Members = append(a.Members, micetro.Member{Name: n, Host: steps.HostAnswers{Name: n, Address: "127.0.0.1", Port: 2201 + i}, Priority: 10 * (i + 1)})
	}
	a.DNS = micetro.DNSAnswers{Name: "central.demo.hawiz.test", Servers: []string{"127.0.0.1:5301", "127.0.0.1:5302"}, MaxWait: 10 * time.Second}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	af := newAnswersForm(p)
	af.initial = a
	af.Form(false)
	got, _, err := af.Result()
	if err != nil {
		t.Fatal(err)
	}
	g := got.(*micetro.HAAnswers)
	if len(g.Members) != 3 || g.Members[2].Host.Port != 2203 || g.Members[1].Priority != 20 || g.SSH.Sudo != "none" ||
		g.DNS.Name != a.DNS.Name || len(g.DNS.Servers) != 2 || g.DNS.MaxWait != 10*time.Second {
		t.Fatalf("prefilled form gave %+v", g)
	}
}
