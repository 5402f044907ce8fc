//go:build e2e

package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
)

// Issue 16 items 1 and 2 on the lab: opsmanager-ha on a deployment that
// already runs (credentials in mongo.mongoUri, a gen.key in place).

// putKey writes key as host i's /etc/mongodb-mms/gen.key, as Ops Manager
// leaves it (mongodb-mms:mongodb-mms, 0600).
func (o *omLab) putKey(i int, key []byte) {
	o.t.Helper()
	c := o.rawClient(o.t, i, o.User)
	if out, errOut, code := rawRun(o.t, c, "sudo sh -c 'cat > /etc/mongodb-mms/gen.key && chown mongodb-mms:mongodb-mms /etc/mongodb-mms/gen.key && chmod 600 /etc/mongodb-mms/gen.key'", key); code != 0 {
		o.t.Fatalf("%s: writing gen.key: %d %s %s", o.Names[i], code, out, errOut)
	}
}

func (o *omLab) putConf(i int, conf string) {
	o.t.Helper()
	c := o.rawClient(o.t, i, o.User)
	if out, errOut, code := rawRun(o.t, c, "sudo sh -c 'cat > /opt/mongodb/mms/conf/conf-mms.properties'", []byte(conf)); code != 0 {
		o.t.Fatalf("%s: writing conf-mms.properties: %d %s %s", o.Names[i], code, out, errOut)
	}
}

func (o *omLab) conf(i int) string {
	o.t.Helper()
	out, code := o.sh(i, "sudo cat /opt/mongodb/mms/conf/conf-mms.properties")
	if code != 0 {
		o.t.Fatalf("%s: reading conf-mms.properties", o.Names[i])
	}
	return out
}

func (o *omLab) appDBDir() string {
	if d := o.Env["HAWIZ_LAB_APPDB_DIR"]; d != "" {
		return d
	}
	return omstandin.DefaultAppDBDir
}

func randomKey(t *testing.T) []byte {
	k := make([]byte, 24)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// An existing deployment: every server holds the key, its mongoUri holds
// credentialstool output (mongo.encryptedCredentials=true) for two of the
// three App DB hosts, mongo.ssl is set, and the App DB requires those
// credentials. hawiz adds the third host, keeps the encrypted credentials,
// the file's authSource and the other keys, and every server starts
// against the App DB.
func TestOpsManagerHAExistingEncryptedCredentials(t *testing.T) {
	o := setupOM(t, 3, false)
	key := randomKey(t)
	const user, pass = "om-existing", "ex1sting s3cr@t"
	if err := omstandin.AddAppDBUser(o.appDBDir(), o.uri, user, pass); err != nil {
		t.Fatal(err)
	}
	encU, encP := omstandin.EncryptCredential(key, user), omstandin.EncryptCredential(key, pass)
	hosts := strings.TrimPrefix(strings.SplitN(o.uri, "/?", 2)[0], "mongodb://")
	two := strings.Join(strings.Split(hosts, ",")[:2], ",")
	tail := "mongo.encryptedCredentials=true\nmongo.ssl=true\nmongodb.ssl.CAFile=/etc/ssl/appdb-ca.pem"
	for i := 0; i < o.n; i++ {
		o.putKey(i, key)
		o.putConf(i, "# existing deployment\nmongo.mongoUri=mongodb://"+encU+":"+encP+"@"+two+"/?maxPoolSize=150&authSource=admin\n"+tail+"\n")
	}
	a := o.answers("ha.yaml", "  mode: first-server\n", "")
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	want := "mongo.mongoUri=mongodb://" + encU + ":" + encP + "@" + hosts + "/?maxPoolSize=100&authSource=admin"
	sum := sha256.Sum256(key)
	for i := 0; i < o.n; i++ {
		conf := o.conf(i)
		if !strings.Contains(conf, "\n"+want+"\n"+tail+"\n") || !strings.HasPrefix(conf, "# existing deployment\n") {
			t.Errorf("%s: conf-mms.properties\n%s\nwant the line %s and the other lines kept", o.Names[i], conf, want)
		}
		if !o.running(i) {
			t.Errorf("%s: Ops Manager not running", o.Names[i])
		}
		if got := o.keySHA(i); got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: gen.key changed", o.Names[i])
		}
	}
	var all strings.Builder
	for _, e := range evs {
		all.WriteString(e.Message + " " + e.Evidence + "\n")
	}
	if !strings.Contains(all.String(), "kept: the file's options authsource; the file's encrypted credentials") {
		t.Errorf("the check does not say what is kept:\n%s", all.String())
	}
	for _, s := range []string{encU, encP, pass, url.PathEscape(pass)} {
		if strings.Contains(all.String(), s) || strings.Contains(stderr, s) {
			t.Errorf("a credential reached hawiz's output")
		}
	}
	o.noSecrets(all.String(), stderr)
}

