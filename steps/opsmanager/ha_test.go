package opsmanager

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hawiz/hawiz/lab/standins/appdb"
	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/remote/sshtest"
	"github.com/hawiz/hawiz/steps"
	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/crypto/ssh"
)

// TestMain lets the test binary act as the stand-in's control program
// (<install_dir>/bin/mongodb-mms in the test worlds re-execs it).
func TestMain(m *testing.M) {
	if os.Getenv("HAWIZ_MMS_STANDIN_MAIN") == "1" {
		os.Exit(omstandin.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// world is N in-process SSH hosts, each with a tar-installed stand-in Ops
// Manager (its own port, gen.key path and logs), one shared App DB record
// directory, and an LB in front of them.
type world struct {
	t       *testing.T
	dir     string
	key     string
	known   string
	servers []*sshtest.Server
	roots   []string
	appdb   string
	lbURL   string
	lb      *omstandin.LB
	user    string
	https   bool
	// appdbExtra is appended to the appdb block (default: live_check: off).
	appdbExtra string
	// appdbNet is the App DB's private network as every server reaches
	// it: "host:port" -> the real address (sshtest AddrMap).
	appdbNet map[string]string
}

// serveAddr is where om<i+1>'s stand-in listens: the port it bound
// (127.0.0.1:0) and published in its port file, while the process that bound
// it runs; "" when none does. Never a port reserved beforehand by listening
// and closing: another process could take it before the stand-in binds it.
func (w *world) serveAddr(i int) string {
	return omstandin.Config{Addr: "127.0.0.1", PortFile: w.portFile(i)}.ServeAddr()
}

func (w *world) portFile(i int) string { return filepath.Join(w.inst(i), "tmp", "mms0.port") }

func newWorld(t *testing.T, n int, cachingLB bool, https ...bool) *world {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, dir: t.TempDir(), user: u.Username, https: len(https) > 0 && https[0], appdbNet: map[string]string{}}
	w.key = filepath.Join(w.dir, "id_ed25519")
	w.known = filepath.Join(w.dir, "known_hosts")
	w.appdb = filepath.Join(w.dir, "appdb")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, _ := ssh.MarshalPrivateKey(priv, "")
	os.WriteFile(w.key, pem.EncodeToMemory(blk), 0o600)
	signer, _ := ssh.NewSignerFromKey(priv)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var backends []string
	w.roots = make([]string, n)
	for i := range n {
		root := filepath.Join(w.dir, fmt.Sprintf("om%d", i+1))
		inst := filepath.Join(root, "mongodb-mms-7.0.0.x86_64")
		for _, d := range []string{"bin", "conf", "logs", "tmp"} {
			os.MkdirAll(filepath.Join(inst, d), 0o755)
		}
		w.roots[i] = root
		os.WriteFile(filepath.Join(inst, "conf", "conf-mms.properties"), []byte(omstandin.DefaultConf), 0o640)
		// BASE_PORT is the documented port the procedure reaches through
		// SSH; the stand-in binds an ephemeral port and publishes it.
		os.WriteFile(filepath.Join(inst, "conf", "mms.conf"), []byte(fmt.Sprintf(
			"BASE_PORT=%d\nMMS_USER=%s\nENC_KEY_PATH=%s\nHAWIZ_STANDIN_BIND=127.0.0.1\nHAWIZ_STANDIN_APPDB_DIR=%s\nHAWIZ_STANDIN_TLS=%s\nHAWIZ_STANDIN_PORT_FILE=%s\n",
			omstandin.DefaultPort, w.user, filepath.Join(root, "keys", "gen.key"), w.appdb, map[bool]string{true: "1"}[w.https], w.portFile(i))), 0o644)
		os.WriteFile(filepath.Join(inst, "bin", "mongodb-mms"), standinWrapper(exe), 0o755)
		os.Symlink(inst, filepath.Join(root, "mms"))
		s, err := sshtest.Start(sshtest.Config{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}, Root: root,
			HostKeySeed: []byte(fmt.Sprintf("om%d", i+1)), AddrMap: w.appdbNet,
			// 8080 and 8443 reach the published port, looked up per
			// connection; refused while the server is down.
			PortFunc: func(port int) (string, bool) {
				if port != 8080 && port != 8443 {
					return "", false
				}
				return w.serveAddr(i), true
			}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			exec.Command(filepath.Join(inst, "bin", "mongodb-mms"), "stop").Run()
			s.Close()
		})
		w.servers = append(w.servers, s)
		backends = append(backends, fmt.Sprintf("om%d", i+1))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lb := &omstandin.LB{Backends: backends, Cache: cachingLB, TLS: w.https, Resolve: func(be string) string {
		var i int
		fmt.Sscanf(be, "om%d", &i)
		return w.serveAddr(i - 1)
	}}
	srv := &http.Server{Handler: lb}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	w.lbURL, w.lb = "http://"+ln.Addr().String(), lb
	return w
}

// standinWrapper is bin/mongodb-mms of the test worlds: it runs the test
// binary as the stand-in for the install directory it sits in.
func standinWrapper(exe string) []byte {
	return []byte(fmt.Sprintf("#!/bin/sh\nd=$(cd \"$(dirname \"$0\")/..\" && pwd -P)\nHAWIZ_MMS_STANDIN_MAIN=1 %s=\"$d\" exec %s \"$@\"\n", omstandin.EnvInstallDir, exe))
}

func (w *world) inst(i int) string { return filepath.Join(w.roots[i], "mongodb-mms-7.0.0.x86_64") }
func (w *world) keyPath(i int) string {
	return filepath.Join(w.roots[i], "keys", "gen.key")
}

func (w *world) answers(uri, genKey string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  sudo: none\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\n  user: tester\nservers:\n", w.key, w.known)
	for i, s := range w.servers {
		fmt.Fprintf(&b, "  - name: om%d\n    address: 127.0.0.1\n    port: %d\n    install: tar\n    install_dir: %s\n", i+1, s.Port(), w.inst(i))
	}
	if uri == "" {
		uri = "mongodb://db1.test:27017,db2.test:27017,db3.test:27017/?maxPoolSize=100"
	}
	fmt.Fprintf(&b, "appdb:\n  uri: %s\n  username: opsmanager\n%s", uri, w.appdbExtra)
	if w.appdbExtra == "" {
		b.WriteString("  live_check: off\n")
	}
	fmt.Fprintf(&b, "load_balancer:\n  url: %s\n  cache_probe_gap: 1100ms\n", w.lbURL)
	if w.https {
		b.WriteString("https: true\n")
	}
	fmt.Fprintf(&b, "start_timeout: 30s\ngen_key:\n%s", genKey)
	return b.String()
}

const testPassword = "p@ss:w/rd#1"

func (w *world) run(t *testing.T, yaml, state string, resume bool, hook func(string, int)) (steps.Outcome, error, *recorder) {
	t.Helper()
	p := HA()
	a, err := steps.LoadAnswers(p, []byte(yaml))
	if err != nil {
		t.Fatalf("answers: %v\n%s", err, yaml)
	}
	rec := &recorder{}
	cfg := steps.RunConfig{
		Procedure: p, Answers: a, AnswersFile: "test.yaml", StatePath: state, RunName: "t", Resume: resume,
		Renderer: rec, Operator: steps.NonInteractive{Yes: true}, Yes: true,
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second},
		Getenv: func(k string) string {
			if k == "HAWIZ_APPDB_PASSWORD" {
				return testPassword
			}
			return ""
		},
		Hook: hook,
	}
	if resume {
		cfg.Answers = nil
	}
	out, err := steps.Run(context.Background(), cfg)
	return out, err, rec
}

type recorder struct {
	mu     sync.Mutex
	events []steps.Event
}

func (r *recorder) Event(ev steps.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, e := range r.events {
		fmt.Fprintf(&b, "%s %s %s %s %s\n", e.Kind, e.Step, e.Host, e.Message, e.Evidence)
		for _, o := range e.Output {
			fmt.Fprintf(&b, "    | %s\n", o)
		}
	}
	return b.String()
}

func (r *recorder) count(k steps.EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func fileSHA(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return "absent"
	}
	return sha(b)
}

func (w *world) checkDone(t *testing.T) {
	t.Helper()
	k0 := fileSHA(t, w.keyPath(0))
	for i := range w.servers {
		if got := fileSHA(t, w.keyPath(i)); got != k0 || got == "absent" {
			t.Errorf("om%d gen.key %s, om1 %s", i+1, got, k0)
		}
		st, err := os.Stat(w.keyPath(i))
		if err != nil || st.Mode().Perm() != 0o600 || st.Size() != 24 {
			t.Errorf("om%d gen.key stat %v %v", i+1, st, err)
		}
		b, _ := os.ReadFile(filepath.Join(w.inst(i), "conf", "conf-mms.properties"))
		p := ParseProps(b)
		if v, _ := p.Get(KeyCentralURL); v != w.lbURL {
			t.Errorf("om%d centralUrl %q", i+1, v)
		}
		if v, _ := p.Get(KeyMongoURI); !strings.Contains(v, "opsmanager:p%40ss%3Aw%2Frd%231@") {
			t.Errorf("om%d mongoUri %q", i+1, v)
		}
		if !strings.HasPrefix(string(b), omstandin.DefaultConf[:200]) {
			t.Errorf("om%d conf: comments not kept:\n%s", i+1, b)
		}
		if !omstandin.Healthy(mustConfig(t, w.inst(i))) {
			t.Errorf("om%d not healthy", i+1)
		}
	}
}

func mustConfig(t *testing.T, inst string) omstandin.Config {
	c, err := omstandin.LoadConfig(inst)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func noSecrets(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.HasSuffix(p, "gen.key") || strings.Contains(p, "/keys/") ||
			strings.Contains(p, "conf-mms.properties") || strings.Contains(p, "backup") {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, s := range secrets {
			if s != "" && strings.Contains(string(b), s) {
				t.Errorf("secret found in %s", p)
			}
		}
		return nil
	})
}

func TestHAFirstServerModeEndToEnd(t *testing.T) {
	w := newWorld(t, 3, false)
	state := filepath.Join(w.dir, "state.json")
	backup := filepath.Join(w.dir, "backup", "gen.key")
	y := w.answers("", "  mode: first-server\n  backup_to: "+backup+"\n")
	out, err, rec := w.run(t, y, state, false, nil)
	if err != nil {
		t.Fatalf("run: %v (%+v)\n%s", err, out, rec)
	}
	w.checkDone(t)
	t.Logf("events:\n%s", rec)
	if fileSHA(t, backup) != fileSHA(t, w.keyPath(0)) {
		t.Fatal("backup differs")
	}
	if st, _ := os.Stat(backup); st.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode %v", st.Mode())
	}
	key, _ := os.ReadFile(w.keyPath(0))
	noSecrets(t, w.dir, testPassword, "p%40ss%3Aw%2Frd%231", string(key), fmt.Sprintf("%x", key))
	if !strings.Contains(rec.String(), backup) {
		t.Error("backup location not reported")
	}
	// `hawiz check` (Audit: Check and Verify only) finds no drift.
	p := HA()
	a, _ := steps.LoadAnswers(p, []byte(y))
	if _, err := steps.Audit(context.Background(), steps.RunConfig{Procedure: p, Answers: a, StatePath: state, Renderer: &recorder{},
		Operator: steps.NonInteractive{Yes: true}, Yes: true, Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second},
		Getenv: func(k string) string { return map[string]string{"HAWIZ_APPDB_PASSWORD": testPassword}[k] }}); err != nil {
		t.Fatalf("audit after the run: %v", err)
	}
	// A re-run (new run, fresh state) changes nothing.
	mt := map[string]time.Time{}
	for i := range w.servers {
		st, _ := os.Stat(filepath.Join(w.inst(i), "conf", "conf-mms.properties"))
		mt[fmt.Sprint(i)] = st.ModTime()
	}
	out, err, rec = w.run(t, y, filepath.Join(w.dir, "state2.json"), false, nil)
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, rec)
	}
	if n := rec.count(steps.EventApply); n != 0 {
		t.Fatalf("re-run applied %d times:\n%s", n, rec)
	}
	for i := range w.servers {
		st, _ := os.Stat(filepath.Join(w.inst(i), "conf", "conf-mms.properties"))
		if !st.ModTime().Equal(mt[fmt.Sprint(i)]) {
			t.Errorf("om%d conf rewritten by the re-run", i+1)
		}
	}
}

