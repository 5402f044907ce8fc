package opsmanager

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A server that cannot reach an App DB member of appdb.uri stops the run
// in preflight, naming the server and the member, before anything changes
// (no conf-mms.properties written, no server started).
func TestHAPreflightAppDBUnreachableStopsTheRun(t *testing.T) {
	w := newWorld(t, 2, false)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	names := []string{"db1.appdb.test:27017", "db2.appdb.test:27017", "db3.appdb.test:27017"}
	var live []net.Listener
	for _, n := range names[:2] {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		live = append(live, ln)
		w.appdbNet[n] = ln.Addr().String()
	}
	w.appdbNet[names[2]] = deadAddr
	w.appdbExtra = "  live_check: try\n  live_timeout: 500ms\n"
	var before []string
	for i := range w.servers {
		b, _ := os.ReadFile(filepath.Join(w.inst(i), "conf", "conf-mms.properties"))
		before = append(before, string(b))
	}
	_, err, rec := w.run(t, w.answers("mongodb://"+strings.Join(names, ",")+"/", "  mode: generate\n"), filepath.Join(w.dir, "s.json"), false, nil)
	if err == nil {
		t.Fatalf("run passed with an App DB member unreachable\n%s", rec)
	}
	out := err.Error() + rec.String()
	for _, want := range []string{"preflight", "om1 cannot reach db3.appdb.test:27017 (App DB member db3.appdb.test:27017)", "om2 cannot reach db3.appdb.test:27017", "nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"om1 cannot reach db1", "om2 cannot reach db2"} {
		if strings.Contains(out, bad) {
			t.Errorf("a reachable member was reported: %q", bad)
		}
	}
	for i := range w.servers {
		b, _ := os.ReadFile(filepath.Join(w.inst(i), "conf", "conf-mms.properties"))
		if string(b) != before[i] {
			t.Errorf("om%d: conf-mms.properties changed", i+1)
		}
		if addr := w.serveAddr(i); addr != "" {
			t.Errorf("om%d: started (%s)", i+1, addr)
		}
	}
}
