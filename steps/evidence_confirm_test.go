package steps_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

// tuiOp answers as the TUI does (steps.AnswerSource "tui"): it accepts the
// host keys, does the manual step's work and confirms it, answers yes.
type tuiOp struct{ root string }

func (tuiOp) AnswersBy() string { return steps.ByTUI }
func (tuiOp) ConfirmHostKeys(_ context.Context, keys []remote.NewHostKey) (map[string]bool, error) {
	m := map[string]bool{}
	for _, k := range keys {
		m[k.Host] = true
	}
	return m, nil
}
func (o tuiOp) ConfirmManual(context.Context, *steps.Step, string) error {
	return os.WriteFile(filepath.Join(o.root, "manual.txt"), []byte("x"), 0o644)
}
func (tuiOp) Confirm(context.Context, string, bool) (bool, error) { return true, nil }
func (tuiOp) Secret(context.Context, string, string) (string, error) {
	return "", steps.ErrWaitingForOperator
}
func (tuiOp) Failure(context.Context, *steps.Step, string, error) (steps.FailureChoice, error) {
	return steps.Quit, nil
}
func (tuiOp) Wait(ctx context.Context, _ string, poll func(context.Context) (bool, string, error)) error {
	ok, _, err := poll(ctx)
	if err == nil && !ok {
		err = steps.ErrWaitingForOperator
	}
	return err
}

// askingProcedure is the test procedure with a last step that asks a
// yes/no question, as the DNS UPDATE and gen.key backup steps do.
func askingProcedure() *steps.Procedure {
	p := steptest.Procedure()
	inner := p.Steps
	p.Steps = func(a steps.Answers) ([]*steps.Step, error) {
		list, err := inner(a)
		return append(list, &steps.Step{ID: "ask-first", Title: "Ask before going on",
			Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
				yes, err := e.Operator().Confirm(ctx, "Send the DNS UPDATE for ha.example.test?", true)
				if err == nil && !yes {
					err = errors.New("declined")
				}
				return "asked", err
			}}), err
	}
	return p
}