// A key a server already holds is the deployment's, whatever gen_key.mode
// says (issue 16 item 2): generate mode generates nothing and om3's key
// reaches every server before any starts. (A different key is refused in
// preflight: ha_existing_test.go.)
func TestHAGenerateModeAndWrongKeyCaught(t *testing.T) {
	w := newWorld(t, 3, false)
	os.MkdirAll(filepath.Dir(w.keyPath(2)), 0o700)
	os.WriteFile(w.keyPath(2), []byte("abcdefghijklmnopqrstuvwx"), 0o600)
	y := w.answers("", "  mode: generate\n")
	_, err, rec := w.run(t, y, filepath.Join(w.dir, "s.json"), false, nil)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, rec)
	}
	w.checkDone(t)
	if got := fileSHA(t, w.keyPath(0)); got != sha([]byte("abcdefghijklmnopqrstuvwx")) {
		t.Fatalf("om1 holds %s, not om3's key", got)
	}
}

func TestHAResumeAfterInterruption(t *testing.T) {
	w := newWorld(t, 3, false)
	y := w.answers("", "  mode: first-server\n")
	state := filepath.Join(w.dir, "s.json")
	// Cancel in the middle (after the 16th state save).
	var stop sync.Once
	p := HA()
	a, err := steps.LoadAnswers(p, []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := steps.RunConfig{Procedure: p, Answers: a, StatePath: state, RunName: "t", Renderer: &recorder{},
		Operator: steps.NonInteractive{Yes: true}, Yes: true,
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second},
		Getenv: func(k string) string {
			if k == "HAWIZ_APPDB_PASSWORD" {
				return testPassword
			}
			return ""
		},
		Hook: func(point string, n int) {
			if point == "after-save" && n == 16 {
				stop.Do(cancel)
			}
		}}
	_, err = steps.Run(ctx, cfg)
	if steps.ExitCode(err) != steps.ExitStopped {
		t.Fatalf("interrupted run: %v", err)
	}
	_, err, rec := w.run(t, y, state, true, nil)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, rec)
	}
	w.checkDone(t)
}

