package micetro

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

// Every step of both Micetro procedures, for Linux and Windows members and
// both UIs, cites a Men&Mice page by URL and section, never an internal code.
func TestDocRefsAreFollowable(t *testing.T) {
	for _, os := range []string{"", "windows"} {
		for _, ui := range []string{UI102, UI101} {
			t.Run(fmt.Sprintf("os=%q/ui=%s", os, ui), func(t *testing.T) {
				a := (&world{}).answers()
				a.Members = []Member{{Name: "central1", Priority: 10}, {Name: "central2", Priority: 20}, {Name: "central3", Priority: 30}}
				for i := range a.Members {
					a.Members[i].Host = steps.HostAnswers{Address: fmt.Sprintf("10.0.0.%d", i+1), OS: os}
					a.Members[i].IP = fmt.Sprintf("10.0.0.%d", i+1)
				}
				a.DNS.Name = "central.example.com"
				a.VersionUI = ui
				a.HATweaks = &HATweaks{HeartbeatInterval: 5}
				if err := a.Validate(); err != nil {
					t.Fatal(err)
				}
				list, err := haSteps(a)
				if err != nil {
					t.Fatal(err)
				}
				steptest.CheckDocRefs(t, list, "https://docs.menandmice.com/")

				u := &UpgradeAnswers{Common: a.Common}
				u.Installer = Installer{Local: "/tmp/x/micetro-central-10.3.6.linux.x64.tgz", ExpectedVersion: "10.3.6"}
				ul, err := CentralUpgrade().Steps(u)
				if err != nil {
					t.Fatal(err)
				}
				steptest.CheckDocRefs(t, ul, "https://docs.menandmice.com/")
			})
		}
	}
}

// The HA steps cite the step numbers of the page they follow: the latest
// page (web UI) numbers registering 3–6 and starting a member 12; the 10.1
// page (Management Console) 3 and 9.
func TestDocRefStepNumbersFollowThePage(t *testing.T) {
	for _, c := range []struct{ ui, os, register, start, want string }{
		{UI102, "", "Linux, steps 3–6", "Linux, step 12", haPageLatest},
		{UI102, "windows", "Windows, steps 3–6", "Windows, step 12", haPageLatest},
		{UI101, "", "Linux, step 3", "Linux, step 9", haPage101},
	} {
		a := &HAAnswers{}
		a.VersionUI = c.ui
		m := &Member{Host: steps.HostAnswers{OS: c.os}}
		if r := haRef(a, m, hsRegisterPrimary); r.Section != c.register || r.URL[:len(c.want)] != c.want {
			t.Errorf("%s/%s register: %v", c.ui, c.os, r)
		}
		if r := haRef(a, m, hsStartMember); r.Section != c.start {
			t.Errorf("%s/%s start: %v", c.ui, c.os, r)
		}
	}
}

// Answer errors that cite the documents cite them by URL and section.
func TestAnswerErrorsCiteFollowableRefs(t *testing.T) {
	a := (&world{}).answers()
	a.Members = []Member{{Name: "central1", Priority: 10, Host: steps.HostAnswers{Address: "10.0.0.1"}, IP: "10.0.0.1"}, {Name: "central2", Priority: 20, Host: steps.HostAnswers{Address: "10.0.0.2"}, IP: "10.0.0.2"}}
	a.DNS.Name = ""
	a.HATweaks = &HATweaks{HeartbeatInterval: 99, HeartbeatMaxAllowedDowntime: 1}
	err := a.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	if c := regexp.MustCompile(`\b[CM]\d+\b|procedures\.md|\.rst\b|§`).FindString(msg); c != "" {
		t.Errorf("error carries the internal code %q:\n%s", c, msg)
	}
	for _, want := range []string{"central_ha.html (Linux and Windows, step 14", "ha_tweaks_central (the whole page"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}
