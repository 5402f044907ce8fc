package micetro

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/hawiz/hawiz/steps"
)

// removeSetup runs micetro-central-ha on n members (DNS holding every
// member's address, a TSIG key the primary accepts), then builds
// micetro-remove-member's answers for remove (mod may change them).
func removeSetup(t *testing.T, n int, remove string, mod func(*RemoveAnswers)) (*world, *RemoveAnswers, *testOperator, *steps.Env, *dnstest.Server) {
	t.Helper()
	var p *dnstest.Server
	keyFile := filepath.Join(t.TempDir(), "k.key")
	os.WriteFile(keyFile, []byte(fmt.Sprintf("key %q {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", tsigName, tsigSecret)), 0o600)
	w, ha, _, e, list := setup(t, n, func(a *HAAnswers) {
		var s *dnstest.Server
		var ips []string
		for i := range a.Members {
			ips = append(ips, fmt.Sprintf("10.0.0.%d", 11+i))
		}
		p, s = dnsPair(t, ips...)
		a.DNS.Servers = []string{p.Addr(), s.Addr()}
		a.DNS.TSIGKeyFile = keyFile
	})
	if _, err := runSteps(context.Background(), e, list); err != nil {
		t.Fatal(err)
	}
	a := &RemoveAnswers{HAAnswers: *ha, Remove: remove}
	a.Members = append([]Member(nil), ha.Members...)
	if mod != nil {
		mod(a)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	op := &testOperator{confirm: true}
	return w, a, op, steps.NewEnv(context.Background(), a, e.Fleet(), op), p
}

func removeList(t *testing.T, a *RemoveAnswers) []*steps.Step {
	t.Helper()
	list, err := RemoveMember().Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestRemoveMemberStepList(t *testing.T) {
	a := &RemoveAnswers{Remove: "central3"}
	a.Members = []Member{{Name: "central1", Priority: 10}, {Name: "central2", Priority: 20}, {Name: "central3", Priority: 30}}
	a.DNS.Name = "central.example.com"
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	list := removeList(t, a)
	want := "preflight confirm-member-not-active remove-member-in-ui stop-removed-member remove-cluster-member-name remove-from-round-robin-dns verify-remaining-members"
	if got := strings.Join(ids(list), " "); got != want {
		t.Fatalf("steps\n got %s\nwant %s", got, want)
	}
	for _, s := range list {
		if s.DocRef == "" || s.Title == "" || s.Why == "" {
			t.Errorf("%s lacks a title, why or doc reference", s.ID)
		}
		if !strings.Contains(s.DocRef, "#editing-ha-member-options") && !strings.Contains(s.DocRef, "reversed") {
			t.Errorf("%s cites %q: neither the documents' Editing HA Member Options nor the HA step it reverses", s.ID, s.DocRef)
		}
	}
	ui := stepByID(t, list, StepRmInUI)
	if got := strings.Join(ui.Manual.Instructions, "\n"); !strings.Contains(got, "Remove Member") || !strings.Contains(got, `"central3"`) {
		t.Errorf("UI instructions:\n%s", got)
	}
}

// The happy path: central3 leaves a 3-member cluster; its Central is
// stopped, its ClusterMemberName removed (backup kept, every other byte
// unchanged), its A record deleted by one TSIG-signed UPDATE and gone from
// both authoritative servers; the others still run. A second run (same
// state) and a fresh run change nothing.
func TestRemoveMemberHappyPathAndRerun(t *testing.T) {
	w, a, op, e, p := removeSetup(t, 3, "central3", nil)
	ctx := context.Background()
	before3 := w.hosts[2].prefs()
	mark := map[string]string{}
	for _, h := range w.hosts {
		mark[h.name] = changesOf(h)
	}
	others := []string{w.hosts[0].prefs(), w.hosts[1].prefs()}
	list := removeList(t, a)
	lg, err := runSteps(ctx, e, list)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(before3, `<ClusterMemberName value="central3"/>`+"\n", "", 1); w.hosts[2].prefs() != want || want == before3 {
		t.Errorf("central3 prefs\n%s\nwant\n%s", w.hosts[2].prefs(), want)
	}
	if len(backups(w.hosts[2])) == 0 {
		t.Error("no backup of central3's preferences.cfg")
	}
	if w.hosts[0].prefs() != others[0] || w.hosts[1].prefs() != others[1] {
		t.Error("a member that stays had its preferences.cfg changed")
	}
	if got := strings.TrimPrefix(changesOf(w.hosts[2]), mark["central3"]); !strings.HasSuffix(got, "stop mmcentral\n") {
		t.Errorf("central3 service actions: %q", got)
	}
	for _, h := range w.hosts[:2] {
		if changesOf(h) != mark[h.name] {
			t.Errorf("%s was changed: %s", h.name, h.systemctlLog())
		}
	}
	if p.Updates() != 1 { // the HA run found the records in place
		t.Errorf("updates %d", p.Updates())
	}
	if len(op.questions) != 1 || !strings.Contains(op.questions[0], "delete central.example.test A 10.0.0.13") {
		t.Errorf("questions %v", op.questions)
	}
	if ev := lg.evid[StepRmDNS+"@"]; !strings.Contains(ev, "holds no record for 10.0.0.13") || strings.Count(ev, "[10.0.0.11 10.0.0.12]") != 2 {
		t.Errorf("dns evidence %q", ev)
	}
	if strings.Join(op.confirmed, " ") != StepRmNotActive+" "+StepRmInUI {
		t.Errorf("confirmed %v", op.confirmed)
	}
	// Same state: nothing again.
	lg, err = runSteps(ctx, e, list)
	if err != nil || strings.Join(lg.applied, " ") != StepRmVerifyCluster+"@" { // a pure verification

		t.Fatalf("second run applied %v: %v", lg.applied, err)
	}
	// A fresh run: every step is done on the hosts' state (the UI step
	// inferred), nothing is asked or changed.
	log3 := changesOf(w.hosts[2])
	op2 := &testOperator{confirm: true}
	e2 := steps.NewEnv(ctx, a, e.Fleet(), op2)
	lg, err = runSteps(ctx, e2, list)
	if err != nil {
		t.Fatal(err)
	}
	if len(lg.applied) != 1 || lg.applied[0] != StepRmVerifyCluster+"@" || len(op2.confirmed) != 0 || len(op2.questions) != 0 {
		t.Errorf("fresh re-run applied %v, confirmed %v, asked %v", lg.applied, op2.confirmed, op2.questions)
	}
	if changesOf(w.hosts[2]) != log3 || p.Updates() != 1 {
		t.Error("the fresh re-run changed something")
	}
}

// Refused in validation, before any connection: an unknown member, the
// primary, no member named.
func TestRemoveMemberRefusedAnswers(t *testing.T) {
	base := func(remove string) *RemoveAnswers {
		a := &RemoveAnswers{Remove: remove}
		a.Members = []Member{{Name: "central1", Priority: 10}, {Name: "central2", Priority: 20}}
		a.DNS.Name = "central.example.com"
		return a
	}
	for _, tc := range []struct{ remove, want string }{
		{"central9", `remove: "central9" is not one of the members (central1, central2)`},
		{"central1", `remove: "central1" is members[0], the primary`},
		{"", "remove: is required"},
	} {
		err := base(tc.remove).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("remove %q: %v, want %q", tc.remove, err, tc.want)
		}
	}
	a := base("central1")
	a.Members = a.Members[:1]
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), `remove: "central1" is the cluster's last member`) {
		t.Errorf("last member: %v", err)
	}
	if err := base("CENTRAL2").Validate(); err != nil {
		t.Errorf("a member named in another case: %v", err)
	}
}