func TestHACachingLBRefused(t *testing.T) {
	w := newWorld(t, 2, true)
	y := w.answers("", "  mode: first-server\n")
	_, err, rec := w.run(t, y, filepath.Join(w.dir, "s.json"), false, nil)
	if steps.ExitCode(err) != steps.ExitRefused || !strings.Contains(err.Error(), "cached") {
		t.Fatalf("want refusal for a caching LB, got %v\n%s", err, rec)
	}
}

func TestHATwoHostURIRefused(t *testing.T) {
	w := newWorld(t, 2, false)
	y := w.answers("mongodb://db1.test:27017,db2.test:27017/", "  mode: first-server\n")
	_, err := steps.LoadAnswers(HA(), []byte(y))
	if err == nil || !strings.Contains(err.Error(), "appdb.uri: lists 2 host(s)") {
		t.Fatalf("want appdb.uri error, got %v", err)
	}
}

func TestHAOwnKeyFileAndAgents(t *testing.T) {
	w := newWorld(t, 2, false)
	// An agent host: its config file and a systemctl that records calls.
	agentRoot := filepath.Join(w.dir, "agent")
	os.MkdirAll(filepath.Join(agentRoot, "bin"), 0o755)
	cfgPath := filepath.Join(agentRoot, "automation-agent.config")
	os.WriteFile(cfgPath, []byte("# agent\nmmsGroupId=abc\nmmsBaseUrl=http://om1.example.net:8080\nlogFile=/var/log/agent.log\n"), 0o600)
	os.WriteFile(filepath.Join(agentRoot, "bin", "systemctl"), []byte("#!/bin/sh\necho \"$@\" >>"+filepath.Join(agentRoot, "systemctl.log")+"\nexit 0\n"), 0o755)
	keyBytes, _ := os.ReadFile(w.key)
	signer, err := ssh.ParsePrivateKey(keyBytes)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sshtest.Start(sshtest.Config{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}, Root: agentRoot,
		HostKeySeed: []byte("agent"), Env: []string{"PATH=" + filepath.Join(agentRoot, "bin") + ":" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	keyFile := filepath.Join(w.dir, "my.gen.key")
	os.WriteFile(keyFile, []byte("only-23-bytes-long-key!"), 0o600)
	y := w.answers("", "  mode: file\n  file: "+keyFile+"\n") + fmt.Sprintf(
		"agents:\n  - name: agent1\n    address: 127.0.0.1\n    port: %d\n    config_path: %s\n", s.Port(), cfgPath)
	state := filepath.Join(w.dir, "s.json")
	_, err, rec := w.run(t, y, state, false, nil)
	if err == nil || !strings.Contains(err.Error(), "holds 23 bytes") {
		t.Fatalf("want the 23-byte key refused, got %v\n%s", err, rec)
	}
	for i := range w.servers {
		if omstandin.Running(mustConfig(t, w.inst(i))) != 0 {
			t.Fatalf("om%d started", i+1)
		}
	}
	key := []byte("exactly-24-bytes-key-!!!")
	os.WriteFile(keyFile, key, 0o600)
	_, err, rec = w.run(t, y, state, true, nil)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, rec)
	}
	for i := range w.servers {
		if fileSHA(t, w.keyPath(i)) != sha(key) {
			t.Errorf("om%d does not hold the operator's key", i+1)
		}
	}
	b, _ := os.ReadFile(cfgPath)
	if want := "# agent\nmmsGroupId=abc\nmmsBaseUrl=" + w.lbURL + "\nlogFile=/var/log/agent.log\n"; string(b) != want {
		t.Errorf("agent config:\n%s\nwant\n%s", b, want)
	}
	calls, _ := os.ReadFile(filepath.Join(agentRoot, "systemctl.log"))
	if !strings.Contains(string(calls), "restart mongodb-mms-automation-agent") {
		t.Errorf("agent not restarted: %s", calls)
	}
	if strings.Contains(rec.String(), string(key)) {
		t.Error("the key's bytes reached the events")
	}
}

