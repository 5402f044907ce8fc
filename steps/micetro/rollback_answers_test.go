package micetro

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// The run's dns.tsig_key_file no longer exists: loading the answers for
// the rollback (as hawiz rollback does) is not refused — the note names
// the answer — and the rollback goes on to its DNS undo, which takes the
// key from HAWIZ_TSIG_KEY and puts the name back as before the run.
// Other problems in the answers are still refused. Failed before: hawiz
// rollback loaded the answers with LoadAnswers, which refuses the missing
// file (dns.tsig_key_file: stat …: no such file or directory), so the
// rollback stopped before the fallback.
func TestHARollbackKeyFileGone(t *testing.T) {
	x := newRBDNSWorld(t)
	if err := os.Remove(x.keyFile); err != nil {
		t.Fatal(err)
	}
	st, err := steps.ReadState(x.state)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := steps.LoadAnswers(CentralHA(), []byte(st.Answers)); err == nil || !strings.Contains(err.Error(), "dns.tsig_key_file") {
		t.Fatalf("LoadAnswers with the key file gone: %v", err)
	}
	a, notes, err := steps.LoadRollbackAnswers(CentralHA(), []byte(st.Answers))
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "dns.tsig_key_file: "+x.keyFile+" no longer exists") {
		t.Errorf("notes %q", notes)
	}
	if ha := a.(*HAAnswers); ha.DNS.TSIGKeyFile != x.keyFile || ha.DNS.MaxWait != 5*time.Second || ha.VersionUI != UI102 {
		t.Errorf("answers not as the run's (defaults applied): %+v", ha.DNS)
	}
	// another problem is still refused (its value is no file either: only
	// the stat error of a path that is gone is tolerated)
	bad := strings.Replace(st.Answers, "central.example.test", "not a name!", 1)
	if _, _, err := steps.LoadRollbackAnswers(CentralHA(), []byte(bad)); err == nil || !strings.Contains(err.Error(), "dns.name") || strings.Contains(err.Error(), "tsig_key_file") {
		t.Errorf("a bad dns.name: %v", err)
	}

	p, err := steps.RollbackProcedure(st, CentralHA())
	if err != nil {
		t.Fatal(err)
	}
	list, err := p.Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	var manual []string
	for _, s := range list {
		if s.Manual != nil {
			manual = append(manual, s.ID)
		}
	}
	cfg := steps.RunConfig{
		Procedure: p, Answers: a, StatePath: steps.RollbackStatePath(x.state), RunName: "rb", Confirm: manual,
		Operator: steps.NonInteractive{Yes: true}, Yes: true,
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second, SessionPerCommand: worldSessions},
		Getenv: func(string) string { return "" },
	}
	if _, err := steps.Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "HAWIZ_TSIG_KEY") {
		t.Fatalf("no key anywhere: %v", err)
	}
	cfg.Resume = true
	cfg.Getenv = func(k string) string {
		if k == "HAWIZ_TSIG_KEY" {
			return tsigName + ":" + tsigSecret
		}
		return ""
	}
	if _, err := steps.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if got := x.addrs(x.s); got != "10.0.0.11" {
		t.Errorf("the secondary holds %q after the rollback", got)
	}
	x.noSecret(t)
}
