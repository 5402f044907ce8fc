//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/lab/standins/appdb"
)

// Issue 16 item 10 on the lab: the hawiz binary reads the live App DB
// configuration through lab1's SSH connection (appdb.live_via: server, the
// default) from wire-protocol stand-in members (lab/standins/appdb: hello,
// SCRAM-SHA-256, replSetGetConfig, member tags, arbiters) listening on this
// machine's loopback, which the lab hosts share.

// startLabAppDB starts one stand-in per member on 127.0.0.1 (arbiters
// where the member says so) and returns the URI listing them in order.
func startLabAppDB(t *testing.T, members ...appdb.Member) string {
	t.Helper()
	var lns []net.Listener
	var hosts []string
	for i := range members {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		members[i].Host = ln.Addr().String()
		hosts = append(hosts, members[i].Host)
	}
	cfg := appdb.ReplSetConfig("appdb", 9, members...)
	for i, ln := range lns {
		var s *appdb.Server
		if members[i].Arbiter {
			s = appdb.ServeArbiter(ln, cfg)
		} else {
			s = appdb.Serve(ln, "opsmanager", omPassword, cfg)
		}
		t.Cleanup(func() { s.Close() })
	}
	return "mongodb://" + strings.Join(hosts, ",") + "/?maxPoolSize=100"
}

// liveAnswers are the lab's opsmanager-ha answers with the live check
// required and no appdb.members: the live set alone is judged.
func (o *omLab) liveAnswers(name, uri string) string {
	o.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\nservers:\n", o.User, o.Key, o.knownHostsCopy(o.t))
	for i := 0; i < o.n; i++ {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    install: package\n", o.Names[i], o.Addrs[i], o.Port)
	}
	fmt.Fprintf(&b, "appdb:\n  uri: %s\n  username: opsmanager\n  live_check: required\n", uri)
	fmt.Fprintf(&b, "load_balancer:\n  url: %s\nstart_timeout: 60s\ngen_key:\n  mode: generate\n", o.lbURL)
	p := filepath.Join(o.dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		o.t.Fatal(err)
	}
	return p
}

func dcTag(name string) map[string]string { return map[string]string{"dc": name} }

// A live set split 2 + 2 votes between the facilities east and west (member
// tag dc), appdb.members left out: refused at check-appdb-replica-set,
// before any server's conf-mms.properties is written or anything starts.
func TestOpsManagerHALiveSplitAppDBRefusedNothingTouched(t *testing.T) {
	o := setupOM(t, 2, false)
	uri := startLabAppDB(t,
		appdb.Member{Votes: 1, Priority: 1, Tags: dcTag("east")},
		appdb.Member{Votes: 1, Priority: 1, Tags: dcTag("east")},
		appdb.Member{Votes: 1, Priority: 1, Tags: dcTag("west")},
		appdb.Member{Votes: 1, Priority: 1, Tags: dcTag("west")},
	)
	a := o.liveAnswers("split.yaml", uri)
	var before []string
	for i := 0; i < o.n; i++ {
		c, _ := o.sh(i, "sudo sha256sum /opt/mongodb/mms/conf/conf-mms.properties")
		before = append(before, c)
	}
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	out := stderr + evString(evs)
	if code != 1 || !strings.Contains(out, `facility "east" holds 2 of 4 votes`) || !strings.Contains(out, "configure-application-high-availability") {
		t.Fatalf("want exit 1 (the step failed in verify) refusing the split set, got %d:\n%s", code, out)
	}
	if n := count(evs, "apply"); n != 0 {
		t.Errorf("%d applies before the refusal", n)
	}
	for i := 0; i < o.n; i++ {
		if c, _ := o.sh(i, "sudo sha256sum /opt/mongodb/mms/conf/conf-mms.properties"); c != before[i] {
			t.Errorf("%s: conf-mms.properties changed", o.Names[i])
		}
		if o.running(i) {
			t.Errorf("%s: Ops Manager was started", o.Names[i])
		}
		if _, code := o.sh(i, "sudo test -e /etc/mongodb-mms/gen.key"); code == 0 {
			t.Errorf("%s: a gen.key was placed", o.Names[i])
		}
	}
}

// An arbiter first in the URI is skipped (its hello says arbiterOnly), so
// the verdict is the data members' configuration: the placement holds and
// the procedure runs to the end.
func TestOpsManagerHALiveArbiterFirstPasses(t *testing.T) {
	o := setupOM(t, 2, false)
	uri := startLabAppDB(t,
		appdb.Member{Votes: 1, Arbiter: true, Tags: dcTag("third")},
		appdb.Member{Votes: 1, Priority: 2, Tags: dcTag("east")},
		appdb.Member{Votes: 1, Priority: 1, Tags: dcTag("east")},
		appdb.Member{Votes: 1, Priority: 0, Tags: dcTag("west")},
		appdb.Member{Votes: 1, Priority: 1, Tags: dcTag("east")},
	)
	a := o.liveAnswers("arbiter.yaml", uri)
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	var ev strings.Builder
	for _, e := range evs {
		if e.Step == "check-appdb-replica-set" {
			ev.WriteString(e.Message + "\n" + e.Evidence + "\n")
		}
	}
	arb := strings.TrimPrefix(strings.SplitN(uri, ",", 2)[0], "mongodb://")
	for _, want := range []string{"arbiters not asked: " + arb, `placement holds by the member tag "dc": east 3/5 votes`, "through " + o.Names[0] + "'s SSH connection"} {
		if !strings.Contains(ev.String(), want) {
			t.Errorf("want %q in the App DB step's evidence:\n%s", want, ev.String())
		}
	}
	for i := 0; i < o.n; i++ {
		if !o.running(i) {
			t.Errorf("%s: not running", o.Names[i])
		}
	}
}