func TestHAFailedStartShowsLogTail(t *testing.T) {
	w := newWorld(t, 2, false)
	// om1's Ops Manager cannot read its configuration: its pre-flight
	// check fails and says why in the startup log.
	mc := filepath.Join(w.inst(0), "conf", "mms.conf")
	b, _ := os.ReadFile(mc)
	os.WriteFile(mc, append(b, []byte("HAWIZ_STANDIN_CONF=/nonexistent/conf-mms.properties\n")...), 0o644)
	_, err, rec := w.run(t, w.answers("", "  mode: first-server\n"), filepath.Join(w.dir, "s.json"), false, nil)
	if err == nil || steps.ExitCode(err) != steps.ExitFailed {
		t.Fatalf("want a failed step, got %v\n%s", err, rec)
	}
	msg := err.Error()
	if !strings.Contains(msg, "start-first-server") || !strings.Contains(msg, "mms0-startup.log") || !strings.Contains(msg, "ERROR PreFlightCheck - cannot read /nonexistent") {
		t.Fatalf("the failure does not show the startup log's tail:\n%s", msg)
	}
}

// TestHAHTTPSServers also reads the live App DB configuration (three fake
// App DB members speaking the wire protocol, SCRAM-SHA-256) by names only
// the Ops Manager servers reach: through om1's SSH connection.
func TestHAHTTPSServers(t *testing.T) {
	w := newWorld(t, 2, false, true)
	var fakes []*appdb.Server
	var names []string
	var members []bson.D
	for i := range 3 {
		names = append(names, fmt.Sprintf("db%d.appdb.test:27017", i+1))
		members = append(members, member(i, names[i], 1, float64(1-i/2), false))
	}
	for i := range 3 {
		f := startFakeAppDB(t, "opsmanager", testPassword, liveConfigDoc(members...))
		w.appdbNet[names[i]] = f.Addr()
		fakes = append(fakes, f)
	}
	w.appdbExtra = fmt.Sprintf("  members:\n    - {host: %q}\n    - {host: %q}\n    - {host: %q, priority: 0}\n", names[0], names[1], names[2])
	uri := "mongodb://" + strings.Join(names, ",") + "/?maxPoolSize=100"
	_, err, rec := w.run(t, w.answers(uri, "  mode: generate\n"), filepath.Join(w.dir, "s.json"), false, nil)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, rec)
	}
	// The members are asked at once: whichever answers first is named.
	m := regexp.MustCompile(`live replica set "appdb" version 7 \(read from db([123])\.appdb\.test:27017 through om1's SSH connection\)`).FindStringSubmatch(rec.String())
	if m == nil || !strings.Contains(rec.String(), "matches the answers") {
		t.Fatalf("live configuration not compared:\n%s", rec)
	}
	winner := int(m[1][0] - '1')
	seen := strings.Join(fakes[winner].Commands(), ",")
	if !strings.Contains(seen, "replSetGetConfig") {
		t.Fatalf("db%d answered but saw %s", winner+1, seen)
	}
	if err != nil {
		t.Fatalf("run: %v\n%s", err, rec)
	}
	w.checkDone(t)
	if !strings.Contains(rec.String(), "/monitor/health 200") {
		t.Fatalf("no health evidence:\n%s", rec)
	}
}

