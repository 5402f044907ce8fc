package opsmanager

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/lab/standins/appdb"
	"github.com/hawiz/hawiz/steps"
)

// Issue 16 item 10: the App DB rules are judged on the live replica set.

func liveOf(members ...appdb.Member) LiveConfig {
	var ms []LiveMember
	for _, m := range members {
		ms = append(ms, LiveMember{Host: m.Host, Votes: m.Votes, Priority: m.Priority, ArbiterOnly: m.Arbiter, Tags: m.Tags})
	}
	return LiveConfig{SetName: "appdb", Version: 3, Members: ms}
}

func dc(name string) map[string]string { return map[string]string{"dc": name} }

// A live set split 2 + 2 votes between two facilities (member tag dc) is
// refused when appdb.members is left out: the answers declare nothing, the
// live set says everything.
func TestCompareLiveJudgesPlacementOnLiveTags(t *testing.T) {
	uri := "mongodb://a:27017,b:27017,c:27017,d:27017/"
	split := liveOf(
		appdb.Member{Host: "a:27017", Votes: 1, Priority: 2, Tags: dc("east")},
		appdb.Member{Host: "b:27017", Votes: 1, Priority: 1, Tags: dc("east")},
		appdb.Member{Host: "c:27017", Votes: 1, Priority: 1, Tags: dc("west")},
		appdb.Member{Host: "d:27017", Votes: 1, Priority: 1, Tags: dc("west")},
	)
	p, _ := CompareLive(&AppDB{URI: uri}, split)
	got := strings.Join(p, "\n")
	for _, want := range []string{`member tag "dc"`, `holds 2 of 4 votes (needs 3)`, DocAppDBPlacement} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in:\n%s", want, got)
		}
	}
	// The same set with the tag under another name: appdb.facility_tag.
	site := liveOf(
		appdb.Member{Host: "a:27017", Votes: 1, Priority: 1, Tags: map[string]string{"site": "east"}},
		appdb.Member{Host: "b:27017", Votes: 1, Priority: 1, Tags: map[string]string{"site": "east"}},
		appdb.Member{Host: "c:27017", Votes: 1, Priority: 1, Tags: map[string]string{"site": "west"}},
		appdb.Member{Host: "d:27017", Votes: 1, Priority: 1, Tags: map[string]string{"site": "west"}},
	)
	if p, _ := CompareLive(&AppDB{URI: uri}, site); len(p) != 0 {
		t.Errorf("tag site, facility_tag default dc: one facility, got %v", p)
	}
	if _, note := livePlacement(&AppDB{URI: uri}, site); !strings.Contains(note, `one facility: no member carries the tag "dc"`) {
		t.Errorf("the evidence does not say the set was judged as one facility: %q", note)
	}
	if p, _ := CompareLive(&AppDB{URI: uri, FacilityTag: "site"}, site); !strings.Contains(strings.Join(p, "\n"), `facility "east" holds 2 of 4 votes`) {
		t.Errorf("facility_tag site: %v", p)
	}
	// A majority site holding every primary-eligible member passes; an
	// arbiter with a vote elsewhere counts in its own facility.
	good := liveOf(
		appdb.Member{Host: "a:27017", Votes: 1, Priority: 2, Tags: dc("east")},
		appdb.Member{Host: "b:27017", Votes: 1, Priority: 0.5, Tags: dc("east")},
		appdb.Member{Host: "c:27017", Votes: 1, Priority: 1, Tags: dc("east")},
		appdb.Member{Host: "d:27017", Votes: 1, Priority: 0, Tags: dc("west")},
		appdb.Member{Host: "e:27017", Votes: 1, Arbiter: true, Tags: dc("third")},
	)
	if p, w := CompareLive(&AppDB{URI: uri}, good); len(p) != 0 || len(w) != 0 {
		t.Errorf("a good placement: %v %v", p, w)
	}
	// A primary-eligible member outside the majority facility.
	bad := liveOf(
		appdb.Member{Host: "a:27017", Votes: 1, Priority: 1, Tags: dc("east")},
		appdb.Member{Host: "b:27017", Votes: 1, Priority: 1, Tags: dc("east")},
		appdb.Member{Host: "c:27017", Votes: 1, Priority: 1, Tags: dc("east")},
		appdb.Member{Host: "d:27017", Votes: 1, Priority: 0.5, Tags: dc("west")},
	)
	if p, _ := CompareLive(&AppDB{URI: uri}, bad); !strings.Contains(strings.Join(p, "\n"), `member d:27017 (priority 1) is in "west"`) {
		t.Errorf("a primary-eligible member in the minority facility: %v", p)
	}
	// Some members tagged, some not, nothing in the answers: named.
	partly := liveOf(
		appdb.Member{Host: "a:27017", Votes: 1, Priority: 1, Tags: dc("east")},
		appdb.Member{Host: "b:27017", Votes: 1, Priority: 1, Tags: dc("east")},
		appdb.Member{Host: "c:27017", Votes: 1, Priority: 1},
		appdb.Member{Host: "d:27017", Votes: 1, Priority: 1},
	)
	if p, _ := CompareLive(&AppDB{URI: uri}, partly); !strings.Contains(strings.Join(p, "\n"), `c:27017, d:27017 carry no tag "dc"`) {
		t.Errorf("partly tagged: %v", p)
	}
	// Untagged members take the answers' facilities; an answer that
	// contradicts a live tag is named.
	one, zero := 1, 0
	d := &AppDB{URI: uri, Members: []Member{
		{Host: "a:27017", Facility: "east", Votes: &one, Priority: &one},
		{Host: "b:27017", Facility: "east", Votes: &one, Priority: &one},
		{Host: "c:27017", Facility: "west", Votes: &one, Priority: &one},
		{Host: "d:27017", Facility: "north", Votes: &one, Priority: &zero},
	}}
	mixed := liveOf(
		appdb.Member{Host: "a:27017", Votes: 1, Priority: 1},
		appdb.Member{Host: "b:27017", Votes: 1, Priority: 1},
		appdb.Member{Host: "c:27017", Votes: 1, Priority: 1},
		appdb.Member{Host: "d:27017", Votes: 1, Priority: 0, Tags: dc("west")},
	)
	got = strings.Join(func() []string { p, _ := CompareLive(d, mixed); return p }(), "\n")
	for _, want := range []string{`appdb.members[3].facility is "north", the live member's tag "dc" says "west"`, `member c:27017 (priority 1) is in "west"`} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in:\n%s", want, got)
		}
	}
}

