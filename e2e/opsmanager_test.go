//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
)

// The Ops Manager e2e: the hawiz binary runs opsmanager-ha and
// opsmanager-upgrade against the OpenSSH lab. Every host gets the stand-in
// Ops Manager as a real .deb (lab/standins/opsmanager: dpkg -i, the
// mongodb-mms user, /etc/init.d/mongodb-mms for `service mongodb-mms …`).
// The "Application Database" the stand-ins share is a directory in
// /dev/shm (the lab hosts' /tmp is private); each test uses its own App DB
// host names, so its own record. The load balancer is a Go reverse proxy
// on loopback started by the test (a caching variant for the refusal).

// buildOMStandin is the Ops Manager stand-in's program, built once
// (static: it runs on the lab hosts).
func buildOMStandin(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(goBuild(t, "github.com/hawiz/hawiz/lab/standins/opsmanager/mongodb-mms", "CGO_ENABLED=0"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type omLab struct {
	*Lab
	t     *testing.T
	n     int
	dir   string
	state string
	lbURL string
	uri   string
	tag   string
}

const omPassword = "e2e p@ss:w/rd#"

func (o *omLab) deb(version string) string {
	o.t.Helper()
	p := filepath.Join(o.dir, "mongodb-mms_"+version+"_amd64.deb")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	var b bytes.Buffer
	if err := omstandin.WriteDeb(&b, version, buildOMStandin(o.t)); err != nil {
		o.t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		o.t.Fatal(err)
	}
	return p
}

// setupOM installs a fresh stand-in Ops Manager 7.0.0 package (stopped,
// default conf-mms.properties, no gen.key) on the first n lab hosts and
// starts an LB in front of them.
func setupOM(t *testing.T, n int, cachingLB bool) *omLab {
	t.Helper()
	l := needLab(t)
	l.needHosts(t, n)
	o := &omLab{Lab: l, t: t, n: n, dir: t.TempDir()}
	tb := make([]byte, 4)
	rand.Read(tb)
	o.tag = hex.EncodeToString(tb)
	o.uri = fmt.Sprintf("mongodb://db1-%[1]s.lab.hawiz.test:27017,db2-%[1]s.lab.hawiz.test:27017,db3-%[1]s.lab.hawiz.test:27017/?maxPoolSize=100", o.tag)
	deb := o.deb("7.0.0")
	data, _ := os.ReadFile(deb)
	var backends []string
	for i := 0; i < n; i++ {
		o.reset(i)
		p := l.hostPath(t, i, "/tmp/mongodb-mms_7.0.0_amd64.deb")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c := l.rawClient(t, i, l.User)
		if out, errOut, code := rawRun(t, c, "sudo dpkg -i /tmp/mongodb-mms_7.0.0_amd64.deb", nil); code != 0 {
			t.Fatalf("%s: dpkg -i: %d %s %s", l.Names[i], code, out, errOut)
		}
		backends = append(backends, net.JoinHostPort(l.Addrs[i], "8080"))
	}
	t.Cleanup(func() {
		for i := 0; i < n; i++ {
			o.reset(i)
		}
		// the stand-ins' shared "App DB" records: this lab's own (a lab started
		// by an older lab/sshd.sh has them in the default directory)
		appdb := l.Env["HAWIZ_LAB_APPDB_DIR"]
		if appdb == "" {
			appdb = omstandin.DefaultAppDBDir
		}
		os.RemoveAll(appdb)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: &omstandin.LB{Backends: backends, Cache: cachingLB}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	o.lbURL = "http://" + ln.Addr().String()
	o.state = filepath.Join(o.dir, "state.json")
	return o
}

// reset stops and removes the stand-in from host i.
func (o *omLab) reset(i int) {
	c := o.rawClient(o.t, i, o.User)
	rawRun(o.t, c, "sudo /opt/mongodb/mms/bin/mongodb-mms stop >/dev/null 2>&1; sudo dpkg --purge mongodb-mms >/dev/null 2>&1; "+
		"sudo rm -rf /etc/mongodb-mms /opt/mongodb/mms "+omstandin.InstallLog+"; sudo userdel mongodb-mms >/dev/null 2>&1; true", nil)
}

func (o *omLab) answers(name, genKey, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\nservers:\n", o.User, o.Key, o.knownHostsCopy(o.t))
	for i := 0; i < o.n; i++ {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    install: package\n", o.Names[i], o.Addrs[i], o.Port)
	}
	// No mongod in the lab: the live replSetGetConfig check is covered by the
	// unit tests against an in-process wire-protocol App DB.
	fmt.Fprintf(&b, "appdb:\n  uri: %s\n  username: opsmanager\n  live_check: off\n", o.uri)
	fmt.Fprintf(&b, "load_balancer:\n  url: %s\nstart_timeout: 60s\ngen_key:\n%s%s", o.lbURL, genKey, extra)
	p := filepath.Join(o.dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		o.t.Fatal(err)
	}
	return p
}

// hawiz runs the binary with --json; onEvent may return true to SIGKILL it.
func (o *omLab) hawiz(onEvent func(event) bool, args ...string) (int, []event, string) {
	o.t.Helper()
	return hawizJSON(o.t, []string{"XDG_STATE_HOME=" + o.dir, "NO_COLOR=1", "HAWIZ_APPDB_PASSWORD=" + omPassword}, onEvent, time.Time{}, args...)
}

func count(evs []event, kind string) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func (o *omLab) sh(i int, cmd string) (string, int) {
	o.t.Helper()
	out, _, code := rawRun(o.t, o.rawClient(o.t, i, o.User), cmd, nil)
	return strings.TrimSpace(out), code
}

func (o *omLab) keySHA(i int) string {
	out, _ := o.sh(i, "sudo sha256sum /etc/mongodb-mms/gen.key 2>/dev/null | cut -d' ' -f1")
	return out
}

func (o *omLab) running(i int) bool {
	_, code := o.sh(i, "sudo service mongodb-mms status")
	return code == 0
}

// checkHA asserts the documented end state on every host.
func (o *omLab) checkHA() {
	o.t.Helper()
	k0 := o.keySHA(0)
	if len(k0) != 64 {
		o.t.Fatalf("%s: no gen.key", o.Names[0])
	}
	for i := 0; i < o.n; i++ {
		if got, _ := o.sh(i, "sudo stat -c '%s %U %a' /etc/mongodb-mms/gen.key"); got != "24 mongodb-mms 600" {
			o.t.Errorf("%s: gen.key %q, want 24 bytes, mongodb-mms, 600", o.Names[i], got)
		}
		if got := o.keySHA(i); got != k0 {
			o.t.Errorf("%s: gen.key sha256 %s, %s has %s", o.Names[i], got, o.Names[0], k0)
		}
		conf, _ := o.sh(i, "sudo grep -E '^(mongo.mongoUri|mms.centralUrl|mms.remoteIp.header)=' /opt/mongodb/mms/conf/conf-mms.properties")
		want := fmt.Sprintf("mongo.mongoUri=%s\nmms.centralUrl=%s\nmms.remoteIp.header=X-Forwarded-For",
			strings.Replace(o.uri, "mongodb://", "mongodb://opsmanager:e2e%20p%40ss%3Aw%2Frd%23@", 1), o.lbURL)
		if conf != want {
			o.t.Errorf("%s: conf-mms.properties lines\n%s\nwant\n%s", o.Names[i], conf, want)
		}
		if head, _ := o.sh(i, "sudo head -c 200 /opt/mongodb/mms/conf/conf-mms.properties"); head != strings.TrimSpace(omstandin.DefaultConf[:200]) {
			o.t.Errorf("%s: the file's comments were not kept:\n%s", o.Names[i], head)
		}
		if !o.running(i) {
			o.t.Errorf("%s: Ops Manager not running", o.Names[i])
		}
		if log, _ := o.sh(i, "sudo cat /opt/mongodb/mms/logs/mms0-startup.log"); !strings.Contains(log, "ServerMain:266 - Started in:") {
			o.t.Errorf("%s: no Started in", o.Names[i])
		}
	}
	resp, err := http.Get(o.lbURL + "/monitor/health")
	if err != nil || resp.StatusCode != 200 {
		o.t.Errorf("LB health: %v %v", resp, err)
	}
}

// noSecrets: the password (raw and URI-encoded) and gen.key never reach
// hawiz's state, transcript, evidence or output.
func (o *omLab) noSecrets(outputs ...string) {
	o.t.Helper()
	key, _ := o.sh(0, "sudo xxd -p -c 64 /etc/mongodb-mms/gen.key")
	secrets := []string{omPassword, "e2e%20p%40ss%3Aw%2Frd%23", key}
	filepath.Walk(o.dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.HasSuffix(p, ".deb") || strings.Contains(p, "gen.key") || strings.HasSuffix(p, ".yaml") {
			return nil
		}
		b, _ := os.ReadFile(p)
		outputs = append(outputs, p+"\n"+string(b))
		return nil
	})
	for _, out := range outputs {
		for _, s := range secrets {
			if s != "" && strings.Contains(out, s) {
				o.t.Errorf("a secret reached hawiz's output or files: %.80s…", out)
			}
		}
	}
}

func evString(evs []event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%s %s %s %s\n", e.Kind, e.Step, e.Host, e.Message)
	}
	return b.String()
}

func TestOpsManagerHAFullRunFirstServerKeyNoOpSecondRun(t *testing.T) {
	o := setupOM(t, 3, false)
	backup := filepath.Join(o.dir, "backup", "gen.key")
	a := o.answers("ha.yaml", "  mode: first-server\n  backup_to: "+backup+"\n", "")
	t0 := time.Now()
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	first := time.Since(t0)
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	o.checkHA()
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if st, _ := os.Stat(backup); hex.EncodeToString(sum[:]) != o.keySHA(0) || st.Mode().Perm() != 0o600 {
		t.Errorf("backup %s: not a 0600 copy of the key", backup)
	}
	var all strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&all, "%s %s %s\n", e.Message, e.Evidence, e.Status)
	}
	if !strings.Contains(all.String(), backup) {
		t.Errorf("the backup's location was not reported")
	}
	o.noSecrets(all.String(), stderr)
	_, plan := runHawiz(t, "plan", "opsmanager-ha", "-a", a)
	operatorRefs(t, "https://www.mongodb.com/docs/", plan, o.state, evs, stderr)
	// Second run (new state): every step's check says done; nothing applied.
	t0 = time.Now()
	code, evs, stderr = o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", filepath.Join(o.dir, "second.json"))
	if code != 0 || count(evs, "apply") != 0 {
		t.Fatalf("second run: exit %d, %d applies:\n%s\n%s", code, count(evs, "apply"), stderr, evString(evs))
	}
	t.Logf("opsmanager-ha on %d lab hosts: first run %s, no-op re-run %s (LB cache probe gap 1.2 s included)", o.n, first.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
}

func TestOpsManagerHAGeneratedKey(t *testing.T) {
	o := setupOM(t, 3, false)
	a := o.answers("ha.yaml", "  mode: generate\n", "")
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	o.checkHA()
	// The key was on every server before the first start.
	for _, e := range evs {
		if e.Kind == "apply" && e.Step == "start-first-server" {
			break
		}
		if e.Kind == "host-done" && e.Step == "place-own-gen-key" && e.Host == o.Names[2] {
			return
		}
	}
	t.Errorf("the first server started before the key was on every server:\n%s", evString(evs))
}

func TestOpsManagerHAKilledMidRunResumes(t *testing.T) {
	o := setupOM(t, 3, false)
	a := o.answers("ha.yaml", "  mode: first-server\n", "")
	code, evs, stderr := o.hawiz(func(e event) bool {
		return e.Kind == "apply" && e.Step == "copy-gen-key" && e.Host == o.Names[2]
	}, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	if code != -9 {
		t.Fatalf("not killed mid-run: exit %d\n%s", code, stderr)
	}
	code, evs, stderr = o.hawiz(nil, "resume", "--state", o.state, "--yes")
	if code != 0 {
		t.Fatalf("resume: exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	o.checkHA()
}

func TestOpsManagerHAWrongKeyCaughtBeforeStart(t *testing.T) {
	o := setupOM(t, 3, false)
	a := o.answers("ha.yaml", "  mode: first-server\n", "")
	// Stop once every server has the key, before the remaining servers start…
	code, _, stderr := o.hawiz(func(e event) bool {
		return e.Kind == "step-start" && e.Step == "start-remaining-servers"
	}, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	if code != -9 {
		t.Fatalf("not killed: exit %d\n%s", code, stderr)
	}
	// …then someone gives lab3 a different gen.key.
	if _, c := o.sh(2, "head -c 24 /dev/urandom | sudo tee /etc/mongodb-mms/gen.key >/dev/null"); c != 0 {
		t.Fatal("planting a key")
	}
	// The resume re-checks the copy (refused: hawiz never overwrites a
	// different key), and the start checks the key's hash again right
	// before starting: either way lab3 never starts.
	code, evs, stderr := o.hawiz(nil, "resume", "--state", o.state, "--yes")
	out := stderr + evString(evs)
	if code != 4 || !strings.Contains(out, o.Names[2]) || !(strings.Contains(out, "different gen.key") || strings.Contains(out, "differs from the cluster's")) {
		t.Fatalf("want exit 4 naming %s's differing key, got %d:\n%s", o.Names[2], code, out)
	}
	if o.running(2) {
		t.Errorf("%s started with a wrong gen.key", o.Names[2])
	}
}

func TestOpsManagerHACachingLBRefused(t *testing.T) {
	o := setupOM(t, 2, true)
	a := o.answers("ha.yaml", "  mode: first-server\n", "")
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	if code != 4 || !strings.Contains(stderr+evString(evs), "cached content") {
		t.Fatalf("want exit 4 for a caching LB, got %d:\n%s\n%s", code, stderr, evString(evs))
	}
}

func TestOpsManagerHATwoHostURIRefusedNothingTouched(t *testing.T) {
	o := setupOM(t, 2, false)
	o.uri = fmt.Sprintf("mongodb://db1-%[1]s.lab.hawiz.test:27017,db2-%[1]s.lab.hawiz.test:27017/", o.tag)
	a := o.answers("ha.yaml", "  mode: first-server\n", "")
	before, _ := o.sh(0, "sudo sha256sum /opt/mongodb/mms/conf/conf-mms.properties")
	code, _, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	if code != 2 || !strings.Contains(stderr, "appdb.uri") {
		t.Fatalf("want exit 2 naming appdb.uri, got %d:\n%s", code, stderr)
	}
	if after, _ := o.sh(0, "sudo sha256sum /opt/mongodb/mms/conf/conf-mms.properties"); after != before {
		t.Error("conf-mms.properties changed")
	}
}

func TestOpsManagerUpgradeInterruptedResumes(t *testing.T) {
	o := setupOM(t, 3, false)
	a := o.answers("ha.yaml", "  mode: first-server\n", "")
	if code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state); code != 0 {
		t.Fatalf("ha: exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	keys := make([]string, 3)
	confs := make([]string, 3)
	for i := range keys {
		keys[i] = o.keySHA(i)
		confs[i], _ = o.sh(i, "sudo sha256sum /opt/mongodb/mms/conf/conf-mms.properties")
	}
	deb := o.deb("7.0.1")
	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\nservers:\n", o.User, o.Key, o.knownHostsCopy(t))
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    install: package\n", o.Names[i], o.Addrs[i], o.Port)
	}
	fmt.Fprintf(&b, "upgrade:\n  package: %s\n  version: 7.0.1\nstart_timeout: 60s\ngen_key_backup_to: %s\nload_balancer:\n  url: %s\n", deb, filepath.Join(o.dir, "key.before-upgrade"), o.lbURL)
	ua := filepath.Join(o.dir, "upgrade.yaml")
	os.WriteFile(ua, []byte(b.String()), 0o600)
	us := filepath.Join(o.dir, "upgrade.json")
	code, evs, stderr := o.hawiz(func(e event) bool {
		return e.Kind == "apply" && e.Step == "upgrade-each-server" && e.Host == o.Names[1]
	}, "run", "opsmanager-upgrade", "-a", ua, "--yes", "--state", us)
	if code != -9 {
		t.Fatalf("not killed mid-upgrade: exit %d\n%s\n%s", code, stderr, evString(evs))
	}
	// Meanwhile an install on lab3 was interrupted after dpkg unpacked the
	// new files (version 7.0.1, status "install ok unpacked", postinst not
	// run): hawiz must finish it, not take it for done.
	data, _ := os.ReadFile(deb)
	if err := os.WriteFile(o.hostPath(t, 2, "/tmp/new.deb"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := o.sh(2, "sudo dpkg --unpack /tmp/new.deb >/dev/null 2>&1; dpkg-query -W -f='${Status} ${Version}' mongodb-mms"); out != "install ok unpacked 7.0.1" {
		t.Fatalf("half-installed package: %q %d", out, code)
	}
	code, evs, stderr = o.hawiz(nil, "resume", "--state", us, "--yes")
	if code != 0 {
		t.Fatalf("resume: exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	if !strings.Contains(evString(evs), "install was interrupted") {
		t.Errorf("the half-installed package on %s was not noticed:\n%s", o.Names[2], evString(evs))
	}
	if !strings.Contains(evString(evs), "Upgrade Mode") && !strings.Contains(stderr, "Upgrade Mode") {
		// The Upgrade Mode notice is an output/evidence line; look there too.
		found := false
		for _, e := range evs {
			if strings.Contains(e.Evidence+e.Message, "Upgrade Mode") {
				found = true
			}
		}
		if !found {
			t.Error("the operator was not told about Upgrade Mode")
		}
	}
	for i := 0; i < 3; i++ {
		if v, _ := o.sh(i, "dpkg-query -W -f='${Version}' mongodb-mms"); v != "7.0.1" {
			t.Errorf("%s: version %q", o.Names[i], v)
		}
		log, _ := o.sh(i, "cat "+omstandin.InstallLog)
		if n := strings.Count(log, "installed 7.0.1"); n != 1 {
			t.Errorf("%s: 7.0.1 installed %d times:\n%s", o.Names[i], n, log)
		}
		if o.keySHA(i) != keys[i] {
			t.Errorf("%s: gen.key changed", o.Names[i])
		}
		if c, _ := o.sh(i, "sudo sha256sum /opt/mongodb/mms/conf/conf-mms.properties"); c != confs[i] {
			t.Errorf("%s: conf-mms.properties changed", o.Names[i])
		}
		if !o.running(i) {
			t.Errorf("%s: not running", o.Names[i])
		}
	}
	// Running it again upgrades nothing.
	code, evs, stderr = o.hawiz(nil, "run", "opsmanager-upgrade", "-a", ua, "--yes", "--state", filepath.Join(o.dir, "upgrade2.json"))
	if code != 0 || count(evs, "apply") != 0 {
		t.Fatalf("second upgrade run: exit %d, %d applies\n%s\n%s", code, count(evs, "apply"), stderr, evString(evs))
	}
}