// TestLiveCheckVia: appdb.live_via decides where the live check connects
// from. Here the App DB listens where this machine reaches it but om1 does
// not (om1's network sends those addresses to a closed port).
func TestLiveCheckVia(t *testing.T) {
	w := newWorld(t, 2, false)
	var lns []net.Listener
	var addrs []string
	var members []bson.D
	for i := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
		members = append(members, member(i, addrs[i], 1, 1, false))
	}
	for _, ln := range lns {
		f := appdb.Serve(ln, "opsmanager", testPassword, liveConfigDoc(members...))
		t.Cleanup(func() { f.Close() })
	}
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	for _, a := range addrs {
		w.appdbNet[a] = deadAddr
	}
	t.Setenv("HAWIZ_APPDB_PASSWORD", testPassword)
	uri := "mongodb://" + strings.Join(addrs, ",") + "/"
	check := func(extra string) (string, error) {
		t.Helper()
		w.appdbExtra = extra + "  live_timeout: 500ms\n"
		a, err := steps.LoadAnswers(HA(), []byte(w.answers(uri, "  mode: generate\n")))
		if err != nil {
			t.Fatal(err)
		}
		ans := a.(*Answers)
		f, err := remote.Connect(context.Background(), remote.Options{SSHConfigFile: "none", AgentSocket: "none", InsecureIgnoreHostKeysForTests: true},
			[]remote.HostConfig{ans.SSH.HostConfig(ans.Servers[0].HostAnswers)})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		e := steps.NewEnv(context.Background(), ans, f, steps.NonInteractive{Yes: true})
		return checkAppDB(context.Background(), e, ans)
	}
	ev, err := check("")
	if err != nil || !strings.Contains(ev, "live configuration not read: App DB not reachable from om1 (through its SSH connection)") {
		t.Fatalf("live_via server (default), try: %v\n%s", err, ev)
	}
	if _, err := check("  live_check: required\n"); err == nil || !strings.Contains(err.Error(), "from om1 (through its SSH connection): App DB not reachable") {
		t.Fatalf("live_via server, required: %v", err)
	}
	ev, err = check("  live_via: server-then-direct\n")
	if err != nil || !(strings.Contains(ev, "(read from "+addrs[0]+")") || strings.Contains(ev, "(read from "+addrs[1]+")") || strings.Contains(ev, "(read from "+addrs[2]+")")) {
		t.Fatalf("server-then-direct: %v\n%s", err, ev)
	}
	w.appdbExtra = "  live_via: sideways\n"
	if _, err := steps.LoadAnswers(HA(), []byte(w.answers(uri, "  mode: generate\n"))); err == nil || !strings.Contains(err.Error(), "appdb.live_via") {
		t.Fatalf("live_via sideways: %v", err)
	}
}

