package opsmanager

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
	"github.com/hawiz/hawiz/steps"
)

// Issue 16 item 5, Ops Manager: a server added to a deployment that is
// already HA gets the deployment's gen.key and starts; the servers already
// in the deployment are left alone (no write, no stop, no restart), and
// when one of them does need a change it is restarted only after the new
// server is proven healthy, one at a time.

// switchLB is one LB URL whose pool the test sets per run (the operator
// adds the new server to the LB's pool before the run that adds it).
type switchLB struct{ cur atomic.Pointer[omstandin.LB] }

func (s *switchLB) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.cur.Load().ServeHTTP(w, r) }

// pool makes the LB balance over om1..om<n>.
func (s *switchLB) pool(w *world, n int) {
	var be []string
	for i := range n {
		be = append(be, fmt.Sprintf("om%d", i+1))
	}
	s.cur.Store(&omstandin.LB{Backends: be, Resolve: func(b string) string {
		var i int
		fmt.Sscanf(b, "om%d", &i)
		return w.serveAddr(i - 1)
	}})
}

// addWorld is a world of n servers behind a switchable LB (extra: more
// LB URLs serving the same pool).
func addWorld(t *testing.T, n, extra int) (*world, *switchLB, []string) {
	w := newWorld(t, n, false)
	lb := &switchLB{}
	var urls []string
	for range 1 + extra {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: lb}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		urls = append(urls, "http://"+ln.Addr().String())
	}
	w.lbURL = urls[0]
	return w, lb, urls
}

// answersFirst are the answers naming only the first n servers.
func (w *world) answersFirst(n int, genKey string) string {
	v := *w
	v.servers = w.servers[:n]
	return v.answers("", genKey)
}

// serverSnap is what must not move on a server left alone.
type serverSnap struct {
	pid           int
	conf          []byte
	confMT, keyMT time.Time
	key           string
}

func (w *world) snap(t *testing.T, i int) serverSnap {
	t.Helper()
	s := serverSnap{pid: omstandin.Running(mustConfig(t, w.inst(i))), key: fileSHA(t, w.keyPath(i))}
	var err error
	if s.conf, err = os.ReadFile(w.confPath(i)); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(w.confPath(i))
	if err != nil {
		t.Fatal(err)
	}
	s.confMT = st.ModTime()
	if st, err = os.Stat(w.keyPath(i)); err != nil {
		t.Fatal(err)
	}
	s.keyMT = st.ModTime()
	return s
}

// untouched checks that server i is as before and that the run's
// transcript holds no write and no service start/stop on it.
func (w *world) untouched(t *testing.T, i int, before serverSnap, state string, from int) {
	t.Helper()
	name := fmt.Sprintf("om%d", i+1)
	after := w.snap(t, i)
	if before.pid == 0 || after.pid != before.pid {
		t.Errorf("%s: Ops Manager pid %d → %d: it was stopped or restarted", name, before.pid, after.pid)
	}
	if !bytes.Equal(after.conf, before.conf) || !after.confMT.Equal(before.confMT) {
		t.Errorf("%s: conf-mms.properties was written", name)
	}
	if after.key != before.key || !after.keyMT.Equal(before.keyMT) {
		t.Errorf("%s: gen.key was written", name)
	}
	for _, a := range transcriptActions(t, state, name)[from:] {
		if a.Action == "write" || a.Action == "run" && (strings.Contains(a.Detail, "mongodb-mms start") || strings.Contains(a.Detail, "mongodb-mms stop") || strings.Contains(a.Detail, "mongodb-mms restart")) {
			t.Errorf("%s: the run did %s %s", name, a.Action, a.Detail)
		}
	}
}

type trAction struct{ Step, Host, Action, Detail string }

func transcriptActions(t *testing.T, state, host string) []trAction {
	t.Helper()
	b, err := os.ReadFile(steps.TranscriptPath(state))
	if err != nil {
		t.Fatal(err)
	}
	var out []trAction
	for _, l := range strings.Split(string(b), "\n") {
		var a trAction
		if json.Unmarshal([]byte(l), &a) == nil && (host == "" || a.Host == host) {
			a.Detail = strings.ReplaceAll(a.Detail, "'", "") // ShJoin's quotes
			out = append(out, a)
		}
	}
	return out
}

