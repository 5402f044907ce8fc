//go:build e2e

package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

// refLine is a line of the plan ("doc:   …"), the evidence report
// ("Reference: …") or an event that cites a document.
var refLine = regexp.MustCompile(`(?m)^\s*(?:doc:|Reference:)\s*(.+)$`)

// checkOperatorRefs fails t unless every reference what (the plan, the
// evidence report, the events) shows an operator is "URL (section)" on the
// vendor's site, and nothing in it carries an internal code. It returns how
// many references it checked.
func checkOperatorRefs(t *testing.T, label, what, site string) int {
	t.Helper()
	n := 0
	for _, m := range refLine.FindAllStringSubmatch(what, -1) {
		steptest.CheckRef(t, label, strings.TrimSpace(m[1]), site)
		n++
	}
	for _, line := range strings.Split(what, "\n") {
		if c := steptest.InternalCode(line); c != "" {
			t.Errorf("%s: %q carries the internal code %q", label, line, c)
		}
	}
	return n
}

// operatorRefs checks the plan and, after a run with state, its evidence
// report and events: every reference an operator sees can be opened.
func operatorRefs(t *testing.T, site string, plan, state string, evs []event, stderr string) {
	t.Helper()
	n := checkOperatorRefs(t, "plan", plan, site)
	ev, err := os.ReadFile(steps.EvidencePath(state))
	if err != nil {
		t.Fatalf("evidence report: %v", err)
	}
	n += checkOperatorRefs(t, "evidence report", string(ev), site)
	var b strings.Builder
	for _, e := range evs {
		if e.Kind != "output" { // the hosts' own output is not hawiz's text
			b.WriteString(e.Message + "\n" + e.Evidence + "\n")
		}
	}
	n += checkOperatorRefs(t, "events and stderr", b.String()+stderr, site)
	if n < 5 {
		t.Errorf("only %d references seen in the plan and evidence report", n)
	}
	t.Logf("%d references checked (plan, evidence report, events)", n)
}
