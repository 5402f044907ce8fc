package micetro

import (
	"context"
	"encoding/json"
	"fmt"
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

// heldBy is what srv holds for the round-robin name, sorted.
func heldBy(srv *dnstest.Server) string {
	var out []string
	for _, rr := range srv.Records("central.example.test", dns.TypeA) {
		out = append(out, rr.(*dns.A).A.String())
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// manualIDs are the IDs of p's manual steps (confirmed by the tests).
func manualIDs(t *testing.T, p *steps.Procedure, a steps.Answers) []string {
	t.Helper()
	list, err := p.Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range list {
		if s.Manual != nil {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// micetro-remove-member's signed delete of the removed member's address is
// in the change journal (the removed address, what the primary held, the
// key's name and file, never its secret), and rolling the run back puts
// the record back on the primary and the secondary. Failed before: the
// delete was not journaled, so the journal held no DNS change and the
// rollback left the name without central3's address.
func TestRemoveMemberRollbackPutsDNSRecordBack(t *testing.T) {
	// removeSetup's world, with the secondary server kept too
	var p, sec *dnstest.Server
	keyFile := filepath.Join(t.TempDir(), "k.key")
	os.WriteFile(keyFile, []byte(fmt.Sprintf("key %q {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", tsigName, tsigSecret)), 0o600)
	w, ha, _, e, list := setup(t, 3, func(a *HAAnswers) {
		p, sec = dnsPair(t, "10.0.0.11", "10.0.0.12", "10.0.0.13")
		a.DNS.Servers = []string{p.Addr(), sec.Addr()}
		a.DNS.TSIGKeyFile = keyFile
		a.DNS.MaxWait = 5 * time.Second
	})
	if _, err := runSteps(context.Background(), e, list); err != nil {
		t.Fatal(err)
	}
	a := &RemoveAnswers{HAAnswers: *ha, Remove: "central3"}
	a.Members = append([]Member(nil), ha.Members...)
	a.SSH.KnownHosts = filepath.Join(w.dir, "known_hosts")
	state := filepath.Join(w.dir, "remove.json")
	opts := remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second, SessionPerCommand: worldSessions}
	if _, err := steps.Run(context.Background(), steps.RunConfig{
		Procedure: RemoveMember(), Answers: a, AnswersFile: "remove.yaml", StatePath: state,
		Operator: steps.NonInteractive{Yes: true}, Yes: true, Confirm: manualIDs(t, RemoveMember(), a),
		Remote: opts, Getenv: func(string) string { return "" },
	}); err != nil {
		t.Fatal(err)
	}
	if got := heldBy(p); got != "10.0.0.11 10.0.0.12" {
		t.Fatalf("after the run the primary holds %q", got)
	}
	st, err := steps.ReadState(state)
	if err != nil {
		t.Fatal(err)
	}
	var d *steps.DNSChange
	for _, c := range st.Journal {
		if c.Kind == steps.ChangeDNS {
			if c.Step != StepRmDNS || d != nil {
				t.Fatalf("DNS change %+v", c)
			}
			d = c.DNS
		}
	}
	if d == nil {
		t.Fatal("no DNS change in the journal")
	}
	if fmt.Sprint(d.Removed) != "[10.0.0.13]" || len(d.Added) != 0 || fmt.Sprint(d.Before) != "[10.0.0.11 10.0.0.12 10.0.0.13]" ||
		d.KeyName != tsigName || d.KeyFile != a.DNS.TSIGKeyFile || d.Server != p.Addr() || d.TTL != 300 || d.Unconfirmed != "" {
		t.Errorf("journaled %+v", d)
	}
	// Only the DNS change: this test world rewrites /var/mmsuite/ in every
	// command, so the file backups cannot be read back through it (see
	// rbDNSWorld.onlyDNSInJournal).
	onlyDNS(t, state)

	st, err = steps.ReadState(state)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := steps.RollbackProcedure(st, RemoveMember())
	if err != nil {
		t.Fatal(err)
	}
	ra, err := steps.LoadAnswers(RemoveMember(), []byte(st.Answers))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := steps.Run(context.Background(), steps.RunConfig{
		Procedure: rp, Answers: ra, StatePath: steps.RollbackStatePath(state), RunName: "rb", Confirm: manualIDs(t, rp, ra),
		Operator: steps.NonInteractive{Yes: true}, Yes: true, Remote: opts, Getenv: func(string) string { return "" },
	}); err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*dnstest.Server{p, sec} {
		if got := heldBy(srv); got != "10.0.0.11 10.0.0.12 10.0.0.13" {
			t.Errorf("%s holds %q after the rollback, want central3's address back", srv.Addr(), got)
		}
	}
	b, _ := os.ReadFile(steps.EvidencePath(steps.RollbackStatePath(state)))
	if strings.Contains(string(b), "LEFT AS IT IS") {
		t.Errorf("evidence:\n%s", b)
	}
	for _, f := range []string{state, steps.RollbackStatePath(state), steps.EvidencePath(steps.RollbackStatePath(state)), steps.TranscriptPath(steps.RollbackStatePath(state))} {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), tsigSecret) {
			t.Errorf("%s holds the TSIG secret", filepath.Base(f))
		}
	}
}

// onlyDNS keeps only the DNS changes in the journal of the state at path.
func onlyDNS(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
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
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