// A finished 2-server deployment gets a third server (fresh state): om1
// and om2 are recognised as in the deployment and left alone; om3 gets
// the same gen.key, starts, is healthy and serves through the LB. A re-run
// with the same three servers (on the finished state) changes nothing.
func TestHAAddServerLeavesDeploymentAlone(t *testing.T) {
	w, lb, _ := addWorld(t, 3, 0)
	lb.pool(w, 2)
	gk := "  mode: first-server\n  backup_to: " + filepath.Join(w.dir, "backup", "gen.key") + "\n"
	two := w.answersFirst(2, gk)
	if _, err, rec := w.run(t, two, filepath.Join(w.dir, "two.json"), false, nil); err != nil {
		t.Fatalf("2-server run: %v\n%s", err, rec)
	}
	before := []serverSnap{w.snap(t, 0), w.snap(t, 1)}
	lb.pool(w, 3)
	state := filepath.Join(w.dir, "three.json")
	three := w.answers("", gk)
	if _, err, rec := w.run(t, three, state, false, nil); err != nil {
		t.Fatalf("3-server run: %v\n%s", err, rec)
	} else {
		out := rec.String()
		if !strings.Contains(out, "already in the deployment (left alone: no write, no stop, no restart): om1, om2; added: om3") {
			t.Errorf("preflight does not say which servers are left alone:\n%s", out)
		}
		for _, e := range rec.events {
			if e.Kind == steps.EventApply && e.Host != "om3" {
				t.Errorf("applied %s on %s", e.Step, e.Host)
			}
		}
		if !strings.Contains(out, "tagged requests found in each server's access log: om1 ") || strings.Contains(out, "om3 0,") || strings.Contains(out, "om3 0 ") {
			t.Errorf("om3 not proven through the LB:\n%s", out)
		}
	}
	for i := range 2 {
		w.untouched(t, i, before[i], state, 0)
	}
	if got := fileSHA(t, w.keyPath(2)); got != before[0].key {
		t.Errorf("om3 gen.key sha256 %s, the deployment's is %s", short(got), short(before[0].key))
	}
	if st, err := os.Stat(w.keyPath(2)); err != nil || st.Mode().Perm() != 0o600 || st.Size() != GenKeySize {
		t.Errorf("om3 gen.key: %v %v", st, err)
	}
	if !omstandin.Healthy(mustConfig(t, w.inst(2))) {
		t.Error("om3 is not running and healthy")
	}
	log, _ := os.ReadFile(filepath.Join(w.inst(2), "logs", "mms0-startup.log"))
	if bytes.Contains(log, []byte("Generated a new gen.key")) {
		t.Error("om3 created a key of its own")
	}
	// Re-run on the finished state: nothing applied, nobody restarted.
	before = []serverSnap{w.snap(t, 0), w.snap(t, 1), w.snap(t, 2)}
	var seen []int
	for i := range 3 {
		seen = append(seen, len(transcriptActions(t, state, fmt.Sprintf("om%d", i+1))))
	}
	_, err, rec := w.run(t, three, state, false, nil)
	if err != nil || rec.count(steps.EventApply) != 0 {
		t.Fatalf("re-run: %v, %d applies\n%s", err, rec.count(steps.EventApply), rec)
	}
	for i := range 3 {
		w.untouched(t, i, before[i], state, seen[i])
	}
}

