//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
)

// Issue 16 item 5 on the lab, Ops Manager: a server added to a deployment
// that is already HA. The servers run under the lab's stand-in systemctl
// (service_manager: systemctl), whose call log
// (/var/log/hawiz-lab/systemctl.log on each host) shows every start, stop
// and restart: the servers already in the deployment get none.

// omService is the lab service definition that runs the stand-in Ops
// Manager in the foreground (`mongodb-mms run`), ready once it listens on
// 8080.
const omService = "#!/bin/sh\n# ready-port: 8080\n# start-timeout: 30\nexec /opt/mongodb/mms/bin/mongodb-mms run\n"

// poolLB is the load balancer in front of the lab's servers, its pool set
// per run (the operator adds the new server to it before the run).
type poolLB struct{ cur atomic.Pointer[omstandin.LB] }

func (p *poolLB) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.cur.Load().ServeHTTP(w, r) }

func (o *omLab) pool(p *poolLB, n int) {
	var be []string
	for i := 0; i < n; i++ {
		be = append(be, net.JoinHostPort(o.Addrs[i], "8080"))
	}
	p.cur.Store(&omstandin.LB{Backends: be})
}

// systemctlCalls are the start/stop/restart lines of host i's systemctl
// call log after its first skip lines, and the log's line count.
func (o *omLab) systemctlCalls(i, skip int) ([]string, int) {
	o.t.Helper()
	out, _ := o.sh(i, "cat /var/log/hawiz-lab/systemctl.log")
	var lines, calls []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	for _, l := range lines[min(skip, len(lines)):] {
		f := strings.Fields(l)
		if len(f) >= 3 && f[2] == "mongodb-mms" && f[1] != "is-active" && f[1] != "status" && f[1] != "is-failed" {
			calls = append(calls, f[1]+" "+f[2])
		}
	}
	return calls, len(lines)
}

// fileState is a file's hash and mtime (ns) on host i.
func (o *omLab) fileState(i int, path string) string {
	out, _ := o.sh(i, "sudo sh -c 'sha256sum "+path+" | cut -d\" \" -f1; stat -c %.9Y "+path+"'")
	return out
}

func TestOpsManagerHAAddServerLeavesDeploymentAlone(t *testing.T) {
	o := setupOM(t, 3, false)
	for i := 0; i < 3; i++ {
		if out, c := o.sh(i, "printf '%s' '"+omService+"' | sudo tee /etc/hawiz-lab/services/mongodb-mms >/dev/null && sudo chmod 0755 /etc/hawiz-lab/services/mongodb-mms"); c != 0 {
			t.Fatalf("%s: service definition: %s", o.Names[i], out)
		}
	}
	t.Cleanup(func() {
		for i := 0; i < 3; i++ {
			o.sh(i, "sudo systemctl stop mongodb-mms; sudo rm -f /etc/hawiz-lab/services/mongodb-mms")
		}
	})
	_, thirdSkip := o.systemctlCalls(2, 0) // the lab's log outlives a test
	lb := &poolLB{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: lb}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	o.lbURL = "http://" + ln.Addr().String()
	backup := filepath.Join(o.dir, "backup", "gen.key")
	gk := "  mode: first-server\n  backup_to: " + backup + "\n"
	extra := "paths:\n  service_manager: systemctl\n"

	// The deployment: lab1 and lab2, HA, set up by hawiz.
	o.pool(lb, 2)
	o.n = 2
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", o.answers("two.yaml", gk, extra), "--yes", "--state", filepath.Join(o.dir, "two.json"))
	if code != 0 {
		t.Fatalf("2-server run: exit %d\n%s\n%s", code, stderr, evString(evs))
	}
	type snap struct {
		pid, conf, key string
		log            int
	}
	take := func(i int) snap {
		pid, _ := o.sh(i, "cut -d' ' -f1 /run/hawiz-lab/mongodb-mms.pid")
		_, n := o.systemctlCalls(i, 0)
		return snap{pid: pid, conf: o.fileState(i, "/opt/mongodb/mms/conf/conf-mms.properties"), key: o.fileState(i, "/etc/mongodb-mms/gen.key"), log: n}
	}
	before := []snap{take(0), take(1)}
	for i, s := range before {
		if s.pid == "" || !o.running(i) {
			t.Fatalf("%s: not running under systemctl after the first run", o.Names[i])
		}
	}
	third, n3 := o.systemctlCalls(2, thirdSkip)
	if len(third) != 0 {
		t.Fatalf("%s was started by the 2-server run: %v", o.Names[2], third)
	}
	thirdSkip = n3

	// lab3 added to the answers and to the LB's pool: a fresh state.
	o.pool(lb, 3)
	o.n = 3
	a3 := o.answers("three.yaml", gk, extra)
	state := filepath.Join(o.dir, "three.json")
	code, evs, stderr = o.hawiz(nil, "run", "opsmanager-ha", "-a", a3, "--yes", "--state", state)
	if code != 0 {
		t.Fatalf("3-server run: exit %d\n%s\n%s", code, stderr, evString(evs))
	}
	var all strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&all, "%s %s %s %s %s\n", e.Kind, e.Step, e.Host, e.Message, e.Evidence)
		if e.Kind == "apply" && e.Host != o.Names[2] && e.Host != "" {
			t.Errorf("applied %s on %s", e.Step, e.Host)
		}
	}
	want := fmt.Sprintf("already in the deployment (left alone: no write, no stop, no restart): %s, %s; added: %s", o.Names[0], o.Names[1], o.Names[2])
	if !strings.Contains(all.String(), want) {
		t.Errorf("preflight does not say %q:\n%s", want, all.String())
	}
	for i := 0; i < 2; i++ {
		calls, _ := o.systemctlCalls(i, before[i].log)
		after := take(i)
		if len(calls) != 0 || after.pid != before[i].pid {
			t.Errorf("%s: systemctl %v, pid %s → %s: it was stopped, started or restarted", o.Names[i], calls, before[i].pid, after.pid)
		}
		if after.conf != before[i].conf || after.key != before[i].key {
			t.Errorf("%s: conf-mms.properties or gen.key written", o.Names[i])
		}
	}
	calls, _ := o.systemctlCalls(2, thirdSkip)
	if strings.Join(calls, ",") != "start mongodb-mms" {
		t.Errorf("%s: systemctl calls %v, want one start", o.Names[2], calls)
	}
	o.checkHA() // the same key (sha256) on all three, mongodb-mms 600, running, the conf lines, the LB's health
	if !strings.Contains(all.String(), "tagged requests found in each server's access log") {
		t.Errorf("no check through the LB:\n%s", all.String())
	}
	o.noSecrets(all.String(), stderr)

	// The same command again (the finished state): nothing applied, no
	// service call on any server.
	var skips []int
	for i := 0; i < 3; i++ {
		_, n := o.systemctlCalls(i, 0)
		skips = append(skips, n)
	}
	code, evs, stderr = o.hawiz(nil, "run", "opsmanager-ha", "-a", a3, "--yes", "--state", state)
	if code != 0 || count(evs, "apply") != 0 {
		t.Fatalf("re-run: exit %d, %d applies\n%s\n%s", code, count(evs, "apply"), stderr, evString(evs))
	}
	for i := 0; i < 3; i++ {
		if calls, _ := o.systemctlCalls(i, skips[i]); len(calls) != 0 {
			t.Errorf("%s: the re-run called systemctl %v", o.Names[i], calls)
		}
	}
}