func askingConfig(t *testing.T, l *steptest.Lab, state string) steps.RunConfig {
	t.Helper()
	cfg := l.Config(t, state, "")
	cfg.Procedure = askingProcedure()
	a, err := steps.LoadAnswers(cfg.Procedure, l.AnswersYAML("manual: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Answers = a
	return cfg
}

func readEvidence(t *testing.T, state string) string {
	t.Helper()
	b, err := os.ReadFile(steps.EvidencePath(state))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hostKeyRow is the evidence report's row for a lab server's host key.
func hostKeyRow(t *testing.T, l *steptest.Lab, i int, host, how string) *regexp.Regexp {
	t.Helper()
	k := l.Servers[i].HostKey()
	return regexp.MustCompile(`(?m)^\| ` + host + ` \| ` + regexp.QuoteMeta("127.0.0.1:"+itoa(l.Servers[i].Port())) + ` \| ` +
		regexp.QuoteMeta(k.Type()) + ` \| ` + "`" + regexp.QuoteMeta(ssh.FingerprintSHA256(k)) + "`" + ` \| ` + regexp.QuoteMeta(how) +
		` \| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \|$`)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// The evidence report lists the host keys the run connected with (SHA256
// fingerprints as OpenSSH prints them, how each was accepted) and says how
// and when every confirmation was given: in the TUI, with --confirm, with
// --yes. The state records it; no secret is in either.
func TestEvidenceHostKeysAndConfirmations(t *testing.T) {
	l := steptest.NewLab(t)
	ctx := context.Background()

	// A run in the TUI: unknown host keys accepted there, the manual step
	// confirmed there, the question answered there.
	stA := filepath.Join(t.TempDir(), "a.json")
	cfg := askingConfig(t, l, stA)
	cfg.Operator = tuiOp{root: l.Roots[0]}
	if _, err := steps.Run(ctx, cfg); err != nil {
		t.Fatalf("TUI run: %v", err)
	}
	ev := readEvidence(t, stA)
	for i, h := range []string{"h1", "h2"} {
		if re := hostKeyRow(t, l, i, h, "not in known_hosts: accepted in the TUI"); !re.MatchString(ev) {
			t.Errorf("no host key row %s in the evidence:\n%s", re, ev)
		}
	}
	for _, re := range []string{
		`(?m)^- manual work confirmed by the operator in the TUI: \d{4}-\d\d-\d\dT`,
		`(?m)^\| ask-first \| Send the DNS UPDATE for ha\.example\.test\? \| yes \| in the TUI \| \d{4}-`,
	} {
		if !regexp.MustCompile(re).MatchString(ev) {
			t.Errorf("no %s in the evidence:\n%s", re, ev)
		}
	}
	st, err := steps.ReadState(stA)
	if err != nil {
		t.Fatal(err)
	}
	if h := st.Step("confirm-by-hand").Hosts[0]; h.ConfirmedBy != steps.ByTUI || h.Confirmed == nil {
		t.Errorf("manual step state %+v", h)
	}
	if len(st.HostKeys) != 2 || st.HostKeys[0].AcceptedBy != steps.ByTUI || len(st.Questions) != 1 || st.Questions[0].By != steps.ByTUI {
		t.Errorf("host keys %+v questions %+v", st.HostKeys, st.Questions)
	}

	// Another run, non-interactive: the keys are in known_hosts now; the
	// manual step waits, and is confirmed on resume with --confirm; --yes
	// answers the question.
	l.ResetRoots(t)
	stB := filepath.Join(t.TempDir(), "b.json")
	cfg = askingConfig(t, l, stB)
	if _, err := steps.Run(ctx, cfg); steps.ExitCode(err) != steps.ExitStopped {
		t.Fatalf("first run: %v", err)
	}
	os.WriteFile(filepath.Join(l.Roots[0], "manual.txt"), []byte("x"), 0o644)
	cfg.Answers, cfg.Resume, cfg.Confirm = nil, true, []string{"confirm-by-hand"}
	if _, err := steps.Run(ctx, cfg); err != nil {
		t.Fatalf("resume --confirm: %v", err)
	}
	ev = readEvidence(t, stB)
	for i, h := range []string{"h1", "h2"} {
		if re := hostKeyRow(t, l, i, h, "already in known_hosts"); !re.MatchString(ev) {
			t.Errorf("no host key row %s in the evidence:\n%s", re, ev)
		}
	}
	for _, re := range []string{
		`(?m)^- manual work confirmed by the operator with the --confirm flag: \d{4}-\d\d-\d\dT`,
		`(?m)^\| ask-first \| Send the DNS UPDATE for ha\.example\.test\? \| yes \| with --yes \| \d{4}-`,
	} {
		if !regexp.MustCompile(re).MatchString(ev) {
			t.Errorf("no %s in the evidence:\n%s", re, ev)
		}
	}
	if n := strings.Count(ev, "| h1 |"); n != 1 {
		t.Errorf("h1's key listed %d times (once per session?):\n%s", n, ev)
	}
	for _, f := range []string{stA, stB, steps.EvidencePath(stA), steps.EvidencePath(stB)} {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), steptest.Secret) || strings.Contains(string(b), "PRIVATE KEY") {
			t.Errorf("%s holds a secret", f)
		}
	}

	// A new run whose hosts' keys are unknown, accepted with --yes.
	os.Remove(l.KnownHosts)
	l.ResetRoots(t)
	stC := filepath.Join(t.TempDir(), "c.json")
	if _, err := steps.Run(ctx, l.Config(t, stC, "")); err != nil {
		t.Fatal(err)
	}
	if re := hostKeyRow(t, l, 0, "h1", "not in known_hosts: accepted with --yes"); !re.MatchString(readEvidence(t, stC)) {
		t.Errorf("no %s in the evidence:\n%s", re, readEvidence(t, stC))
	}
}

// A state file written before host keys, questions and how a confirmation
// was given were recorded still loads and resumes; its evidence report
// says how the confirmation was given is not recorded.
func TestOldStateWithoutConfirmationSourceLoads(t *testing.T) {
	l := steptest.NewLab(t)
	ctx := context.Background()
	state := filepath.Join(t.TempDir(), "s.json")
	cfg := l.Config(t, state, "manual: true\n")
	if _, err := steps.Run(ctx, cfg); steps.ExitCode(err) != steps.ExitStopped {
		t.Fatalf("first run: %v", err)
	}
	os.WriteFile(filepath.Join(l.Roots[0], "manual.txt"), []byte("x"), 0o644)
	cfg.Answers, cfg.Resume, cfg.Confirm = nil, true, []string{"confirm-by-hand"}
	if _, err := steps.Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// as the older hawiz wrote it: without the new fields
	b, _ := os.ReadFile(state)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "host_keys")
	delete(m, "questions")
	for _, s := range m["steps"].([]any) {
		for _, h := range s.(map[string]any)["hosts"].([]any) {
			delete(h.(map[string]any), "manual_confirmed_by")
		}
	}
	old, _ := json.MarshalIndent(m, "", "  ")
	if strings.Contains(string(old), "host_keys") || strings.Contains(string(old), "manual_confirmed_by") {
		t.Fatal("the old state still has the new fields")
	}
	os.WriteFile(state, old, 0o600)
	st, err := steps.ReadState(state)
	if err != nil {
		t.Fatalf("old state: %v", err)
	}
	if h := st.Step("confirm-by-hand").Hosts[0]; h.Confirmed == nil || h.ConfirmedBy != "" || st.HostKeys != nil {
		t.Fatalf("old state read as %+v, host keys %+v", h, st.HostKeys)
	}
	cfg.Confirm = nil
	if _, err := steps.Run(ctx, cfg); err != nil {
		t.Fatalf("resume of the old state: %v", err)
	}
	ev := readEvidence(t, state)
	if !regexp.MustCompile(`(?m)^- manual work confirmed by the operator \(how it was given is not recorded: an older hawiz\): \d{4}-`).MatchString(ev) {
		t.Errorf("evidence of the old state's confirmation:\n%s", ev)
	}
	if re := hostKeyRow(t, l, 0, "h1", "already in known_hosts"); !re.MatchString(ev) {
		t.Errorf("the resumed run's host keys are not listed (%s):\n%s", re, ev)
	}
}
