//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// noForwardHost returns the index of the first lab host whose sshd forbids
// TCP forwarding (lab/sshd.sh with HAWIZ_LAB_NOFORWARD), or skips.
func noForwardHost(t *testing.T, l *Lab, n int) int {
	t.Helper()
	for _, f := range strings.Fields(l.Env["HAWIZ_LAB_NOFORWARD"]) {
		if i, err := strconv.Atoi(f); err == nil && i >= 1 && i <= n {
			return i - 1
		}
	}
	t.Skipf("no lab host among the first %d forbids TCP forwarding: start the lab with HAWIZ_LAB_NOFORWARD=2", n)
	return 0
}

// refusedForwards counts the forwards host i's sshd refused, from its log.
func refusedForwards(t *testing.T, l *Lab, i int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.Dir, "hosts", l.Names[i], "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "refused local port forward")
}

// Issue 16 item 6: a Micetro HA start on a cluster where one member's sshd
// has AllowTcpForwarding no. The proofs that Central listens on 1231 run on
// that host (its /proc/net/tcp) instead of through forwards; the run
// completes, and that sshd sees a handful of refused forwards (the first
// one switches the host; the run's state records it for every resume), not
// one every 20 ms for a minute per start.
func TestNoForwardMicetroHA(t *testing.T) {
	m := setupMicetro(t, 3)
	k := noForwardHost(t, m.Lab, 3)
	before := refusedForwards(t, m.Lab, k)
	a := m.haAnswers()
	t0 := time.Now()
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", a, "--yes", "--state", m.state)
	confirmed := m.drive(code, evs, stderr)
	refused := refusedForwards(t, m.Lab, k) - before
	t.Logf("HA run with %s forbidding forwarding: %v wall, %d hawiz invocations, %d refused forwards in its sshd log",
		m.Names[k], time.Since(t0).Round(time.Millisecond), len(confirmed)+1, refused)
	for i := 0; i < 3; i++ {
		if got := m.read(i, mmPrefs); got != m.wantPrefs(i) {
			t.Errorf("%s: preferences.cfg\n%s", m.Names[i], got)
		}
		m.checkRunning(i)
	}
	if m.serviceCalls(k) == 0 {
		t.Errorf("%s: Central was never started or stopped", m.Names[k])
	}
	if refused > len(confirmed)+1 {
		t.Errorf("%s: %d refused forwards over %d hawiz invocations, want at most one each", m.Names[k], refused, len(confirmed)+1)
	}
	// The no-op second run proves "running" on that host again, on the host.
	code, _, stderr = m.hawiz(nil, "run", "micetro-central-ha", "-a", a, "--yes", "--state", m.state, "--confirm", "members-already-in-ha")
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, stderr)
	}
	if n := refusedForwards(t, m.Lab, k) - before - refused; n > 1 {
		t.Errorf("second run: %d refused forwards", n)
	}
}
