package micetro

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// rbDNSWorld runs micetro-central-ha through the engine on 3 members with
// a round-robin name that holds only central1's address and a TSIG key
// the primary accepts: the round-robin step adds central2's and central3's
// by a signed UPDATE.
type rbDNSWorld struct {
	w       *world
	state   string
	keyFile string
	p, s    *dnstest.Server
}

func newRBDNSWorld(t *testing.T) *rbDNSWorld {
	t.Helper()
	x := &rbDNSWorld{keyFile: filepath.Join(t.TempDir(), "k.key")}
	os.WriteFile(x.keyFile, []byte(fmt.Sprintf("key %q {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", tsigName, tsigSecret)), 0o600)
	w, a, _, _, list := setup(t, 3, func(a *HAAnswers) {
		x.p, x.s = dnsPair(t, "10.0.0.11")
		a.DNS.Servers = []string{x.p.Addr(), x.s.Addr()}
		a.DNS.TSIGKeyFile = x.keyFile
		a.DNS.MaxWait = 5 * time.Second
	})
	x.w = w
	a.SSH.KnownHosts = filepath.Join(w.dir, "known_hosts")
	var manual []string
	for _, s := range list {
		if s.Manual != nil {
			manual = append(manual, s.ID)
		}
	}
	x.state = filepath.Join(w.dir, "state.json")
	if _, err := steps.Run(context.Background(), steps.RunConfig{
		Procedure: CentralHA(), Answers: a, AnswersFile: "ha.yaml", StatePath: x.state,
		Operator: steps.NonInteractive{Yes: true}, Yes: true, Confirm: manual,
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second, SessionPerCommand: worldSessions},
		Getenv: func(string) string { return "" },
	}); err != nil {
		t.Fatal(err)
	}
	if got := x.addrs(x.s); got != "10.0.0.11 10.0.0.12 10.0.0.13" {
		t.Fatalf("after the run the secondary holds %q", got)
	}
	x.onlyDNSInJournal(t)
	return x
}

