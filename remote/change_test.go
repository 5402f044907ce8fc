package remote

import (
	"os"
	"path/filepath"
	"testing"
)

// RunService runs the caller's own command for a service action and, with
// a change hook set, tells it the state before and after, with the
// manager a rollback acts with; without a hook it is Run.
func TestRunServiceReportsChange(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	h := l.connect(l.opts(), s).Host("web1")
	ctx := ctxT(t)
	// svc.on exists while the service runs; status exits 3 when it does not.
	script := `case $0 in start) touch svc.on;; stop) rm -f svc.on;; status) test -e svc.on || exit 3;; *) exit 2;; esac`
	m := ServiceManager{Kind: "command", Command: []string{"sh", "-c", script, "{action}"}, IsActive: []string{"sh", "-c", script, "status"}}
	start := Cmd{Program: "sh", Args: []string{"-c", "echo starting; touch svc.on"}}
	var got []Change
	if _, err := h.RunService(ctx, m, "svc", ServiceStart, false, start); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatal("reported without a hook")
	}
	os.Remove(filepath.Join(s.Root(), "svc.on"))
	h.OnChange(func(c Change) { got = append(got, c) })
	res, err := h.RunService(ctx, m, "svc", ServiceStart, false, start)
	if err != nil || string(res.Stdout) != "starting\n" {
		t.Fatalf("%q %v", res.Stdout, err)
	}
	if _, err := h.RunService(ctx, m, "svc", ServiceIsActive, false, Cmd{Program: "true"}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("changes %+v, want one", got)
	}
	c := got[0]
	if c.Host != "web1" || c.Service != "svc" || c.Action != ServiceStart || !c.StateKnown || c.WasActive || !c.Active || c.Manager.Kind != "command" {
		t.Fatalf("%+v", c)
	}
	// A rollback acts with the manager reported: stop.
	if active, err := h.Service(ctx, c.Manager, "svc", ServiceStop, false); err != nil || active {
		t.Fatalf("stop with the reported manager: %v %v", active, err)
	}
}