// The servers in place were configured by hand: the same LB URL and
// header spelled otherwise (scheme and host case, an explicit "/" path,
// the header name's case). They mean the answers' values: no write, no
// restart. Before: both files were rewritten and om1, om2 restarted.
func TestHAAddServerSameMeaningNotRewritten(t *testing.T) {
	w, lb, _ := addWorld(t, 3, 0)
	lb.pool(w, 2)
	if _, err, rec := w.run(t, w.answersFirst(2, "  mode: first-server\n"), filepath.Join(w.dir, "two.json"), false, nil); err != nil {
		t.Fatalf("2-server run: %v\n%s", err, rec)
	}
	respelled := strings.Replace(w.lbURL, "http://", "HTTP://", 1) + "/"
	for i := range 2 {
		b, _ := os.ReadFile(w.confPath(i))
		s := strings.Replace(string(b), "mms.centralUrl="+w.lbURL+"\n", "mms.centralUrl="+respelled+"\n", 1)
		s = strings.Replace(s, "mms.remoteIp.header=X-Forwarded-For\n", "mms.remoteIp.header=x-forwarded-for\n", 1)
		if s == string(b) {
			t.Fatalf("om%d: conf lines not found:\n%s", i+1, b)
		}
		os.WriteFile(w.confPath(i), []byte(s), 0o640)
	}
	before := []serverSnap{w.snap(t, 0), w.snap(t, 1)}
	lb.pool(w, 3)
	state := filepath.Join(w.dir, "three.json")
	_, err, rec := w.run(t, w.answers("", "  mode: first-server\n"), state, false, nil)
	if err != nil {
		t.Fatalf("3-server run: %v\n%s", err, rec)
	}
	for i := range 2 {
		w.untouched(t, i, before[i], state, 0)
	}
	if !strings.Contains(rec.String(), "om1: mms.centralUrl means "+w.lbURL+" already") {
		t.Errorf("the check does not say the value already means the answers':\n%s", rec)
	}
	if !omstandin.Healthy(mustConfig(t, w.inst(2))) || fileSHA(t, w.keyPath(2)) != before[0].key {
		t.Error("om3 not added")
	}
}

// mms.centralUrl changes (a new LB URL) while om3 is added: om1 and om2
// need a restart. om3 starts first and is proven healthy; then om1 and om2
// are restarted one at a time, each only while every other server runs
// and is healthy; the LB check comes last. Before: om1 was restarted by
// start-first-server before om3 had even started.
func TestHAAddServerRestartsChangedOneAtATimeAfterNew(t *testing.T) {
	w, lb, urls := addWorld(t, 3, 1)
	lb.pool(w, 2)
	if _, err, rec := w.run(t, w.answersFirst(2, "  mode: first-server\n"), filepath.Join(w.dir, "two.json"), false, nil); err != nil {
		t.Fatalf("2-server run: %v\n%s", err, rec)
	}
	pids := []int{omstandin.Running(mustConfig(t, w.inst(0))), omstandin.Running(mustConfig(t, w.inst(1)))}
	lb.pool(w, 3)
	w.lbURL = urls[1]
	state := filepath.Join(w.dir, "three.json")
	_, err, rec := w.run(t, w.answers("", "  mode: first-server\n"), state, false, nil)
	if err != nil {
		t.Fatalf("3-server run: %v\n%s", err, rec)
	}
	for i := range 3 {
		p := ParseProps(w.confs(t)[i])
		if v, _ := p.Get(KeyCentralURL); v != urls[1] {
			t.Errorf("om%d centralUrl %q", i+1, v)
		}
		if !omstandin.Healthy(mustConfig(t, w.inst(i))) {
			t.Errorf("om%d not healthy", i+1)
		}
	}
	for i, p := range pids {
		if omstandin.Running(mustConfig(t, w.inst(i))) == p {
			t.Errorf("om%d was not restarted to read its new mms.centralUrl", i+1)
		}
	}
	// The order of the service calls: om3 starts (and is verified) before
	// any existing server stops; om1 is back before om2 stops.
	var seq []string
	for _, a := range transcriptActions(t, state, "") {
		if a.Action != "run" {
			continue
		}
		for _, v := range []string{"start", "stop"} {
			if strings.HasSuffix(a.Detail, "mongodb-mms "+v) {
				seq = append(seq, a.Host+" "+v)
			}
		}
	}
	if got, want := strings.Join(seq, ", "), "om3 start, om1 stop, om1 start, om2 stop, om2 start"; got != want {
		t.Errorf("service calls: %s\nwant %s", got, want)
	}
	var order []string
	for _, e := range rec.events {
		if e.Kind == steps.EventHostDone && (e.Step == StepStartOthers && e.Host == "om3" || e.Step == StepRestartChanged) || e.Kind == steps.EventStepStart && e.Step == StepVerifyLB {
			order = append(order, e.Step+"/"+e.Host)
		}
	}
	if got, want := strings.Join(order, " "), StepStartOthers+"/om3 "+StepRestartChanged+"/om1 "+StepRestartChanged+"/om2 "+StepVerifyLB+"/"; got != want {
		t.Errorf("verified: %s\nwant %s\n%s", got, want, rec)
	}
}