// The LB URL changes (mms.centralUrl) while lab3 is added: lab1 and lab2
// must be restarted to read it. The systemctl logs' times show the order:
// lab3 starts first, then lab1 stops and starts, and only then lab2.
func TestOpsManagerHAAddServerRestartsChangedAfterNew(t *testing.T) {
	o := setupOM(t, 3, false)
	var skips []int
	for i := 0; i < 3; i++ {
		if out, c := o.sh(i, "printf '%s' '"+omService+"' | sudo tee /etc/hawiz-lab/services/mongodb-mms >/dev/null && sudo chmod 0755 /etc/hawiz-lab/services/mongodb-mms"); c != 0 {
			t.Fatalf("%s: service definition: %s", o.Names[i], out)
		}
		_, n := o.systemctlCalls(i, 0)
		skips = append(skips, n)
	}
	t.Cleanup(func() {
		for i := 0; i < 3; i++ {
			o.sh(i, "sudo systemctl stop mongodb-mms; sudo rm -f /etc/hawiz-lab/services/mongodb-mms")
		}
	})
	lb := &poolLB{}
	var urls []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: lb}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		urls = append(urls, "http://"+ln.Addr().String())
	}
	gk, extra := "  mode: first-server\n", "paths:\n  service_manager: systemctl\n"
	o.pool(lb, 2)
	o.n, o.lbURL = 2, urls[0]
	if code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", o.answers("two.yaml", gk, extra), "--yes", "--state", filepath.Join(o.dir, "two.json")); code != 0 {
		t.Fatalf("2-server run: exit %d\n%s\n%s", code, stderr, evString(evs))
	}
	for i := 0; i < 3; i++ {
		_, skips[i] = o.systemctlCalls(i, 0)
	}
	o.pool(lb, 3)
	o.n, o.lbURL = 3, urls[1]
	if code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", o.answers("three.yaml", gk, extra), "--yes", "--state", filepath.Join(o.dir, "three.json")); code != 0 {
		t.Fatalf("3-server run: exit %d\n%s\n%s", code, stderr, evString(evs))
	}
	o.checkHA() // every server: the new mms.centralUrl, the same key, running
	// Every start/stop after the first run, by time (the log's first field,
	// UTC with milliseconds: it sorts as text).
	type call struct{ at, what string }
	var seq []call
	for i := 0; i < 3; i++ {
		out, _ := o.sh(i, "cat /var/log/hawiz-lab/systemctl.log")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		for _, l := range lines[min(skips[i], len(lines)):] {
			f := strings.Fields(l)
			if len(f) >= 3 && f[2] == "mongodb-mms" && (f[1] == "start" || f[1] == "stop" || f[1] == "restart") {
				seq = append(seq, call{f[0], o.Names[i] + " " + f[1]})
			}
		}
	}
	for i := 1; i < len(seq); i++ {
		for j := i; j > 0 && seq[j].at < seq[j-1].at; j-- {
			seq[j], seq[j-1] = seq[j-1], seq[j]
		}
	}
	var got []string
	for _, c := range seq {
		got = append(got, c.what)
	}
	want := fmt.Sprintf("%[3]s start, %[1]s stop, %[1]s start, %[2]s stop, %[2]s start", o.Names[0], o.Names[1], o.Names[2])
	if strings.Join(got, ", ") != want {
		t.Errorf("service calls in time order: %s\nwant %s", strings.Join(got, ", "), want)
	}
}