// Fewer than three data-bearing members in the live set is refused, naming
// the prerequisites page (it was a warning).
func TestCompareLiveRefusesTwoDataBearing(t *testing.T) {
	psa := liveOf(
		appdb.Member{Host: "a:27017", Votes: 1, Priority: 1},
		appdb.Member{Host: "b:27017", Votes: 1, Priority: 1},
		appdb.Member{Host: "c:27017", Votes: 1, Arbiter: true},
	)
	p, _ := CompareLive(&AppDB{URI: "mongodb://a:27017,b:27017,c:27017/"}, psa)
	got := strings.Join(p, "\n")
	if !strings.Contains(got, `the live set "appdb" has 2 data-bearing member(s)`) || !strings.Contains(got, DocAppDBTopology) {
		t.Fatalf("two data-bearing members not refused: %q", got)
	}
}

// appdbSet is an App DB of stand-in members, each its own server on its
// own loopback port, named host:port as the URI and the configuration say.
type appdbSet struct {
	hosts   []string
	servers []*appdb.Server
}

// startAppDBMembers starts one stand-in per member (an arbiter where the
// member says so); the members' Host fields are filled with the addresses.
func startAppDBMembers(t *testing.T, members ...appdb.Member) *appdbSet {
	t.Helper()
	var lns []net.Listener
	s := &appdbSet{}
	for i := range members {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		members[i].Host = ln.Addr().String()
		s.hosts = append(s.hosts, members[i].Host)
	}
	cfg := appdb.ReplSetConfig("appdb", 4, members...)
	for i, ln := range lns {
		var f *appdb.Server
		if members[i].Arbiter {
			f = appdb.ServeArbiter(ln, cfg)
		} else {
			f = appdb.Serve(ln, "opsmanager", testPassword, cfg)
		}
		t.Cleanup(func() { f.Close() })
		s.servers = append(s.servers, f)
	}
	return s
}

func (s *appdbSet) uri() string {
	return "mongodb://" + strings.Join(s.hosts, ",") + "/?maxPoolSize=100"
}

