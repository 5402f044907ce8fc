package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/opsmanager"
)

// omValid are opsmanager-ha answers that load (omAnswers with its agent
// named apart from the servers).
func omValid() *opsmanager.Answers {
	a := omAnswers()
	a.Agents[0].Name = "agent1"
	return a
}

// bindingAt is the form's field at path (nil: the form has none).
func bindingAt(af *answersForm, path string) *binding {
	for _, b := range af.bindings {
		if b.path == path {
			return b
		}
	}
	return nil
}

// listAt is the form's list at path (nil: the form has none).
func listAt(af *answersForm, path string) *list {
	for _, l := range af.lists {
		if l.path == path {
			return l
		}
	}
	return nil
}

// gen_key.file is asked only with gen_key.mode file: the gen.key page of
// opsmanager-ha shows no file field for first-server (the default), and
// one once file is chosen.
func TestFormGenKeyFileOnlyWithModeFile(t *testing.T) {
	m := New(Config{Procedures: []*steps.Procedure{opsmanager.HA()}, StateDir: t.TempDir(), NoSpinner: true,
		Now: func() time.Time { return t0 }, Getenv: func(string) string { return "" },
		Answers: map[string]steps.Answers{"opsmanager-ha": omValid()}})
	sm := &snap{Model: m}
	curSnap = sm
	tm := teatest.NewTestModel(t, sm, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	waitText(t, tm, "Start a procedure")
	typeKeys(tm, "enter")
	waitText(t, tm, "Review the answers")
	typeKeys(tm, "e") // edit the answers
	waitText(t, tm, "┃ Ops Manager port")
	titles := []string{"Ops Manager port", "HTTPS", "User", "Identity file", "Proxy jump", "Sudo", "Password auth", "How many servers?"}
	for range 2 {
		titles = append(titles, "Name", "Address", "OS", "Install type", "Install dir")
	}
	titles = append(titles, "App DB URI", "App DB user", "Load balancer URL")
	for _, title := range titles {
		waitText(t, tm, "┃ "+title)
		typeKeys(tm, "enter")
	}
	waitText(t, tm, "┃ gen.key", "first-server (default)")
	if f := sm.frame(); strings.Contains(f, "gen.key file") {
		t.Fatalf("gen.key file is asked with mode first-server:\n%s", f)
	}
	typeKeys(tm, "down") // file
	typeKeys(tm, "enter")
	waitText(t, tm, "┃ gen.key backup to", "gen.key file")
	typeKeys(tm, "enter")
	waitText(t, tm, "┃ gen.key file")
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}

// A field that is not asked is left out: of the answers, the saved file
// and the review; the live check's fields wait for an App DB user.
func TestFormHiddenFieldsLeftOut(t *testing.T) {
	af := newAnswersForm(opsmanager.HA())
	af.initial = omValid()
	af.rebuild()
	file := bindingAt(af, "gen_key.file")
	*file.text = "/tmp/gen.key"
	a, data, err := af.Result()
	if err != nil {
		t.Fatalf("a gen.key file typed before mode first-server was chosen is refused: %v", err)
	}
	if a.(*opsmanager.Answers).GenKey.File != "" || strings.Contains(string(data), "file:") {
		t.Errorf("the gen.key file is kept with mode first-server:\n%s", data)
	}
	for _, s := range af.review() {
		for _, it := range s.items {
			if it.title == "gen.key file" {
				t.Errorf("the review lists the gen.key file with mode first-server")
			}
		}
	}
	*bindingAt(af, "gen_key.mode").text = "file"
	if _, data, _ := af.Result(); !strings.Contains(string(data), "file: /tmp/gen.key") {
		t.Errorf("the gen.key file is dropped with mode file:\n%s", data)
	}
	for path, want := range map[string]bool{"appdb.live_check": false, "appdb.live_via": false, "appdb.facility_tag": false} {
		if got := af.active(bindingAt(af, path)); got != want {
			t.Errorf("no App DB user: %s asked %v, want %v", path, got, want)
		}
	}
	*bindingAt(af, "appdb.username").text = "mms"
	if !af.active(bindingAt(af, "appdb.live_check")) || !af.active(bindingAt(af, "appdb.live_via")) {
		t.Error("with an App DB user the live check's fields are not asked")
	}
	*bindingAt(af, "appdb.live_check").text = "off"
	if af.active(bindingAt(af, "appdb.live_via")) || !af.active(bindingAt(af, "appdb.live_check")) {
		t.Error("live_check off: live_via still asked, or live_check not")
	}
	// a server's service command follows its own service manager, else
	// the top-level one it falls back to (as the answers do)
	cmd := bindingAt(af, "servers[0].paths.service_command")
	if af.active(cmd) {
		t.Error("servers[0].paths.service_command asked with no service manager command")
	}
	*bindingAt(af, "paths.service_manager").text = "command"
	if !af.active(cmd) {
		t.Error("servers[0].paths.service_command not asked under paths.service_manager command")
	}
	*bindingAt(af, "servers[0].paths.service_manager").text = "systemctl"
	if af.active(cmd) {
		t.Error("servers[0].paths.service_command asked with its own service manager systemctl")
	}
}

// appdb.members and load_balancer.check_backends, which an answers file
// can set, can be set in the form: on the advanced pages, 0 members
// allowed; what the form sets is saved and loads back (votes 0 and
// priority 0 too, told apart from "not set").
func TestFormAppDBMembersSettable(t *testing.T) {
	af := newAnswersForm(opsmanager.HA())
	af.initial = omValid()
	var count *section
	for _, s := range af.rebuild() {
		for _, f := range s.fields {
			if ff := f.(*formField); ff.b == nil && strings.Contains(ff.label, "members") {
				s := s
				count = &s
			}
		}
	}
	if count == nil || !count.adv {
		t.Fatalf("no App DB members count on an advanced page (%+v)", count)
	}
	l := listAt(af, "appdb.members")
	for _, v := range []string{"", "0"} {
		*l.count = v
		count.fields[0].Blur()
		if err := count.fields[0].Error(); err != nil {
			t.Errorf("%q App DB members refused: %v", v, err)
		}
	}
	*l.count = "4"
	set := func(path, v string) {
		t.Helper()
		b := bindingAt(af, path)
		if b == nil {
			t.Fatalf("the form has no field %s", path)
		}
		if b.flag != nil {
			*b.flag = v == "true"
		} else {
			*b.text = v
		}
	}
	for i, h := range []string{"db1:27017", "db2:27017", "db3:27017"} {
		set("appdb.members["+string(rune('0'+i))+"].host", h)
		set("appdb.members["+string(rune('0'+i))+"].facility", "dc1")
	}
	set("appdb.members[2].facility", "dc2")
	set("appdb.members[2].votes", "0")
	set("appdb.members[2].priority", "0")
	set("appdb.members[3].host", "arb1:27017")
	set("appdb.members[3].facility", "dc1")
	set("appdb.members[3].arbiter", "true")
	set("load_balancer.check_backends", "false")
	a, data, err := af.Result()
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	ms := a.(*opsmanager.Answers).AppDB.Members
	if len(ms) != 4 || ms[2].Host != "db3:27017" || *ms[2].Votes != 0 || *ms[2].Priority != 0 || *ms[0].Priority != 1 || !ms[3].Arbiter {
		t.Fatalf("members %+v", ms)
	}
	if cb := a.(*opsmanager.Answers).LoadBalancer.CheckBackends; cb == nil || *cb {
		t.Errorf("check_backends %v, want false", cb)
	}
	*af.savePath = filepath.Join(t.TempDir(), "om.yaml")
	p, err := af.Save(data)
	if err != nil {
		t.Fatal(err)
	}
	saved, _ := os.ReadFile(p)
	for _, want := range []string{"members:", "host: db3:27017", "votes: 0", "priority: 0", "arbiter: true", "check_backends: false"} {
		if !strings.Contains(string(saved), want) {
			t.Errorf("saved file lacks %q:\n%s", want, saved)
		}
	}
	if strings.Contains(string(saved), "votes: 1") {
		t.Errorf("a vote left at its default is saved:\n%s", saved)
	}
	// the saved file fills the form in again: votes 0 stays 0
	loaded, err := steps.LoadAnswers(opsmanager.HA(), saved)
	if err != nil {
		t.Fatal(err)
	}
	af2 := newAnswersForm(opsmanager.HA())
	af2.initial = loaded
	af2.rebuild()
	if *af2.advanced != true || *listAt(af2, "appdb.members").count != "4" || *bindingAt(af2, "appdb.members[2].votes").text != "0" || *bindingAt(af2, "load_balancer.check_backends").flag {
		t.Errorf("the saved answers do not fill the form in again: advanced %v, count %q, votes %q",
			*af2.advanced, *listAt(af2, "appdb.members").count, *bindingAt(af2, "appdb.members[2].votes").text)
	}
	// left at its default (yes), check_backends is left out
	*bindingAt(af2, "load_balancer.check_backends").flag = true
	if _, data, _ := af2.Result(); strings.Contains(string(data), "check_backends") {
		t.Errorf("check_backends at its default is saved:\n%s", data)
	}
}

// The run screen at 80x24 while the engine waits: the help lists g (give
// up) and wraps to two lines, and the output's last line is still on
// show (the pane was sized for a one-line help, and its last line cut).
func TestRunWrappedHelpKeepsLastLine(t *testing.T) {
	m := running(t)
	m.engine(waitMsg{message: "DNS secondaries", observation: "1 of 2 agree"})
	s := shot(m)
	checkSize(t, s, 80, 24)
	lines := strings.Split(s, "\n")
	if !strings.Contains(s, "g give up waiting") || !strings.Contains(lines[len(lines)-1], "quit (state kept)") || strings.Contains(lines[len(lines)-2], "central1│") {
		t.Fatalf("the help does not list g, or does not wrap below the output:\n%s", s)
	}
	if !strings.Contains(s, "line d x x") {
		t.Errorf("the output's last line is cut:\n%s", s)
	}
	// a narrow terminal: the help wraps without g too
	m.engine(waitMsg{done: true})
	m.Update(tea.WindowSizeMsg{Width: 60, Height: 24})
	s = shot(m)
	checkSize(t, s, 60, 24)
	if !strings.Contains(s, "line d x x") {
		t.Errorf("at 60 columns the output's last line is cut:\n%s", s)
	}
}
