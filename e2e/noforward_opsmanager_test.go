//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// Issue 16 item 6, Ops Manager: opsmanager-ha with one server whose sshd
// forbids TCP forwarding (HAWIZ_LAB_NOFORWARD=2). Preflight says so and
// that /monitor/health is asked with curl on that host; the run completes
// (both servers healthy through the LB) and that sshd logs at most one
// refused forward for the run, not one per health poll.
func TestNoForwardOpsManagerHA(t *testing.T) {
	l := needLab(t)
	k := noForwardHost(t, l, 2)
	o := setupOM(t, 2, false)
	before := refusedForwards(t, o.Lab, k)
	t0 := time.Now()
	a := o.answers("ha.yaml", "  mode: first-server\n", "")
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	if code != 0 {
		t.Fatalf("ha: exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	refused := refusedForwards(t, o.Lab, k) - before
	t.Logf("opsmanager-ha with %s forbidding forwarding: %v wall, %d refused forwards in its sshd log", o.Names[k], time.Since(t0).Round(time.Millisecond), refused)
	if refused > 1 {
		t.Errorf("%s: %d refused forwards, want at most one", o.Names[k], refused)
	}
	said := false
	for _, e := range evs {
		if e.Step == "preflight-servers" && strings.Contains(e.Evidence, o.Names[k]+": sshd refuses TCP forwarding (AllowTcpForwarding no): ports and health URLs are checked by commands run on the host (HTTP with curl)") {
			said = true
		}
	}
	if !said {
		t.Errorf("the preflight does not say %s refuses forwarding and uses curl:\n%s", o.Names[k], evString(evs))
	}
	for i := 0; i < 2; i++ {
		if !o.running(i) {
			t.Errorf("%s: Ops Manager not running", o.Names[i])
		}
	}
}