// onlyDNSInJournal keeps only the DNS changes in the run's journal: this
// test world rewrites /var/mmsuite/ in every command, so the backup paths
// the hosts reported cannot be read back through it (the files' rollback
// of this procedure is covered on the lab, e2e/rollback_test.go).
func (x *rbDNSWorld) onlyDNSInJournal(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(x.state)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keep []any
	for _, c := range m["journal"].([]any) {
		if c.(map[string]any)["kind"] == steps.ChangeDNS {
			keep = append(keep, c)
		}
	}
	m["journal"] = keep
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(x.state, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// addrs is what srv holds for the round-robin name, sorted.
func (x *rbDNSWorld) addrs(srv *dnstest.Server) string {
	var out []string
	for _, rr := range srv.Records("central.example.test", dns.TypeA) {
		out = append(out, rr.(*dns.A).A.String())
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// rollback runs the rollback of x's run; getenv gives the environment.
func (x *rbDNSWorld) rollback(t *testing.T, env map[string]string) (string, error) {
	t.Helper()
	st, err := steps.ReadState(x.state)
	if err != nil {
		t.Fatal(err)
	}
	p, err := steps.RollbackProcedure(st, CentralHA())
	if err != nil {
		t.Fatal(err)
	}
	a, err := steps.LoadAnswers(CentralHA(), []byte(st.Answers))
	if err != nil {
		t.Fatal(err)
	}
	var plan bytes.Buffer
	if err := steps.WritePlan(&plan, p, a); err != nil {
		t.Fatal(err)
	}
	list, err := p.Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	var manual []string // the UI work of the run, undone by hand: confirmed here
	for _, s := range list {
		if s.Manual != nil {
			manual = append(manual, s.ID)
		}
	}
	path := steps.RollbackStatePath(x.state)
	_, statErr := os.Stat(path)
	_, err = steps.Run(context.Background(), steps.RunConfig{
		Procedure: p, Answers: a, StatePath: path, RunName: "rb", Resume: statErr == nil, Confirm: manual,
		Operator: steps.NonInteractive{Yes: true}, Yes: true,
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second, SessionPerCommand: worldSessions},
		Getenv: func(k string) string { return env[k] },
	})
	return plan.String(), err
}

// noSecret fails when the TSIG secret is in any file of the run's or the
// rollback's state, evidence or transcript.
func (x *rbDNSWorld) noSecret(t *testing.T) {
	t.Helper()
	rb := steps.RollbackStatePath(x.state)
	for _, f := range []string{x.state, steps.EvidencePath(x.state), steps.TranscriptPath(x.state), rb, steps.EvidencePath(rb), steps.TranscriptPath(rb)} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(tsigSecret)) {
			t.Errorf("%s holds the TSIG secret", filepath.Base(f))
		}
	}
}

// The round-robin step's UPDATE is in the journal (zone, name, the
// addresses added, the server, the key's name and file; never its
// secret), and the rollback takes out exactly the records the run added
// by a signed UPDATE, verified on the primary and the secondary: the
// record that was there before the run stays. Failed before: the journal
// held no DNS change and the rollback left both records.
func TestHARollbackTakesOutDNSRecords(t *testing.T) {
	x := newRBDNSWorld(t)
	st, err := steps.ReadState(x.state)
	if err != nil {
		t.Fatal(err)
	}
	var d *steps.DNSChange
	for _, c := range st.Journal {
		if c.Kind == steps.ChangeDNS {
			if c.Step != StepRoundRobinDNS || d != nil {
				t.Fatalf("DNS change %+v", c)
			}
			d = c.DNS
		}
	}
	if d == nil {
		t.Fatal("no DNS change in the journal")
	}
	want := []netip.Addr{netip.MustParseAddr("10.0.0.12"), netip.MustParseAddr("10.0.0.13")}
	if d.Zone != "example.test." || d.Name != "central.example.test." || d.KeyName != tsigName || d.KeyFile != x.keyFile ||
		d.Server != x.p.Addr() || !slices.Equal(d.Added, want) || len(d.Removed) != 0 || fmt.Sprint(d.Before) != "[10.0.0.11]" || d.Unconfirmed != "" {
		t.Errorf("journaled %+v", d)
	}
	plan, err := x.rollback(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "take out the records the run added [10.0.0.12 10.0.0.13]") || !strings.Contains(plan, "key "+tsigName) {
		t.Errorf("the plan does not name the DNS undo:\n%s", plan)
	}
	// the members registered in the UI are named, in reverse order, with
	// the UI's Remove Member and the page the run's step cited
	i3, i2, i1 := strings.Index(plan, "undo-by-hand-register-central3"), strings.Index(plan, "undo-by-hand-register-central2"), strings.Index(plan, "undo-by-hand-register-primary")
	if i3 < 0 || i2 < i3 || i1 < i2 || strings.Count(plan, "Remove Member") < 3 || !strings.Contains(plan, "editing-ha-member-options") {
		t.Errorf("the plan does not list the UI registrations to undo by hand, newest first:\n%s", plan)
	}
	for _, srv := range []*dnstest.Server{x.p, x.s} {
		if got := x.addrs(srv); got != "10.0.0.11" {
			t.Errorf("%s holds %q after the rollback, want the record from before the run only", srv.Addr(), got)
		}
	}
	ev, _ := os.ReadFile(steps.EvidencePath(steps.RollbackStatePath(x.state)))
	if !strings.Contains(string(ev), "no record for 10.0.0.12, 10.0.0.13") || strings.Contains(string(ev), "LEFT AS IT IS: DNS") {
		t.Errorf("evidence:\n%s", ev)
	}
	x.noSecret(t)
	// again: nothing to do, no UPDATE, and no key needed
	os.WriteFile(x.keyFile, []byte("not a key\n"), 0o600)
	n := x.p.Updates()
	if _, err := x.rollback(t, nil); err != nil {
		t.Fatal(err)
	}
	if x.p.Updates() != n {
		t.Error("a second rollback sent an UPDATE")
	}
}

// A name whose records changed after the run (an operator added one) is
// left as it is and named, in a warning and the evidence; the rest of the
// rollback goes on.
func TestHARollbackLeavesChangedDNSRecords(t *testing.T) {
	x := newRBDNSWorld(t)
	var recs []string
	for _, ip := range []string{"10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.50"} {
		recs = append(recs, "central.example.test. 300 IN A "+ip)
	}
	if err := x.p.Replace("central.example.test", dns.TypeA, recs...); err != nil {
		t.Fatal(err)
	}
	n := x.p.Updates()
	if _, err := x.rollback(t, nil); err != nil {
		t.Fatal(err)
	}
	if x.p.Updates() != n {
		t.Error("the rollback sent an UPDATE for a name that changed since the run")
	}
	for _, srv := range []*dnstest.Server{x.p, x.s} {
		if got := x.addrs(srv); got != "10.0.0.11 10.0.0.12 10.0.0.13 10.0.0.50" {
			t.Errorf("%s holds %q: the changed name was touched", srv.Addr(), got)
		}
	}
	ev, _ := os.ReadFile(steps.EvidencePath(steps.RollbackStatePath(x.state)))
	if strings.Count(string(ev), "LEFT AS IT IS: DNS central.example.test. holds [10.0.0.11 10.0.0.12 10.0.0.13 10.0.0.50]") != 1 {
		t.Errorf("evidence does not name the name left as it is:\n%s", ev)
	}
	x.noSecret(t)
}

// The key file the run read no longer holds its key (it holds another
// key, then nothing readable): the key comes from HAWIZ_TSIG_KEY
// (never stored); without it and with no one to ask, the rollback stops
// in its DNS check before anything is undone; a key of another name is
// refused, naming it.
func TestHARollbackDNSKeyFromEnvironment(t *testing.T) {
	x := newRBDNSWorld(t)
	os.WriteFile(x.keyFile, []byte("key \"rotated\" {\n\talgorithm hmac-sha256;\n\tsecret \""+tsigSecret+"\";\n};\n"), 0o600)
	if _, err := x.rollback(t, nil); err == nil || !strings.Contains(err.Error(), "now holds key rotated, not "+tsigName) {
		t.Fatalf("a rotated key file: %v", err)
	}
	os.WriteFile(x.keyFile, []byte("not a key\n"), 0o600)
	prefs := x.w.hosts[1].prefs()
	if _, err := x.rollback(t, nil); err == nil || !strings.Contains(err.Error(), "HAWIZ_TSIG_KEY") {
		t.Fatalf("without a key: %v", err)
	}
	if _, err := x.rollback(t, map[string]string{"HAWIZ_TSIG_KEY": "other-key:" + tsigSecret}); err == nil || !strings.Contains(err.Error(), "key other-key, not "+tsigName) || strings.Contains(err.Error(), tsigSecret) {
		t.Fatalf("another key: %v", err)
	}
	if x.w.hosts[1].prefs() != prefs || x.addrs(x.p) != "10.0.0.11 10.0.0.12 10.0.0.13" {
		t.Fatal("something was undone before the DNS check passed")
	}
	if _, err := x.rollback(t, map[string]string{"HAWIZ_TSIG_KEY": tsigName + ":" + tsigSecret}); err != nil {
		t.Fatal(err)
	}
	if got := x.addrs(x.s); got != "10.0.0.11" {
		t.Errorf("secondary holds %q", got)
	}
	x.noSecret(t)
}
