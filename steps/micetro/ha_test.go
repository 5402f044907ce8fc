package micetro

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/hawiz/hawiz/lab/standins/mmcentral"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

const testZone = `$TTL 300
example.test. IN SOA ns1.example.test. hostmaster.example.test. 2026112201 3600 600 86400 60
example.test. IN NS ns1.example.test.
ns1 IN A 127.0.0.2
`

const (
	tsigName   = "hawiz-test"
	tsigSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==" // test-only
)

// dnsPair starts a primary accepting TSIG updates and a following secondary,
// with the given central.example.test A records.
func dnsPair(t *testing.T, records ...string) (*dnstest.Server, *dnstest.Server) {
	t.Helper()
	zone := testZone
	for _, r := range records {
		zone += "central 300 IN A " + r + "\n"
	}
	p, err := dnstest.Start(dnstest.Config{Zones: map[string]string{"example.test": zone}, Keys: map[string]string{tsigName: tsigSecret}, AllowUpdate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	s, err := dnstest.StartSecondary(p, dnstest.Config{}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return p, s
}

// setup builds a world of n hosts, answers (mod may change them), validates,
// connects and returns the env and the steps.
func setup(t *testing.T, n int, mod func(*HAAnswers)) (*world, *HAAnswers, *testOperator, *steps.Env, []*steps.Step) {
	t.Helper()
	var names []string
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("central%d", i))
	}
	w := newWorld(t, names...)
	dbgHosts = w.hosts
	a := w.answers()
	var ips []string
	for i := range n {
		ips = append(ips, fmt.Sprintf("10.0.0.%d", 11+i))
	}
	p, s := dnsPair(t, ips...)
	a.DNS.Servers = []string{p.Addr(), s.Addr()}
	a.DNS.Resolver = "127.0.0.1:1"
	if mod != nil {
		mod(a)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f := w.connect(ctx, steps.HostConfigs(a))
	// Central is installed and running standalone on every member.
	for _, h := range f.Hosts() {
		if _, err := h.Service(ctx, remote.ServiceManager{Kind: "systemctl"}, "mmcentral", remote.ServiceStart, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range w.hosts {
		os.Remove(filepath.Join(h.root, "run", "systemctl.log"))
	}
	op := &testOperator{confirm: true}
	e := steps.NewEnv(ctx, a, f, op)
	list, err := CentralHA().Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	return w, a, op, e, list
}

func ids(list []*steps.Step) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

// stepByID returns the step of list with that ID; the test stops when
// there is none.
func stepByID(t *testing.T, list []*steps.Step, id string) *steps.Step {
	t.Helper()
	for _, s := range list {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no step %q in %v", id, ids(list))
	return nil
}

func TestHAStepList(t *testing.T) {
	a := (&world{}).answers()
	a.Members = []Member{{Name: "central1", Priority: 10}, {Name: "central2", Priority: 20}, {Name: "Central 3", Priority: 30}}
	a.DNS.Name = "central.example.com"
	a.HATweaks = &HATweaks{HeartbeatInterval: 5}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	list, err := haSteps(a)
	if err != nil {
		t.Fatal(err)
	}
	want := "preflight members-already-in-ha name-primary set-ha-tweaks restart-primary register-primary restart-primary-after-register verify-primary-active " +
		"register-central2 stop-central2 copy-preferences-central2 start-central2 verify-central2-standby " +
		"register-central-3 stop-central-3 copy-preferences-central-3 start-central-3 verify-central-3-standby " +
		"round-robin-dns log-in-through-dns-name"
	if got := strings.Join(ids(list), " "); got != want {
		t.Fatalf("steps\n got %s\nwant %s", got, want)
	}
	for _, s := range list {
		if s.DocRef == "" || s.Title == "" || s.Why == "" {
			t.Errorf("%s lacks a title, why or doc reference", s.ID)
		}
	}
}

func TestHAFullRunThenNoOp(t *testing.T) {
	defer func() {
		if t.Failed() {
			for _, h := range dbgHosts {
				t.Logf("%s: %s\n%s\n%s", h.name, h.systemctlLog(), h.readFile("run/mmcentral.log"), h.readFile("var/mmsuite/mmcentral/logs/mmcentral-startup.log"))
			}
		}
	}()
	w, a, op, e, list := setup(t, 3, func(a *HAAnswers) {
		a.HATweaks = &HATweaks{HeartbeatInterval: 5, HeartbeatMaxAllowedDowntime: 60}
	})
	ctx := context.Background()
	t0 := time.Now()
	lg, err := runSteps(ctx, e, list)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("full run on 3 fake hosts: %v", time.Since(t0))
	if len(lg.applied) != len(list)-3 { // preflight is a check; no member was in HA; DNS was already right
		t.Errorf("applied %v, skipped %v", lg.applied, lg.skipped)
	}
	primary := w.hosts[0].prefs()
	wantPrimary := mmcentral.SamplePrefs + `<ClusterMemberName value="central1"/>` + "\n" +
		`<HeartbeatInterval value="5"/>` + "\n" + `<HeartbeatMaxAllowedDowntime value="60"/>` + "\n"
	if primary != wantPrimary {
		t.Fatalf("primary prefs\n%s", primary)
	}
	for i, h := range w.hosts[1:] {
		want := strings.Replace(wantPrimary, `"central1"`, fmt.Sprintf(`"central%d"`, i+2), 1)
		if got := h.prefs(); got != want {
			t.Errorf("%s prefs\n%s", h.name, got)
		}
		if log := h.systemctlLog(); !strings.Contains(log, "stop mmcentral\n") || !strings.Contains(log[strings.Index(log, "stop mmcentral"):], "start mmcentral\n") {
			t.Errorf("%s systemctl calls:\n%s", h.name, h.systemctlLog())
		}
	}
	// Backups of the primary's file were kept.
	baks, _ := filepath.Glob(filepath.Join(w.hosts[0].root, "var/mmsuite/mmcentral/preferences.cfg.hawiz-*.bak"))
	if len(baks) == 0 {
		t.Error("no backup of the primary's preferences.cfg")
	}
	if got := strings.Count(w.hosts[0].systemctlLog(), "restart mmcentral"); got != 2 {
		t.Errorf("primary restarted %d times, want 2:\n%s", got, w.hosts[0].systemctlLog())
	}
	if len(op.confirmed) != 5 { // register-primary, verify-primary-active, 2×(register, verify-standby)... + login
		t.Logf("confirmed %v", op.confirmed)
	}

	// A second run changes nothing: every step is skipped by Check.
	before := map[string]string{}
	for _, h := range w.hosts {
		before[h.name] = h.prefs() + h.systemctlLog()
	}
	lg, err = runSteps(ctx, e, list)
	if err != nil {
		t.Fatal(err)
	}
	if len(lg.applied) != 0 {
		t.Fatalf("second run applied %v", lg.applied)
	}
	for _, h := range w.hosts {
		log := h.systemctlLog()
		if strings.Contains(strings.TrimPrefix(log, before[h.name][len(h.prefs()):]), "start") {
			t.Errorf("%s: second run started/stopped something", h.name)
		}
	}
	_ = a
}

func TestHAFreshStateRerunOnlyAsksManualSteps(t *testing.T) {
	w, a, _, e, list := setup(t, 2, nil)
	ctx := context.Background()
	if _, err := runSteps(ctx, e, list); err != nil {
		t.Fatal(err)
	}
	// A new run (no facts): every automated step is skipped by Check on the hosts' state.
	op2 := &testOperator{confirm: true}
	e2 := steps.NewEnv(ctx, a, e.Fleet(), op2)
	lg, err := runSteps(ctx, e2, list)
	if err != nil {
		t.Fatal(err)
	}
	// The members are recognised as already in HA: one confirmation of
	// their registration, then nothing else runs.
	if strings.Join(op2.confirmed, " ") != StepMembersInHA {
		t.Errorf("a re-run of a complete cluster asked for manual steps %v, want only %s", op2.confirmed, StepMembersInHA)
	}
	if strings.Join(lg.applied, " ") != StepMembersInHA+"@" {
		t.Errorf("fresh re-run applied %v; evidence %v", lg.applied, lg.evid)
	}
	if log := w.hosts[0].systemctlLog(); strings.Count(log, "restart") != 2 {
		t.Errorf("primary systemctl calls:\n%s", log)
	}
}

// restartInOneSecond restarts Central on member 0 until the restart and
// 100 ms either side of it fall within one wall-clock second; it returns
// the instants before and after the restart.
func restartInOneSecond(t *testing.T, e *steps.Env, a *HAAnswers) (time.Time, time.Time) {
	t.Helper()
	m := &a.Members[0]
	h, err := e.Host(m.Host.Name)
	if err != nil {
		t.Fatal(err)
	}
	// The start as hawiz dates it (from /proc, to the clock tick), not the
	// wall time around the restart: how long a restart takes (seconds on a
	// loaded machine) does not matter, only where in its second it started.
	for range 20 {
		if _, err := service(context.Background(), &a.Common, h, m, remote.ServiceRestart); err != nil {
			t.Fatal(err)
		}
		s, found, err := startedAt(context.Background(), &a.Common, h, m)
		if err != nil || !found || s.hi.Sub(s.lo) > 500*time.Millisecond {
			t.Fatalf("the restarted stand-in's start: %s (%v wide) %v %v", s, s.hi.Sub(s.lo), found, err)
		}
		if s.lo.Add(-100 * time.Millisecond).Truncate(time.Second).Equal(s.hi.Add(100 * time.Millisecond).Truncate(time.Second)) {
			return s.lo, s.hi
		}
	}
	t.Fatal("no restart started at least 100 ms away from a whole second in 20 tries")
	return time.Time{}, time.Time{}
}

// TestRestartCheckSameSecond: the restart checks tell an edit 100 ms before
// a restart's start from one 100 ms after it, in the same second (the start dated
// from /proc, the file's time from stat %.9Y). With whole seconds the first
// counted as not restarted, and a failover accepted the second.
func TestRestartCheckSameSecond(t *testing.T) {
	w, a, _, e, _ := setup(t, 2, nil)
	ctx := context.Background()
	m := &a.Members[0]
	h, err := e.Host(m.Host.Name)
	if err != nil {
		t.Fatal(err)
	}
	prefs := filepath.Join(w.hosts[0].root, "var/mmsuite/mmcentral/preferences.cfg")
	t0, t1 := restartInOneSecond(t, e, a)
	check := func(mtime time.Time, notBefore string, overlapOK bool) (bool, string) {
		t.Helper()
		if err := os.Chtimes(prefs, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		ok, ev, _, err := loadedCurrentPrefs(ctx, e, &a.Common, h, m, "no-such-fact", notBefore, overlapOK)
		if err != nil {
			t.Fatal(err)
		}
		return ok, ev
	}
	before, after := t0.Add(-100*time.Millisecond), t1.Add(100*time.Millisecond)
	if ok, ev := check(before, "", false); !ok || !strings.Contains(ev, "after the last write") {
		t.Errorf("edited 100 ms before the restart, same second: %v %s", ok, ev)
	}
	for _, overlapOK := range []bool{false, true} {
		if ok, ev := check(after, "", overlapOK); ok || !strings.Contains(ev, "not restarted yet") {
			t.Errorf("edited 100 ms after the restart, same second (overlapOK %v): %v %s", overlapOK, ok, ev)
		}
	}
	// The registration time counts the same way.
	if ok, ev := check(before, formatHostTime(after, time.Nanosecond), false); ok || !strings.Contains(ev, "not surely after the registration") {
		t.Errorf("registered 100 ms after the restart: %v %s", ok, ev)
	}
	if ok, ev := check(before, formatHostTime(before, time.Nanosecond), false); !ok {
		t.Errorf("registered 100 ms before the restart: %v %s", ok, ev)
	}
	// A registration recorded in whole seconds (an older state file, or a
	// date without %N) covers its whole second: unclear, so not restarted.
	if ok, ev := check(before, fmt.Sprint(before.Unix()), false); ok {
		t.Errorf("registered in the restart's second (whole seconds): %v %s", ok, ev)
	}
}

// TestRestartCheckWithoutProcStart: where the start cannot be dated from
// /proc (no pgrep match: ps's elapsed seconds only) the start is known
// within about a second: an edit in the same second is unclear (not
// restarted yet), one 3 s before the restart is not.
func TestRestartCheckWithoutProcStart(t *testing.T) {
	w, a, _, e, _ := setup(t, 2, nil)
	ctx := context.Background()
	m := &a.Members[0]
	h, err := e.Host(m.Host.Name)
	if err != nil {
		t.Fatal(err)
	}
	prefs := filepath.Join(w.hosts[0].root, "var/mmsuite/mmcentral/preferences.cfg")
	t0, _ := restartInOneSecond(t, e, a)
	w.hosts[0].writeFile("bin/pgrep", "#!/bin/sh\nexit 1\n") // from now no match (the real one may see other tests' stand-ins)
	for _, c := range []struct {
		mtime time.Time
		want  bool
	}{{t0.Add(-100 * time.Millisecond), false}, {t0.Add(-3 * time.Second), true}} {
		os.Chtimes(prefs, c.mtime, c.mtime)
		ok, ev, _, err := loadedCurrentPrefs(ctx, e, &a.Common, h, m, "no-such-fact", "", false)
		if err != nil || ok != c.want || !strings.Contains(ev, "(±1s)") {
			t.Errorf("edited %v before the restart: %v %v %s", t0.Sub(c.mtime), ok, err, ev)
		}
	}
}

func TestParseStarted(t *testing.T) {
	at := func(s string) time.Time { t, _, _ := parseHostTime(s); return t }
	cases := []struct {
		out    string
		lo, hi string
		found  bool
	}{
		// boot at 1000.000 (±10 ms uptime truncation, 2 ms between the
		// clock readings); started 5.00 s after boot, within one 10 ms tick.
		{"clock 100 1100.000000000 100.00 1100.002000000\nticks 600\nticks 500\n", "1004.990000000", "1005.012000001", true},
		{"clock 100 1100.0 100.00 1100.0\n", "", "", false}, // gone meanwhile
		{"now 1100.500000000\n     7\n    12\n", "1087.450000000", "1089.550000001", true},
		{"now 1100.N\n12\n", "1086.95", "1090.05", true}, // date without %N
		{"now 1100.5\n", "", "", false},
		// pgrep and ps agree: the precise span
		{"now 1100.500000000\n 95\nclock 100 1100.500000000 100.50 1100.500000000\nticks 550\n", "1005.49", "1005.510000001", true},
		// they do not (a stand-in ps, other processes named so): ps's
		{"now 1100.500000000\n 5\nclock 100 1100.500000000 100.50 1100.500000000\nticks 550\n", "1094.45", "1096.550000001", true},
		{"start 1700000000.1234567\r\nstart 1700000001.0000000\r\n", "1700000000.1234567", "1700000000.1234568", true},
		{"", "", "", false},
	}
	for _, c := range cases {
		s, found, err := parseStarted(c.out)
		if err != nil || found != c.found || c.found && (!s.lo.Equal(at(c.lo)) || !s.hi.Equal(at(c.hi))) {
			t.Errorf("%q: %v %v %v, want [%s, %s] %v", c.out, s.lo, s.hi, err, c.lo, c.hi, c.found)
		}
	}
	for _, bad := range []string{"clock 0 1 1 1\nticks 1\n", "ticks x\n", "now 5\nseven\n", "start x\n", "what is this\n"} {
		if _, _, err := parseStarted(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestHASQLiteRefusedInPreflight(t *testing.T) {
	w, _, _, e, list := setup(t, 2, nil)
	w.hosts[0].writeFile("var/mmsuite/mmcentral/preferences.cfg", `<Database value="SQLite"/>`+"\n")
	_, err := runSteps(context.Background(), e, list)
	if err == nil || !strings.Contains(err.Error(), "preflight") || !strings.Contains(err.Error(), "MSSQL or PostgreSQL") {
		t.Fatalf("err = %v", err)
	}
	if log := w.hosts[0].systemctlLog(); log != "" {
		t.Fatalf("touched the service: %s", log)
	}
}

func TestHAPreflightFindsEveryProblem(t *testing.T) {
	w, _, _, e, list := setup(t, 3, nil)
	w.hosts[1].writeFile("var/mmsuite/mmcentral/preferences.cfg", strings.Replace(mmcentral.SamplePrefs, "sql1", "sql9", 1))
	w.hosts[2].writeFile("usr/share/mmcentral-standin/VERSION", "10.3.6\n")
	w.hosts[0].writeFile("var/mmsuite/mmcentral/preferences.cfg", mmcentral.SamplePrefs+"<HeartbeatInterval value=“10” />\n")
	_, _, err := list[0].Check(context.Background(), e, "")
	if err == nil {
		t.Fatal("preflight passed")
	}
	for _, want := range []string{"typographic quotes", "central2: databaseserver"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// Once the files are right, the version mismatch is reported.
	w.hosts[0].writeFile("var/mmsuite/mmcentral/preferences.cfg", mmcentral.SamplePrefs)
	w.hosts[1].writeFile("var/mmsuite/mmcentral/preferences.cfg", mmcentral.SamplePrefs)
	_, _, err = list[0].Check(context.Background(), e, "")
	if err == nil || !strings.Contains(err.Error(), "versions differ (10.3.5 on central1, central2; 10.3.6 on central3)") {
		t.Fatalf("err = %v", err)
	}
}

func TestHADifferentNameStopsAndAsks(t *testing.T) {
	w, _, op, e, list := setup(t, 2, nil)
	w.hosts[0].writeFile("var/mmsuite/mmcentral/preferences.cfg", mmcentral.SamplePrefs+`<ClusterMemberName value="old"/>`+"\n")
	op.confirm = false
	_, err := runSteps(context.Background(), e, list)
	var se *steps.StoppedError
	if !errors.As(err, &se) || len(op.questions) != 1 || !strings.Contains(op.questions[0], `"old"`) {
		t.Fatalf("err = %v, questions %v", err, op.questions)
	}
	if !strings.Contains(w.hosts[0].prefs(), `"old"`) {
		t.Fatal("file changed without consent")
	}
	op.confirm = true
	if _, err := runSteps(context.Background(), e, list); err != nil {
		t.Fatal(err, w.hosts[0].readFile("var/mmsuite/mmcentral/logs/mmcentral-startup.log"), w.hosts[0].readFile("run/mmcentral.log"))
	}
	if got := w.hosts[0].prefs(); got != mmcentral.SamplePrefs+`<ClusterMemberName value="central1"/>`+"\n" {
		t.Fatalf("prefs %q", got)
	}
}

func TestHAFailoverRefusesToStartOnBrokenCopy(t *testing.T) {
	// The stand-in refuses to start without a database: start fails and names the log.
	w, _, _, e, list := setup(t, 2, nil)
	ctx := context.Background()
	start := stepByID(t, list, "start-central2")
	w.hosts[1].writeFile("var/mmsuite/mmcentral/preferences.cfg", "<Database value=\"SQLite\"/>\n")
	err := start.Apply(ctx, e, "central2")
	if err == nil || !strings.Contains(err.Error(), "logs") {
		t.Fatalf("err = %v", err)
	}
	if log := w.hosts[1].readFile("var/mmsuite/mmcentral/logs/mmcentral-startup.log"); !strings.Contains(log, "SQLite") {
		t.Fatalf("startup log %q", log)
	}
}

func TestHADNSWithTSIG(t *testing.T) {
	var p *dnstest.Server
	keyFile := filepath.Join(t.TempDir(), "k.key")
	os.WriteFile(keyFile, []byte(fmt.Sprintf("key %q {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", tsigName, tsigSecret)), 0o600)
	_, _, op, e, list := setup(t, 2, func(a *HAAnswers) {
		var s *dnstest.Server
		p, s = dnsPair(t, "10.0.0.99")
		a.DNS.Servers = []string{p.Addr(), s.Addr()}
		a.DNS.TSIGKeyFile = keyFile
	})
	lg, err := runSteps(context.Background(), e, list)
	if err != nil {
		t.Fatal(err)
	}
	if len(op.questions) != 1 || !strings.Contains(op.questions[0], "add [10.0.0.11 10.0.0.12], remove [10.0.0.99]") {
		t.Fatalf("questions %v", op.questions)
	}
	if p.Updates() != 1 {
		t.Fatalf("updates %d", p.Updates())
	}
	if ev := lg.evid["round-robin-dns@"]; !strings.Contains(ev, "exactly") {
		t.Fatalf("evidence %q", ev)
	}
}

func TestHADNSWithoutTSIGWaits(t *testing.T) {
	_, _, op, e, list := setup(t, 2, func(a *HAAnswers) {
		p, s := dnsPair(t)
		a.DNS.Servers = []string{p.Addr(), s.Addr()}
	})
	_, err := runSteps(context.Background(), e, list)
	if !errors.Is(err, steps.ErrWaitingForOperator) || len(op.waits) != 1 {
		t.Fatalf("err = %v waits %v", err, op.waits)
	}
	for _, want := range []string{"central.example.test. 300 IN A 10.0.0.11", "central.example.test. 300 IN A 10.0.0.12", "update add"} {
		if !strings.Contains(op.waits[0], want) {
			t.Errorf("wait message lacks %q:\n%s", want, op.waits[0])
		}
	}
}

func TestHAAnswersValidation(t *testing.T) {
	base := func() *HAAnswers {
		return &HAAnswers{Common: Common{Members: []Member{
			{Name: "central1", Host: steps.HostAnswers{Address: "10.0.0.1"}, Priority: 10},
			{Name: "central2", Host: steps.HostAnswers{Address: "10.0.0.2"}, Priority: 20},
		}}, DNS: DNSAnswers{Name: "central.example.com"}}
	}
	cases := []struct {
		mod  func(*HAAnswers)
		want string
	}{
		{func(a *HAAnswers) { a.Members[1].Priority = 10 }, "members[1].priority: 10 must be higher than the primary's 10"},
		{func(a *HAAnswers) { a.Members = append(a.Members, Member{Name: "c3", Priority: 20}) }, "members[2].priority: 20 is already the priority of members[1] (central2)"},
		{func(a *HAAnswers) { a.Members[0].Priority = 5 }, "members[0].priority: 5: the primary (first member) gets priority 10"},
		{func(a *HAAnswers) { a.Members[1].Priority = 0 }, "members[1].priority: is required"},
		{func(a *HAAnswers) { a.Members[1].Name = "central1" }, "members[1].name: \"central1\" is already the name of members[0]"},
		{func(a *HAAnswers) { a.Members[1].Name = `cen"tral` }, "members[1].name:"},
		{func(a *HAAnswers) { a.Members[1].Name = "“primary”" }, "members[1].name:"},
		{func(a *HAAnswers) { a.Members = a.Members[:1] }, "members: needs at least 2 members"},
		{func(a *HAAnswers) { a.VersionUI = "9000" }, "version_ui:"},
		{func(a *HAAnswers) { a.DNS.Name = "" }, "dns.name: is required"},
		{func(a *HAAnswers) { a.HATweaks = &HATweaks{HeartbeatInterval: 4} }, "ha_tweaks.heartbeat_interval: 4 is outside the allowed 5–15"},
		{func(a *HAAnswers) { a.HATweaks = &HATweaks{HeartbeatMaxAllowedDowntime: 121} }, "ha_tweaks.heartbeat_max_allowed_downtime: 121"},
		{func(a *HAAnswers) { a.Members[1].Host.OS = "plan9" }, "members[1].host.os:"},
		{func(a *HAAnswers) { a.PreferencesPath = "relative/p.cfg" }, "preferences_path:"},
		{func(a *HAAnswers) { a.Members[1].IP = "nope" }, "members[1].ip:"},
	}
	for _, c := range cases {
		a := base()
		c.mod(a)
		err := a.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
	a := base()
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if a.VersionUI != UI102 || a.MaxClockSkew != 5*time.Second || a.Members[0].Host.Name != "central1" || a.Service != "mmcentral" {
		t.Fatalf("defaults %+v", a)
	}
}

func TestHALoadAnswersStrict(t *testing.T) {
	p := CentralHA()
	y := "members:\n  - name: central1\n    host: {address: 10.0.0.1}\n    priority: 10\n  - name: central2\n    host: {address: 10.0.0.2}\n    prioriy: 20\ndns: {name: c.example.com}\n"
	_, err := steps.LoadAnswers(p, []byte(y))
	if err == nil || !strings.Contains(err.Error(), "prioriy") {
		t.Fatalf("err = %v", err)
	}
	tmpl := strings.NewReplacer("<ssh user>", "admin", "<primary address>", "10.0.0.1", "<failover address>", "10.0.0.2", "<central.example.com>", "central.example.com").Replace(p.Template)
	if _, err := steps.LoadAnswers(p, []byte(tmpl)); err != nil {
		t.Fatalf("template does not load: %v\n%s", err, tmpl)
	}
}

var dbgHosts []*fakeHost

// TestHAThroughEngine runs the procedure with the real engine (steps.Run):
// manual steps stop the run (exit 3) and are confirmed on resume; the run is
// interrupted right after central2's preferences.cfg is written and resumed;
// the files end as in an uninterrupted run.
func TestHAThroughEngine(t *testing.T) {
	w, a, _, _, _ := setup(t, 3, nil)
	a.SSH.KnownHosts = filepath.Join(w.dir, "known_hosts")
	state := filepath.Join(w.dir, "state.json")
	base := steps.RunConfig{
		Procedure: CentralHA(), AnswersFile: "ha.yaml", StatePath: state,
		Operator: steps.NonInteractive{Yes: true}, Yes: true,
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second, SessionPerCommand: worldSessions},
		Getenv: func(string) string { return "" },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupted := false
	cfg := base
	cfg.Answers = a
	cfg.Hook = func(point string, _ int) {
		if !interrupted && point == "after-save" && strings.Contains(w.hosts[1].prefs(), `"central2"`) {
			interrupted = true
			cancel()
		}
	}
	for round := 0; ; round++ {
		if round > 20 {
			t.Fatal("does not finish")
		}
		out, err := steps.Run(ctx, cfg)
		if err == nil {
			break
		}
		if steps.ExitCode(err) != steps.ExitStopped {
			t.Fatalf("round %d: exit %d: %v", round, steps.ExitCode(err), err)
		}
		next := base
		next.Resume = true
		if ctx.Err() != nil { // interrupted: resume without confirming anything
			ctx, cancel = context.WithCancel(context.Background())
			defer cancel()
		} else {
			next.Confirm = []string{out.Step}
		}
		next.Hook = cfg.Hook
		cfg = next
	}
	if !interrupted {
		t.Fatal("never interrupted")
	}
	for i, h := range w.hosts {
		want := mmcentral.SamplePrefs + fmt.Sprintf(`<ClusterMemberName value="central%d"/>`, i+1) + "\n"
		if got := h.prefs(); got != want {
			t.Errorf("%s: %q", h.name, got)
		}
	}
}

// One engine run with every manual step confirmed up front (`hawiz run
// --confirm …`) goes to the end; sudo is proved once per member (the
// engine's check at connect, not again in preflight); the primary is
// restarted twice and each failover stopped and started once.
func TestHAOneRunConfirmedUpFront(t *testing.T) {
	w, a, _, _, list := setup(t, 3, nil)
	a.SSH.KnownHosts = filepath.Join(w.dir, "known_hosts")
	var manual []string
	for _, s := range list {
		if s.Manual != nil {
			manual = append(manual, s.ID)
		}
	}
	for _, h := range w.hosts {
		h.mu.Lock()
		h.cmds = nil
		h.mu.Unlock()
	}
	_, err := steps.Run(context.Background(), steps.RunConfig{
		Procedure: CentralHA(), Answers: a, AnswersFile: "ha.yaml", StatePath: filepath.Join(w.dir, "state.json"),
		Operator: steps.NonInteractive{Yes: true}, Yes: true, Confirm: manual,
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second, SessionPerCommand: worldSessions},
		Getenv: func(string) string { return "" },
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range w.hosts {
		want := mmcentral.SamplePrefs + fmt.Sprintf(`<ClusterMemberName value="central%d"/>`, i+1) + "\n"
		if got := h.prefs(); got != want {
			t.Errorf("%s: %q", h.name, got)
		}
		h.mu.Lock()
		sudoTrue := 0
		for _, c := range h.cmds {
			if strings.HasSuffix(c, "sudo -n -- 'true'") {
				sudoTrue++
			}
		}
		h.mu.Unlock()
		if sudoTrue != 1 {
			t.Errorf("%s: sudo proved %d times, want once", h.name, sudoTrue)
		}
		calls := map[string]int{}
		for _, l := range strings.Split(h.systemctlLog(), "\n") {
			calls[l]++
		}
		restarts, stops, starts := 2, 0, 0
		if i > 0 {
			restarts, stops, starts = 0, 1, 1
		}
		if calls["restart mmcentral"] != restarts || calls["stop mmcentral"] != stops || calls["start mmcentral"] != starts {
			t.Errorf("%s: systemctl calls %v", h.name, calls)
		}
	}
}

// Apply writes on the content its Check read (no second read); a file
// changed in between is refused by the compare-and-swap ("changed since it
// was read"), never overwritten, and the edit is kept.
func TestApplyWritesOnCheckReadRefusesChange(t *testing.T) {
	for _, change := range []bool{false, true} {
		w, _, _, e, list := setup(t, 2, nil)
		ctx := context.Background()
		byID := map[string]*steps.Step{}
		for _, s := range list {
			byID[s.ID] = s
		}
		h0, h1 := w.hosts[0], w.hosts[1]
		reads := func(h *fakeHost) int {
			h.mu.Lock()
			defer h.mu.Unlock()
			n := 0
			for _, c := range h.cmds {
				if strings.Contains(c, "hawiz-stat:") && strings.Contains(c, "exec cat") {
					n++
				}
			}
			return n
		}
		name := byID["name-primary"]
		if done, _, err := name.Check(ctx, e, h0.name); err != nil || done {
			t.Fatalf("check: %v %v", done, err)
		}
		edited := h0.prefs() + "<!-- edited meanwhile -->\n"
		if change {
			h0.writeFile("var/mmsuite/mmcentral/preferences.cfg", edited)
		}
		r0 := reads(h0)
		err := name.Apply(ctx, e, h0.name)
		if got := reads(h0) - r0; got != 0 {
			t.Errorf("change %v: Apply read the file %d times, want 0 (the Check's read)", change, got)
		}
		if change {
			if !errors.Is(err, remote.ErrChanged) || !strings.Contains(err.Error(), "preferences.cfg") {
				t.Fatalf("a file changed after the check: %v, want the write refused", err)
			}
			if got := h0.prefs(); got != edited {
				t.Fatalf("the edit was not kept: %q", got)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		want := mmcentral.SamplePrefs + `<ClusterMemberName value="central1"/>` + "\n"
		if got := h0.prefs(); got != want {
			t.Fatalf("primary prefs %q", got)
		}
		if _, err := name.Verify(ctx, e, h0.name); err != nil {
			t.Fatal(err)
		}
		// The failover: stop, then the copy on what its Check read.
		for _, id := range []string{"stop-central2", "copy-preferences-central2"} {
			s := byID[id]
			if done, _, err := s.Check(ctx, e, h1.name); err != nil || done {
				t.Fatalf("%s check: %v %v", id, done, err)
			}
			r1 := reads(h1)
			if err := s.Apply(ctx, e, h1.name); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			if got := reads(h1) - r1; got != 0 {
				t.Errorf("%s: Apply read %d times, want 0", id, got)
			}
			if _, err := s.Verify(ctx, e, h1.name); err != nil {
				t.Fatalf("%s verify: %v", id, err)
			}
		}
		if got := h1.prefs(); got != strings.Replace(want, `"central1"`, `"central2"`, 1) {
			t.Fatalf("failover prefs %q", got)
		}
		// A copy whose target changed after its Check: refused, edit kept.
		cp := byID["copy-preferences-central2"]
		h1.writeFile("var/mmsuite/mmcentral/preferences.cfg", "<!-- old -->\n")
		if done, _, err := cp.Check(ctx, e, h1.name); err != nil || done {
			t.Fatalf("check: %v %v", done, err)
		}
		h1.writeFile("var/mmsuite/mmcentral/preferences.cfg", "<!-- someone else -->\n")
		if err := cp.Apply(ctx, e, h1.name); !errors.Is(err, remote.ErrChanged) {
			t.Fatalf("copy over a file changed after the check: %v", err)
		}
		if got := h1.prefs(); got != "<!-- someone else -->\n" {
			t.Fatalf("the edit was not kept: %q", got)
		}
	}
}

// The copy never replaces a running member's preferences.cfg: refused with
// the state its Check saw, and with the state asked in Apply when there was
// no Check (--redo).
func TestCopyRefusedWhileCentralRuns(t *testing.T) {
	w, _, _, e, list := setup(t, 2, nil)
	ctx := context.Background()
	name, cp := stepByID(t, list, "name-primary"), stepByID(t, list, "copy-preferences-central2")
	if err := name.Apply(ctx, e, w.hosts[0].name); err != nil {
		t.Fatal(err)
	}
	before := w.hosts[1].prefs()
	if done, _, err := cp.Check(ctx, e, w.hosts[1].name); err != nil || done {
		t.Fatalf("check: %v %v", done, err)
	}
	for _, round := range []string{"after its check", "without a check"} {
		err := cp.Apply(ctx, e, w.hosts[1].name)
		if err == nil || !strings.Contains(err.Error(), "must be stopped before") {
			t.Fatalf("%s: %v", round, err)
		}
		if w.hosts[1].prefs() != before {
			t.Fatalf("%s: the running member's file was replaced", round)
		}
	}
}

// TestServiceVerifyUsesTheActionsOwnProof: after a start, restart or stop,
// Verify takes what the Apply saw right after its action (the state check of
// the action's session, the dial that ended the wait for 1231), once; a
// Verify without it (a resumed run) asks the host, and fails when Central
// is not as the step wants it.
func TestServiceVerifyUsesTheActionsOwnProof(t *testing.T) {
	_, _, _, e, list := setup(t, 2, nil)
	ctx := context.Background()
	lg, err := runSteps(ctx, e, list)
	if err != nil {
		t.Fatal(err)
	}
	byStep := map[string]string{}
	for k, v := range lg.evid {
		id, _, _ := strings.Cut(k, "@")
		byStep[id] = v
	}
	for _, id := range []string{"restart-primary", "restart-primary-after-register", "start-central2"} {
		if ev := byStep[id]; !strings.Contains(ev, "seen right after the") {
			t.Errorf("%s: Verify evidence %q is not the action's own proof", id, ev)
		}
	}
	start, stop := stepByID(t, list, "start-central2"), stepByID(t, list, "stop-central2")
	hn := start.Hosts[0]
	h, err := e.Host(hn)
	if err != nil {
		t.Fatal(err)
	}
	svc := remote.ServiceManager{Kind: "systemctl"}
	// The proof is used once: Verify again asks the host.
	if _, err := h.Service(ctx, svc, "mmcentral", remote.ServiceStop, false); err != nil {
		t.Fatal(err)
	}
	if ev, err := start.Verify(ctx, e, hn); err == nil {
		t.Fatalf("start Verify with Central stopped held: %s", ev)
	}
	if ev, err := stop.Verify(ctx, e, hn); err != nil || !strings.Contains(ev, "port 1231 is closed") {
		t.Fatalf("stop Verify (asked now): %q %v", ev, err)
	}
	if _, err := h.Service(ctx, svc, "mmcentral", remote.ServiceStart, false); err != nil {
		t.Fatal(err)
	}
	if ev, err := start.Verify(ctx, e, hn); err != nil || strings.Contains(ev, "seen right after") || !strings.Contains(ev, "listening") {
		t.Fatalf("start Verify (asked now): %q %v", ev, err)
	}
}