// The config steps' Verify reads the host's own conf-mms.properties (its
// keys must hold the answers' values), and the last server's Verify reads
// every server once and compares all the keys: 2n-1 reads per step, not n².
// A server whose lines differ is caught there, named.
func TestConfVerifyReadsOwnThenAllOnce(t *testing.T) {
	const n = 4
	w := newWorld(t, n, false)
	state := filepath.Join(w.dir, "state.json")
	y := w.answers("", "  mode: first-server\n")
	p := HA()
	a, err := steps.LoadAnswers(p, []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	list, err := p.Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	var skip []string
	for _, s := range list {
		if s.ID != StepUseLB && s.ID != StepReplHosts {
			skip = append(skip, s.ID)
		}
	}
	getenv := func(k string) string { return map[string]string{"HAWIZ_APPDB_PASSWORD": testPassword}[k] }
	ropts := remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second}
	if _, err := steps.Run(context.Background(), steps.RunConfig{Procedure: p, Answers: a, StatePath: state, Skip: skip,
		Renderer: &recorder{}, Operator: steps.NonInteractive{Yes: true}, Yes: true, Remote: ropts, Getenv: getenv}); err != nil {
		t.Fatal(err)
	}
	tr, err := os.ReadFile(steps.TranscriptPath(state))
	if err != nil {
		t.Fatal(err)
	}
	reads := map[string]int{}
	for _, l := range strings.Split(string(tr), "\n") {
		var x struct{ Step, Action, Detail string }
		if json.Unmarshal([]byte(l), &x) == nil && x.Action == "read" && strings.HasSuffix(x.Detail, ConfRelPath) {
			reads[x.Step]++
		}
	}
	// Check n + Apply n + Verify (n-1 own + n at the last server).
	for _, id := range []string{StepUseLB, StepReplHosts} {
		if want := n + n + (n - 1) + n; reads[id] != want {
			t.Errorf("%s read conf-mms.properties %d times, want %d", id, reads[id], want)
		}
	}
	// A server edited afterwards: its own Verify says which key, and the
	// last server's Verify finds the difference; the others still hold.
	copts := ropts
	copts.KnownHostsFile, copts.SSHConfigFile = w.known, "none"
	f, err := remote.Connect(context.Background(), copts, steps.HostConfigs(a))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	conf := filepath.Join(w.inst(1), "conf", "conf-mms.properties")
	b, _ := os.ReadFile(conf)
	os.WriteFile(conf, []byte(strings.Replace(string(b), "mms.remoteIp.header=", "mms.remoteIp.header=X-Other-", 1)), 0o640)
	e := steps.NewEnv(context.Background(), a, f, nil)
	var uselb *steps.Step
	for _, s := range list {
		if s.ID == StepUseLB {
			uselb = s
		}
	}
	if _, err := uselb.Verify(context.Background(), e, "om1"); err != nil {
		t.Errorf("om1: %v", err)
	}
	if _, err := uselb.Verify(context.Background(), e, "om2"); err == nil || !strings.Contains(err.Error(), "om2: mms.remoteIp.header is") {
		t.Errorf("om2: %v", err)
	}
	if _, err := uselb.Verify(context.Background(), e, fmt.Sprintf("om%d", n)); err == nil || !strings.Contains(err.Error(), "differs between om4 and om2") {
		t.Errorf("om%d: %v", n, err)
	}
}