// The deployment's key sits on the second server only (first-server mode):
// it reaches the others before any server starts, the first never creates
// its own, and the copies are mongodb-mms:mongodb-mms 0600 like Ops
// Manager's own key.
func TestOpsManagerHAKeyOnSecondServerOnly(t *testing.T) {
	o := setupOM(t, 3, false)
	key := randomKey(t)
	o.putKey(1, key)
	a := o.answers("ha.yaml", "  mode: first-server\n", "")
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	o.checkHA()
	sum := sha256.Sum256(key)
	for i := 0; i < o.n; i++ {
		if got := o.keySHA(i); got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: gen.key %s, not the deployment's", o.Names[i], got)
		}
		if got, _ := o.sh(i, "sudo stat -c '%U:%G %a' /etc/mongodb-mms/gen.key"); got != "mongodb-mms:mongodb-mms 600" {
			t.Errorf("%s: gen.key %q, want mongodb-mms:mongodb-mms 600", o.Names[i], got)
		}
		if log, _ := o.sh(i, "sudo cat /opt/mongodb/mms/logs/mms0-startup.log"); strings.Contains(log, "Generated a new gen.key") {
			t.Errorf("%s created a key of its own", o.Names[i])
		}
	}
	// Every server had the key before the first start (placed, or already
	// there: lab2).
	placed := map[string]bool{}
	for _, e := range evs {
		if e.Kind == "apply" && e.Step == "start-first-server" {
			break
		}
		if (e.Kind == "host-done" || e.Kind == "skip") && e.Step == "place-own-gen-key" {
			placed[e.Host] = true
		}
	}
	if len(placed) != o.n {
		t.Errorf("the first server started before the key was on every server (%v):\n%s", placed, evString(evs))
	}
}

// Two different keys: refused in preflight (exit 4), naming both servers,
// with nothing changed on any host.
func TestOpsManagerHATwoKeysRefusedInPreflight(t *testing.T) {
	o := setupOM(t, 3, false)
	o.putKey(0, randomKey(t))
	o.putKey(2, randomKey(t))
	var before []string
	for i := 0; i < o.n; i++ {
		out, _ := o.sh(i, "sudo sha256sum /opt/mongodb/mms/conf/conf-mms.properties /etc/mongodb-mms/gen.key 2>&1; sudo ls /opt/mongodb/mms/logs")
		before = append(before, out)
	}
	a := o.answers("ha.yaml", "  mode: first-server\n", "")
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	if code != 4 || !strings.Contains(stderr, "the servers hold different gen.key files: "+o.Names[0]+" (sha256 ") ||
		!strings.Contains(stderr, "; "+o.Names[2]+" (sha256 ") || !strings.Contains(stderr, "preflight-servers") {
		t.Fatalf("want a refusal in preflight naming %s and %s, got exit %d:\n%s\n%s", o.Names[0], o.Names[2], code, stderr, evString(evs))
	}
	if n := count(evs, "apply"); n != 0 {
		t.Errorf("%d applies before the refusal", n)
	}
	for i := 0; i < o.n; i++ {
		out, _ := o.sh(i, "sudo sha256sum /opt/mongodb/mms/conf/conf-mms.properties /etc/mongodb-mms/gen.key 2>&1; sudo ls /opt/mongodb/mms/logs")
		if out != before[i] {
			t.Errorf("%s changed:\n%s\nwas\n%s", o.Names[i], out, before[i])
		}
		if o.running(i) {
			t.Errorf("%s: Ops Manager was started", o.Names[i])
		}
	}
}