// An arbiter in the URI is asked hello only, never authenticated to nor
// asked for the configuration, whoever answers first: here the data
// members are not even dialled before the arbiter's connections are
// closed. (Before: the arbiter's failed authentication, or its
// Unauthorized, ended the check with an error blaming the credentials or
// the user's role.)
func TestReadLiveConfigSkipsArbiters(t *testing.T) {
	set := startAppDBMembers(t,
		appdb.Member{Votes: 1, Arbiter: true, Tags: dc("east")},
		appdb.Member{Votes: 1, Priority: 1, Tags: dc("east")},
		appdb.Member{Votes: 1, Priority: 1, Tags: dc("east")},
		appdb.Member{Votes: 0, Priority: 0, Tags: dc("west")},
	)
	arb := set.servers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		if addr != set.hosts[0] {
			// The data members wait until the arbiter has been asked and
			// its connections are closed.
			for len(arb.Commands()) == 0 || arb.OpenConns() > 0 {
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	live, err := ReadLiveConfig(ctx, set.uri(), "opsmanager", testPassword, 5*time.Second, dial)
	if err != nil {
		t.Fatalf("ReadLiveConfig with an arbiter first: %v (the arbiter saw %v)", err, arb.Commands())
	}
	if len(live.Members) != 4 || live.From == set.hosts[0] || len(live.Arbiters) != 1 || live.Arbiters[0] != set.hosts[0] {
		t.Fatalf("live: %+v", live)
	}
	for _, c := range arb.Commands() {
		if c == "saslStart" || c == "replSetGetConfig" {
			t.Errorf("the arbiter was sent %s (it holds no users): %v", c, arb.Commands())
		}
	}
	if !strings.Contains(live.summary(), "arbiters not asked: "+set.hosts[0]) {
		t.Errorf("summary does not say the arbiter was skipped: %s", live.summary())
	}
	// Only the arbiter reachable: unreachable, the arbiter named as such,
	// not an authentication or role error.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	_, err = ReadLiveConfig(ctx, "mongodb://"+set.hosts[0]+","+deadAddr+"/", "opsmanager", testPassword, time.Second, nil)
	if err == nil || !strings.Contains(err.Error(), set.hosts[0]+": an arbiter") || !strings.Contains(err.Error(), ErrAppDBUnreachable.Error()) {
		t.Fatalf("arbiter and a dead host: %v", err)
	}
}

// The procedure: a live set split 2 + 2 between two facilities, with
// appdb.members left out, stops at check-appdb-replica-set; no server's
// conf-mms.properties changes and nothing is started.
func TestHALiveSplitSetRefusedNothingChanged(t *testing.T) {
	w := newWorld(t, 2, false)
	set := startAppDBMembers(t,
		appdb.Member{Votes: 1, Priority: 1, Tags: dc("east")},
		appdb.Member{Votes: 1, Priority: 1, Tags: dc("east")},
		appdb.Member{Votes: 1, Priority: 1, Tags: dc("west")},
		appdb.Member{Votes: 1, Priority: 1, Tags: dc("west")},
	)
	w.appdbExtra = "  live_check: required\n"
	var before []string
	for i := range w.servers {
		before = append(before, fileSHA(t, filepath.Join(w.inst(i), "conf", "conf-mms.properties")))
	}
	_, err, rec := w.run(t, w.answers(set.uri(), "  mode: generate\n"), filepath.Join(w.dir, "s.json"), false, nil)
	if err == nil || !strings.Contains(err.Error(), StepAppDB) || !strings.Contains(err.Error(), `facility "east" holds 2 of 4 votes`) {
		t.Fatalf("want the split set refused at %s, got %v\n%s", StepAppDB, err, rec)
	}
	if n := rec.count(steps.EventApply); n != 0 {
		t.Fatalf("%d applies before the refusal:\n%s", n, rec)
	}
	for i := range w.servers {
		if fileSHA(t, filepath.Join(w.inst(i), "conf", "conf-mms.properties")) != before[i] {
			t.Errorf("om%d: conf-mms.properties changed", i+1)
		}
		if _, err := os.Stat(w.keyPath(i)); err == nil {
			t.Errorf("om%d: a gen.key was placed", i+1)
		}
	}
	// The same set with a third member in east passes the step; an
	// arbiter first in the URI does not change the verdict.
	set = startAppDBMembers(t,
		appdb.Member{Votes: 1, Arbiter: true, Tags: dc("east")},
		appdb.Member{Votes: 1, Priority: 1, Tags: dc("east")},
		appdb.Member{Votes: 1, Priority: 1, Tags: dc("east")},
		appdb.Member{Votes: 1, Priority: 0, Tags: dc("west")},
		appdb.Member{Votes: 1, Priority: 0, Tags: dc("west")},
	)
	a, err := steps.LoadAnswers(HA(), []byte(w.answers(set.uri(), "  mode: generate\n")))
	if err != nil {
		t.Fatal(err)
	}
	ans := a.(*Answers)
	ans.AppDB.LiveVia = "direct"
	t.Setenv("HAWIZ_APPDB_PASSWORD", testPassword)
	e := steps.NewEnv(context.Background(), ans, nil, steps.NonInteractive{Yes: true})
	ev, err := checkAppDB(context.Background(), e, ans)
	if err != nil || !strings.Contains(ev, "placement holds") || !strings.Contains(ev, "arbiters not asked: "+set.hosts[0]) {
		t.Fatalf("a good set with an arbiter first: %v\n%s", err, ev)
	}
}

// Without the live check, the answers' appdb.members with two data-bearing
// members and an arbiter are refused (it was a warning).
func TestHAAnswersTwoDataBearingRefused(t *testing.T) {
	w := newWorld(t, 2, false)
	w.appdbExtra = "  live_check: off\n  members:\n    - {host: db1.test:27017}\n    - {host: db2.test:27017}\n    - {host: db3.test:27017, arbiter: true}\n"
	_, err, rec := w.run(t, w.answers("", "  mode: generate\n"), filepath.Join(w.dir, "s.json"), false, nil)
	if err == nil || !strings.Contains(err.Error(), "2 data-bearing member(s)") || !strings.Contains(err.Error(), DocAppDBTopology) {
		t.Fatalf("want two data-bearing members refused, got %v\n%s", err, rec)
	}
	if n := rec.count(steps.EventApply); n != 0 {
		t.Fatalf("%d applies before the refusal:\n%s", n, rec)
	}
}