// The member is the only one running Central, so it is Active: refused
// before anything changes.
func TestRemoveMemberActiveRefusedNothingChanged(t *testing.T) {
	w, a, op, e, p := removeSetup(t, 3, "central3", nil)
	ctx := context.Background()
	stopCentral(t, e, "central1")
	stopCentral(t, e, "central2")
	marks := map[string]string{}
	for _, h := range w.hosts {
		marks[h.name] = changesOf(h)
	}
	_, err := runSteps(ctx, e, removeList(t, a))
	var ref *steps.RefusedError
	if !errors.As(err, &ref) {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if !strings.Contains(err.Error(), "no member that stays runs Central") {
		t.Errorf("err = %v", err)
	}
	for _, h := range w.hosts {
		if changesOf(h) != marks[h.name] {
			t.Errorf("%s changed", h.name)
		}
	}
	if p.Updates() != 0 || len(op.confirmed) != 0 {
		t.Errorf("updates %d, confirmed %v", p.Updates(), op.confirmed)
	}
	// The Active check on its own: central3 the only one running.
	s := notActiveStep(a)
	if _, _, err := s.Check(ctx, e, ""); !errors.As(err, &ref) || !strings.Contains(err.Error(), "is the only member running Central, so it is the Active member") {
		t.Errorf("not-active check: %v", err)
	}
}

// A member whose file names another member is refused in preflight: the
// answers do not describe this cluster.
func TestRemoveMemberWrongClusterRefused(t *testing.T) {
	w, a, _, e, _ := removeSetup(t, 2, "central2", nil)
	w.hosts[1].writeFile("var/mmsuite/mmcentral/preferences.cfg", strings.Replace(w.hosts[1].prefs(), `"central2"`, `"other"`, 1))
	_, err := runSteps(context.Background(), e, removeList(t, a))
	if err == nil || !strings.Contains(err.Error(), `names the member "other", not "central2"`) {
		t.Fatalf("err = %v", err)
	}
}

// Without a TSIG key hawiz changes no record: it shows the exact record to
// delete and waits.
func TestRemoveMemberDNSWithoutTSIGWaits(t *testing.T) {
	_, a, op, e, p := removeSetup(t, 2, "central2", func(a *RemoveAnswers) { a.DNS.TSIGKeyFile = "" })
	_, err := runSteps(context.Background(), e, removeList(t, a))
	if !errors.Is(err, steps.ErrWaitingForOperator) || len(op.waits) != 1 {
		t.Fatalf("err = %v waits %v", err, op.waits)
	}
	for _, want := range []string{"central.example.test. 300 IN A 10.0.0.12", "update delete central.example.test A 10.0.0.12", "prereq yxrrset central.example.test A 10.0.0.11"} {
		if !strings.Contains(op.waits[0], want) {
			t.Errorf("wait message lacks %q:\n%s", want, op.waits[0])
		}
	}
	if p.Updates() != 0 {
		t.Errorf("updates %d", p.Updates())
	}
}

// removeElement takes out only the named lines, with their line endings.
func TestRemoveElement(t *testing.T) {
	in := "<Database value=\"MSSQL\"/>\r\n<ClusterMemberName value=\"c2\"/>\r\n<X value=\"1\"/>"
	out, gone, err := removeElement(ParsePrefs([]byte(in), "\n"), ElemClusterMemberName, "c2")
	if err != nil || len(gone) != 1 || string(out) != "<Database value=\"MSSQL\"/>\r\n<X value=\"1\"/>" {
		t.Fatalf("%q %v %v", out, gone, err)
	}
	if _, _, err := removeElement(ParsePrefs([]byte(in), "\n"), ElemClusterMemberName, "c3"); !errors.Is(err, errOtherName) {
		t.Fatalf("another name: %v", err)
	}
	last := "<Database value=\"MSSQL\"/>\n<ClusterMemberName value=\"c2\"/>"
	if out, _, _ := removeElement(ParsePrefs([]byte(last), "\n"), ElemClusterMemberName, "c2"); string(out) != "<Database value=\"MSSQL\"/>\n" {
		t.Fatalf("last line: %q", out)
	}
}

// changesOf is h's preferences.cfg and its service actions that change
// something (start, stop, restart; not the state probes).
func changesOf(h *fakeHost) string {
	var b strings.Builder
	b.WriteString(h.prefs())
	for _, l := range strings.Split(h.systemctlLog(), "\n") {
		if strings.HasPrefix(l, "start ") || strings.HasPrefix(l, "stop ") || strings.HasPrefix(l, "restart ") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
