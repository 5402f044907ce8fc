package micetro

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeDateAhead makes `date +%s.%N` on h answer secs seconds ahead of the
// real clock (every other use of date is the real one).
func fakeDateAhead(t *testing.T, h *fakeHost, secs int) {
	t.Helper()
	real := "/bin/date"
	if _, err := os.Stat(real); err != nil {
		real = "/usr/bin/date"
	}
	body := "#!/bin/sh\nif [ \"$*\" = '+%s.%N' ]; then s=$(" + real + " +%s); echo \"$((s + " + strconv.Itoa(secs) + ")).000000000\"; exit 0; fi\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(h.root, "bin", "date"), []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// The upgrade's preflight measures the members' clocks with the HA
// preflight's code (memberSkew → skewProblem): a member 60s ahead stops the
// run before anything is uploaded or stopped, naming both members; clocks
// that agree pass with the skew in the evidence.
func TestUpgradePreflightClockSkew(t *testing.T) {
	w, _, e, list := upgradeSetup(t, 2)
	fakeDateAhead(t, w.hosts[1], 60)
	_, err := runSteps(context.Background(), e, list)
	if err == nil {
		t.Fatal("a member 60s ahead passed the upgrade preflight")
	}
	for _, want := range []string{"preflight", "clocks differ by", "central2 ahead of central1", "more than 5s", "nothing was changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, h := range w.hosts {
		if log := h.systemctlLog(); strings.Contains(log, "stop") || strings.Contains(log, "start") {
			t.Errorf("%s: the service was touched: %s", h.name, log)
		}
		if installs(h) != 0 {
			t.Errorf("%s: installed", h.name)
		}
	}

	_, _, e2, list2 := upgradeSetup(t, 2)
	_, ev, err := list2[0].Check(context.Background(), e2, "")
	if err != nil {
		t.Fatalf("preflight with clocks that agree: %v", err)
	}
	if !strings.Contains(ev, "clock skew between the members: ") {
		t.Fatalf("evidence lacks the skew:\n%s", ev)
	}
}
