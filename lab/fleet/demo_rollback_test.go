package fleet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/tui"
)

// `hawiz demo --plain --rollback`: the demo's micetro-central-ha run goes
// to the end, then its rollback on the same fleet (the plan first; the
// demo confirms the manual undo steps, Remove Member in the UI, as it
// confirms manual steps): every member's preferences.cfg is back to its
// hash from before the run, nothing is left as it is, and the fleet is
// cleaned up as after any demo. Failed before: the demo had no rollback.
func TestDemoPlainRollbackMicetro(t *testing.T) {
	d, err := Setup(Options{Procedure: "micetro-central-ha", Members: 3, Seed: 3, Rollback: true, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	hashes := func() []string {
		var out []string
		for _, h := range d.Fleet.Hosts {
			b, err := os.ReadFile(h.PrefsPath())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %x", h.Name, sha256.Sum256(b)))
		}
		return out
	}
	before := hashes()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	oc, err := d.RunPlain(ctx, &out, tui.NewPlainRenderer(&out))
	if err != nil {
		t.Fatalf("demo: %v (status %s at %s)\n%s", err, oc.Status, oc.Step, out.String())
	}
	st, err := steps.ReadState(d.StatePath)
	if err != nil {
		t.Fatal(err)
	}
	prefs := map[string]bool{}
	for _, c := range st.Journal {
		if c.Kind == steps.ChangeFile && strings.HasSuffix(c.Path, "preferences.cfg") {
			prefs[c.Host] = true
		}
	}
	if len(prefs) != len(d.Fleet.Hosts) {
		t.Fatalf("the run changed preferences.cfg on %v, want every member", prefs)
	}
	after := hashes()
	for i := range before {
		if after[i] != before[i] {
			t.Errorf("preferences.cfg after the rollback: %s, before the run: %s", after[i], before[i])
		}
	}
	s := out.String()
	for _, want := range []string{
		"now its rollback, as `hawiz rollback --state",
		"the demo confirms this manual step itself: By hand (hawiz cannot undo it): undo step register-central3",
		"the demo confirms this manual step itself: By hand (hawiz cannot undo it): undo step register-primary",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// the round-robin name: the records the run added are taken out again,
	// verified on every authoritative server
	if !regexp.MustCompile(`undo-\d+-dns: verify: holds — central\.demo\.hawiz\.test\. holds no record for [^\n]* on every authoritative server [^\n]*as before the run`).MatchString(s) {
		t.Errorf("no verified DNS undo in the output:\n%s", s)
	}
	ev, err := os.ReadFile(steps.EvidencePath(steps.RollbackStatePath(d.StatePath)))
	if err != nil || strings.Contains(string(ev), "LEFT AS IT IS") {
		t.Errorf("the rollback's evidence (%v):\n%s", err, ev)
	}
	if testing.Verbose() {
		t.Log(s)
	}
}
