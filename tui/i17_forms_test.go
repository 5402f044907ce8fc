package tui

import (
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/catalog"
	"github.com/hawiz/hawiz/steps/opsmanager"
)

// omAnswers are opsmanager-ha answers, valid but for an agent named as a
// server (h1): the form opens filled in with them.
func omAnswers() *opsmanager.Answers {
	a := &opsmanager.Answers{}
	for _, n := range []string{"h1", "h2"} {
		a.Servers = append(a.Servers, opsmanager.Server{HostAnswers: steps.HostAnswers{Name: n, Address: "127.0.1.1"}, Install: "package"})
	}
	a.AppDB.URI = "mongodb://db1:27017,db2:27017,db3:27017/"
	a.LoadBalancer.URL = "http://om.example.net:8080"
	a.Agents = []opsmanager.Agent{{HostAnswers: steps.HostAnswers{Name: "h1"}}}
	return a
}

// A refused answer is shown right under its field, naming the page and
// the field (the agent named like a server: before, the error sat on the
// last line, unnamed, and an address typed next went into the name).
func TestFormErrorUnderItsField(t *testing.T) {
	m := New(Config{Procedures: []*steps.Procedure{opsmanager.HA()}, StateDir: t.TempDir(), NoSpinner: true,
		Now: func() time.Time { return t0 }, Getenv: func(string) string { return "" },
		Answers: map[string]steps.Answers{"opsmanager-ha": omAnswers()}})
	sm := &snap{Model: m}
	curSnap = sm
	tm := teatest.NewTestModel(t, sm, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	waitText(t, tm, "Start a procedure")
	typeKeys(tm, "enter")
	waitText(t, tm, "┃ Ops Manager port")
	// enter through the pages (every answer kept) to Agent 1's name
	titles := []string{"Ops Manager port", "HTTPS", "User", "Identity file", "Proxy jump", "Sudo", "Password auth", "How many servers?"}
	for range 2 {
		titles = append(titles, "Name", "Address", "OS", "Install type", "Install dir")
	}
	// Live check (no App DB user) and gen.key file (mode first-server) are
	// not asked
	titles = append(titles, "App DB URI", "App DB user", "Load balancer URL", "gen.key", "gen.key backup to", "How many agents?")
	for _, title := range titles {
		waitText(t, tm, "┃ "+title)
		typeKeys(tm, "enter")
	}
	waitText(t, tm, "Agent 1", "┃ Name")
	typeKeys(tm, "enter")
	waitText(t, tm, `Agent 1 · Name: "h1" is already servers[0]`)
	lines := strings.Split(sm.frame(), "\n")
	at := -1
	for i, l := range lines {
		if strings.Contains(l, "> h1") {
			at = i
		}
	}
	if at < 0 || at+1 >= len(lines) || !strings.Contains(lines[at+1], `✗ Agent 1 · Name: "h1" is already servers[0]`) {
		t.Fatalf("the error is not right under the name field:\n%s", sm.frame())
	}
	if strings.Count(sm.frame(), "is already servers[0]") != 1 {
		t.Errorf("the error is shown more than once:\n%s", sm.frame())
	}
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}

// A long error wraps at the form's width instead of being cut.
func TestFormLongErrorWraps(t *testing.T) {
	af := newAnswersForm(fakeProc())
	f := af.wrap(nil, nil, "Member 2 · Priority", "").(*formField)
	f.width = 40
	long := strings.Repeat("word ", 20) + "END"
	f.Field = errField{err: af.named("Member 2 · Priority", errorString(long))}
	v := f.View()
	if !strings.Contains(v, "END") {
		t.Fatalf("cut:\n%s", v)
	}
	for _, l := range strings.Split(v, "\n") {
		if w := ansi.StringWidth(strings.TrimRight(ansi.Strip(l), " ")); w > 40 {
			t.Errorf("line of %d cells: %q", w, l)
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

// errField is a field with an error whose view is one line.
type errField struct {
	huh.Field
	err error
}

func (e errField) Error() error { return e.err }
func (e errField) View() string { return "> 5" }

// opsmanager-ha asks what this deployment needs: with 2 servers and no
// agents, 26 questions (it was 85, mostly path overrides; Live check
// waits for an App DB user, gen.key file for mode file), the overrides on
// advanced pages; 0 agents is an answer.
func TestFormOpsManagerAsksLess(t *testing.T) {
	af := newAnswersForm(opsmanager.HA())
	main, adv := 0, 0
	for _, s := range af.rebuild() {
		if s.list != nil && s.index >= 2 || strings.HasPrefix(s.title, "Agent ") {
			continue
		}
		n := 0
		for _, f := range s.fields {
			if !f.Skip() {
				n++
			}
		}
		if s.adv {
			adv += n
		} else {
			main += n
		}
	}
	main++ // where to save
	if main != 26 {
		t.Errorf("opsmanager-ha asks %d fields on its main pages for 2 servers, want 26", main)
	}
	if adv < 30 {
		t.Errorf("only %d fields on the advanced pages", adv)
	}
	for _, s := range af.rebuild() {
		if s.count && s.title == "Agents" {
			f := s.fields[0]
			for _, v := range []string{"", "0"} {
				for _, l := range af.lists {
					if l.path == "agents" {
						*l.count = v
					}
				}
				f.Blur()
				if err := f.Error(); err != nil {
					t.Errorf("agents %q refused: %v", v, err)
				}
			}
			return
		}
	}
	t.Fatal("no Agents count")
}

// Every field of every procedure says what it takes: a description with
// an example or its default (or that it is required), and the fixed sets
// are selects.
func TestFormFieldsSayWhatTheyTake(t *testing.T) {
	for _, p := range catalog.All() { // every procedure hawiz offers
		af := newAnswersForm(p)
		for _, s := range af.rebuild() {
			for _, f := range s.fields {
				ff := f.(*formField)
				if ff.desc == "" || !strings.Contains(ff.desc, "e.g.") && !strings.Contains(ff.desc, "Default") && !strings.Contains(ff.desc, "Required") {
					t.Errorf("%s: %s says %q", p.Name, ff.label, ff.desc)
				}
				if ff.b == nil {
					continue
				}
				key := ff.b.path[strings.LastIndex(ff.b.path, ".")+1:]
				switch key {
				case "os", "install", "sudo", "live_check", "mode", "version_ui", "service_manager", "live_via":
					if reflect.TypeOf(ff.Field).String() != "*huh.Select[string]" {
						t.Errorf("%s: %s is a %T, not a select", p.Name, ff.b.path, ff.Field)
					}
				}
			}
		}
	}
}

// On the host-key screen, enter with nothing ticked and esc ask before
// refusing every key (which ends the run).
func TestHostKeysRefuseAsks(t *testing.T) {
	m := running(t)
	r := make(chan map[string]bool, 1)
	m.engine(hostKeysReq{keys: []remote.NewHostKey{
		{Host: "central1", Address: "10.0.0.1:22", KeyType: "ssh-ed25519", Fingerprint: "SHA256:Xq0bE1sQ2mUo3M1r6t7F1tY0bJd3L0cP5uWqg8a6cV4"},
	}, reply: r})
	for _, k := range []string{"enter", "esc"} {
		m.Update(press(k))
		select {
		case got := <-r:
			t.Fatalf("%s refused at once: %v", k, got)
		default:
		}
		if s := shot(m); !strings.Contains(s, "Refuse every key?") || !strings.Contains(s, "y refuse all, end the run") {
			t.Fatalf("after %s:\n%s", k, s)
		}
		m.Update(press("n"))
		if s := shot(m); strings.Contains(s, "Refuse every key?") {
			t.Fatalf("n did not go back:\n%s", s)
		}
	}
	m.Update(press("esc"))
	m.Update(press("y"))
	if got := <-r; len(got) != 0 {
		t.Fatalf("accepted %v", got)
	}
}

// The plan's help lists PgUp/PgDn; at 80 columns a long help line wraps.
func TestPlanHelpKeys(t *testing.T) {
	u := newUI()
	s := newPlanScreen(u)
	s.open("one\ntwo")
	s.resize()
	v := s.view("hawiz")
	if !strings.Contains(v, "pgup/pgdn") {
		t.Fatalf("plan help:\n%s", v)
	}
}
