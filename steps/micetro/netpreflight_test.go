package micetro

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
)

// A member that cannot reach the database server named in the answers
// stops the run in preflight, naming the member and the target, before
// anything changes; with the server reachable the preflight passes and its
// evidence names each probe.
func TestHAPreflightDatabaseUnreachableStopsTheRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gone, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := gone.Addr().(*net.TCPAddr).Port
	gone.Close()
	dead := "127.0.0.1:" + strconv.Itoa(closed)
	w, _, _, e, list := setup(t, 2, func(a *HAAnswers) { a.Database = dead })
	_, err = runSteps(context.Background(), e, list)
	if err == nil || !strings.Contains(err.Error(), "preflight") {
		t.Fatalf("err = %v, want a preflight failure", err)
	}
	for _, want := range []string{"central1 cannot reach " + dead + " (the database server)", "central2 cannot reach " + dead, "nothing was changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, h := range w.hosts {
		if log := h.systemctlLog(); strings.Contains(log, "start") || strings.Contains(log, "stop") {
			t.Fatalf("%s: touched the service: %s", h.name, log)
		}
		if strings.Contains(h.prefs(), "ClusterMemberName") {
			t.Fatalf("%s: preferences.cfg changed", h.name)
		}
	}

	_, _, _, e2, list2 := setup(t, 2, func(a *HAAnswers) { a.Database = ln.Addr().String() })
	_, ev, err := list2[0].Check(context.Background(), e2, "")
	if err != nil {
		t.Fatalf("preflight with the database reachable: %v", err)
	}
	if !strings.Contains(ev, "central2 → "+ln.Addr().String()+" (the database server): connected") {
		t.Fatalf("evidence lacks the probe:\n%s", ev)
	}
}

// The answers' database field is validated before any connection.
func TestDatabaseFieldValidated(t *testing.T) {
	for _, bad := range []string{"db1", "db1:0", "db1:x", "$(id):5432", "db 1:5432", "-oX:5432"} {
		w := newWorld(t, "central1", "central2")
		a := w.answers()
		a.Database = bad
		if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "database") {
			t.Fatalf("database %q: %v", bad, err)
		}
	}
}
