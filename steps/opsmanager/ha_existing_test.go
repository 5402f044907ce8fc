package opsmanager

import (
	"bytes"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
	"github.com/hawiz/hawiz/steps"
)

// Issue 16 items 1 and 2: opsmanager-ha on a deployment that already runs.

const (
	existingUser = "om-existing"
	existingPass = "ex1sting s3cr@t"
	oldHosts     = "db2.test:27017,db1.test:27017"
)

// existing makes w look like a deployment that already runs: every server
// holds key, its conf-mms.properties mongoUri (with mongo.encryptedCredentials
// and mongo.ssl lines when extra says so) and an App DB that requires
// authentication as existingUser.
func (w *world) existing(t *testing.T, key []byte, confFor func(i int) string) {
	t.Helper()
	for i := range w.servers {
		if key != nil {
			os.MkdirAll(filepath.Dir(w.keyPath(i)), 0o700)
			if err := os.WriteFile(w.keyPath(i), key, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(w.confPath(i), []byte(confFor(i)), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"mongodb://" + oldHosts + "/", "mongodb://db1.test:27017,db2.test:27017,db3.test:27017/"} {
		if err := omstandin.AddAppDBUser(w.appdb, u, existingUser, existingPass); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *world) confPath(i int) string {
	return filepath.Join(w.inst(i), "conf", "conf-mms.properties")
}

func (w *world) confs(t *testing.T) [][]byte {
	var out [][]byte
	for i := range w.servers {
		b, err := os.ReadFile(w.confPath(i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// lbLines are the two lines configure-ops-manager-to-use-load-balancer
// appends to a file without them.
func lbLines(w *world) string {
	return "mms.centralUrl=" + w.lbURL + "\nmms.remoteIp.header=X-Forwarded-For\n"
}

func withoutUsername(y string) string {
	return strings.Replace(y, "  username: opsmanager\n", "", 1)
}

// Encrypted credentials (mongo.encryptedCredentials=true) and TLS keys in
// an existing deployment's files: the URI gets the answers' hosts and
// options, keeps the encrypted credentials and the file's other options
// (appdb.username is not written over them), the other keys stay as they
// are, and every server starts against the App DB that requires them.
// Before: the answers' plain credentials were written over the encrypted
// ones and the restarted servers could not reach the App DB.
func TestHAKeepsEncryptedCredentials(t *testing.T) {
	w := newWorld(t, 2, false)
	key := []byte("existing-deployment-key!")
	encU, encP := omstandin.EncryptCredential(key, existingUser), omstandin.EncryptCredential(key, existingPass)
	tail := "mongo.encryptedCredentials=true\nmongo.ssl=true\nmongodb.ssl.CAFile=/etc/ssl/appdb-ca.pem\n"
	w.existing(t, key, func(int) string {
		return "# existing\nmongo.mongoUri=mongodb://" + encU + ":" + encP + "@" + oldHosts + "/?maxPoolSize=150&authSource=admin\n" + tail
	})
	_, err, rec := w.run(t, w.answers("", "  mode: first-server\n"), filepath.Join(w.dir, "s.json"), false, nil)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, rec)
	}
	want := "mongodb://" + encU + ":" + encP + "@db1.test:27017,db2.test:27017,db3.test:27017/?maxPoolSize=100&authSource=admin"
	for i, b := range w.confs(t) {
		p := ParseProps(b)
		if v, _ := p.Get(KeyMongoURI); v != want {
			t.Errorf("om%d mongoUri %q, want %q", i+1, v, want)
		}
		if !strings.HasSuffix(string(b), tail+lbLines(w)) || !strings.HasPrefix(string(b), "# existing\n") {
			t.Errorf("om%d: the other lines changed:\n%s", i+1, b)
		}
		if omstandin.Running(mustConfig(t, w.inst(i))) == 0 {
			t.Errorf("om%d not running", i+1)
		}
		if got := fileSHA(t, w.keyPath(i)); got != sha(key) {
			t.Errorf("om%d gen.key changed", i+1)
		}
	}
	out := rec.String()
	if !strings.Contains(out, "kept: the file's options authsource") || !strings.Contains(out, "encrypted credentials (mongo.encryptedCredentials=true; appdb.username is not written over them)") ||
		!strings.Contains(out, "hosts db1.test:27017,db2.test:27017 → db1.test:27017,db2.test:27017,db3.test:27017; option maxpoolsize 150 → 100") {
		t.Errorf("the check does not say what changes:\n%s", out)
	}
	noSecrets(t, w.dir, encU, encP, existingPass, testPassword)
	if strings.Contains(out, encU) || strings.Contains(out, encP) {
		t.Error("the encrypted credentials reached the events")
	}
}

// Plain credentials in the file and none in the answers: kept when the
// hosts change; a URI that already means the answers' (hosts in another
// order and case, a default port, options reordered) is not written at all.
// Before: the credential-free URI was written over both.
func TestHAKeepsPlainCredentials(t *testing.T) {
	w := newWorld(t, 2, false)
	cred := url.UserPassword(existingUser, existingPass).String()
	confs := []string{
		"mongo.mongoUri=mongodb://" + cred + "@" + oldHosts + "/?maxPoolSize=100\nmongo.ssl=false\n",
		"mongo.mongoUri=mongodb://" + cred + "@DB3.test,db1.test:27017,db2.test:27017/?maxPoolSize=100\nmongo.ssl=false\n",
	}
	w.existing(t, nil, func(i int) string { return confs[i] })
	_, err, rec := w.run(t, withoutUsername(w.answers("", "  mode: first-server\n")), filepath.Join(w.dir, "s.json"), false, nil)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, rec)
	}
	got := w.confs(t)
	if want := "mongo.mongoUri=mongodb://" + cred + "@db1.test:27017,db2.test:27017,db3.test:27017/?maxPoolSize=100\nmongo.ssl=false\n" + lbLines(w); string(got[0]) != want {
		t.Errorf("om1 conf:\n%s\nwant\n%s", got[0], want)
	}
	if string(got[1]) != confs[1]+lbLines(w) {
		t.Errorf("om2's mongoUri meant the answers' already but was rewritten:\n%s", got[1])
	}
	if !strings.Contains(rec.String(), "om2: mongo.mongoUri already names the answers' App DB") {
		t.Errorf("om2's check:\n%s", rec)
	}
	for i := range w.servers {
		if omstandin.Running(mustConfig(t, w.inst(i))) == 0 {
			t.Errorf("om%d not running", i+1)
		}
	}
	noSecrets(t, w.dir, existingPass, url.PathEscape(existingPass))
}

// The existing key sits on the second server only (first-server mode):
// preflight finds it, it reaches om1 (and om3) before any server starts,
// and om1 never creates a key of its own. Before: om1 started without a
// key, made a second one, and the copy step refused after that.
func TestHAKeyOnSecondServerOnly(t *testing.T) {
	w := newWorld(t, 3, false)
	key := []byte("the-deployment's-gen.key")
	os.MkdirAll(filepath.Dir(w.keyPath(1)), 0o700)
	os.WriteFile(w.keyPath(1), key, 0o600)
	_, err, rec := w.run(t, w.answers("", "  mode: first-server\n"), filepath.Join(w.dir, "s.json"), false, nil)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, rec)
	}
	w.checkDone(t)
	for i := range w.servers {
		if got := fileSHA(t, w.keyPath(i)); got != sha(key) {
			t.Errorf("om%d gen.key %s, not the deployment's", i+1, short(got))
		}
		log, _ := os.ReadFile(filepath.Join(w.inst(i), "logs", "mms0-startup.log"))
		if strings.Contains(string(log), "Generated a new gen.key") {
			t.Errorf("om%d created a key of its own", i+1)
		}
	}
	if !strings.Contains(rec.String(), "gen.key: the deployment's key (sha256 "+short(sha(key))+") is on om2; it is copied to om1, om3 before any server starts") {
		t.Errorf("preflight does not say where the key is:\n%s", rec)
	}
}

// Two different keys among the servers: refused in preflight, naming the
// servers, before anything changes (no file written, nothing started).
// gen_key.file other than the deployment's key likewise. Before: config
// writes and om1's start came first, the copy step refused.
func TestHATwoKeysRefusedInPreflight(t *testing.T) {
	w := newWorld(t, 3, false)
	k1, k3 := []byte("key-number-one-24-bytes!"), []byte("key-number-three-24-byt!")
	for i, k := range map[int][]byte{0: k1, 2: k3} {
		os.MkdirAll(filepath.Dir(w.keyPath(i)), 0o700)
		os.WriteFile(w.keyPath(i), k, 0o600)
	}
	before := w.confs(t)
	check := func(y, want string) {
		t.Helper()
		_, err, rec := w.run(t, y, filepath.Join(w.dir, "s"+strconv.Itoa(len(want))+".json"), false, nil)
		if steps.ExitCode(err) != steps.ExitRefused || !strings.Contains(err.Error(), want) {
			t.Fatalf("want a refusal with %q, got %v\n%s", want, err, rec)
		}
		if n := rec.count(steps.EventApply); n != 0 {
			t.Errorf("%d applies before the refusal:\n%s", n, rec)
		}
		for i, b := range w.confs(t) {
			if !bytes.Equal(b, before[i]) {
				t.Errorf("om%d conf changed", i+1)
			}
			if omstandin.Running(mustConfig(t, w.inst(i))) != 0 {
				t.Errorf("om%d started", i+1)
			}
			if _, err := os.Stat(filepath.Join(w.inst(i), "logs", "mms0-startup.log")); err == nil {
				t.Errorf("om%d was started", i+1)
			}
		}
		if fileSHA(t, w.keyPath(0)) != sha(k1) || fileSHA(t, w.keyPath(1)) != "absent" || fileSHA(t, w.keyPath(2)) != sha(k3) {
			t.Error("keys changed")
		}
	}
	check(w.answers("", "  mode: first-server\n"),
		"the servers hold different gen.key files: om1 (sha256 "+short(sha(k1))+"); om3 (sha256 "+short(sha(k3))+")")
	// One key on om1 only, gen_key.file another: refused too.
	os.Remove(w.keyPath(2))
	k3 = nil
	file := filepath.Join(w.dir, "other.key")
	os.WriteFile(file, []byte("an-operator-file-key-24!"), 0o600)
	w2 := func() { // om3's key is gone now
		if fileSHA(t, w.keyPath(2)) != "absent" {
			t.Fatal("om3 key")
		}
	}
	w2()
	_, err, rec := w.run(t, w.answers("", "  mode: file\n  file: "+file+"\n"), filepath.Join(w.dir, "file.json"), false, nil)
	if steps.ExitCode(err) != steps.ExitRefused || !strings.Contains(err.Error(), "is not the gen.key om1 already hold(s)") || rec.count(steps.EventApply) != 0 {
		t.Fatalf("gen_key.file other than om1's key: %v\n%s", err, rec)
	}
}

// A key hawiz copies gets the owner and the group Ops Manager gives its own
// key: the service user and its primary group (mongodb-mms:mongodb-mms for
// the package). Here `id -gn` on the servers says the service user's group
// is daemon. Before: group root.
func TestHACopiedKeyGetsServiceGroup(t *testing.T) {
	daemon, err := user.LookupGroup("daemon")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and a daemon group")
	}
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "id"), []byte("#!/bin/sh\nif [ \"$1\" = -gn ]; then echo daemon; exit 0; fi\nexec /usr/bin/id \"$@\"\n"), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	w := newWorld(t, 2, false)
	file := filepath.Join(w.dir, "my.key")
	os.WriteFile(file, []byte("operator-key-of-24-bytes"), 0o600)
	_, err, rec := w.run(t, w.answers("", "  mode: file\n  file: "+file+"\n"), filepath.Join(w.dir, "s.json"), false, nil)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, rec)
	}
	for i := range w.servers {
		st, err := os.Stat(w.keyPath(i))
		if err != nil {
			t.Fatal(err)
		}
		if gid := strconv.Itoa(int(st.Sys().(*syscall.Stat_t).Gid)); gid != daemon.Gid || st.Mode().Perm() != 0o600 {
			t.Errorf("om%d gen.key gid %s mode %v, want gid %s (daemon), 0600", i+1, gid, st.Mode().Perm(), daemon.Gid)
		}
	}
}
