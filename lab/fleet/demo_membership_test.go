package fleet

import (
	"strings"
	"testing"
)

// The demos of issue 19 item 2's procedures: each starts from the HA
// cluster state its procedure needs and runs to the end.

func wantAll(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestDemoPlainMicetroRemoveMember(t *testing.T) {
	out := runPlain(t, Options{Procedure: "micetro-remove-member", Members: 3, Seed: 3})
	wantAll(t, out,
		"the demo confirms this manual step itself: Remove \"central3\" from the High Availability list",
		"delete central.demo.hawiz.test A 192.0.2.13 (prerequisite: it holds exactly [192.0.2.11 192.0.2.12 192.0.2.13])",
		"central.demo.hawiz.test. holds no record for 192.0.2.13 on every authoritative server",
		"remove-cluster-member-name central3: verify: holds",
		"central3: service mmcentral is not active",
		"hawiz: done after")
}

func TestDemoPlainMicetroChangeActive(t *testing.T) {
	out := runPlain(t, Options{Procedure: "micetro-change-active", Members: 3, Seed: 3})
	wantAll(t, out,
		"the demo confirms this manual step itself: Make \"central2\" the Active member (Set Active)",
		"central2 runs Central",
		"central3 with priority 35",
		"hawiz: done after")
}

// With two members the change-active demo makes the second Active and
// gives it a new priority; the remove demo takes it out.
func TestDemoPlainMembershipTwoMembers(t *testing.T) {
	wantAll(t, runPlain(t, Options{Procedure: "micetro-change-active", Members: 2, Seed: 4}), "central2 with priority 25", "hawiz: done after")
	wantAll(t, runPlain(t, Options{Procedure: "micetro-remove-member", Members: 2, Seed: 4}), "holds no record for 192.0.2.12", "hawiz: done after")
}

func TestDemoPlainOpsManagerRemoveServer(t *testing.T) {
	out := runPlain(t, Options{Procedure: "opsmanager-remove-server", Members: 3, Seed: 3})
	wantAll(t, out,
		"[1/4] demo-set-up-ha: verify: holds — opsmanager-ha finished on the demo servers",
		"take-server-out-of-pool: check: not done",
		"the demo took om3 out of its load balancer's pool",
		"om3 0 (none reached om3)",
		"om3: not running; om1: running",
		"hawiz: done after")
	if strings.Contains(out, DemoAppDBPassword) {
		t.Errorf("the App DB password is in the output")
	}
}
