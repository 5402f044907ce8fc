package opsmanager

import (
	"errors"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
)

// planURI compares mongo.mongoUri by meaning and never drops the file's
// credentials (issue 16 item 1).
func TestPlanURI(t *testing.T) {
	const ans = "mongodb://db1:27017,db2:27017,db3:27017/?maxPoolSize=100"
	const ansCreds = "om:p%40ss"
	cases := []struct {
		name, file         string
		creds              bool // the answers bring om / p@ss
		done               bool
		want, err, changes string
	}{
		{name: "same set, other order, case, default port, options reordered",
			file: "mongo.mongoUri=mongodb://u:pw@DB3,db1:27017,db2/?maxPoolSize=100\n", done: true},
		{name: "plain credentials kept when the answers bring none",
			file:    "mongo.mongoUri=mongodb://u:pw@db1,db2/?maxPoolSize=150&authSource=admin\n",
			want:    "mongodb://u:pw@db1:27017,db2:27017,db3:27017/?maxPoolSize=100&authSource=admin",
			changes: "hosts db1:27017,db2:27017 → db1:27017,db2:27017,db3:27017; option maxpoolsize 150 → 100"},
		{name: "the file's database kept with its credentials",
			file: "mongo.mongoUri=mongodb://u:pw@db1,db2/opsdb\n",
			want: "mongodb://u:pw@db1:27017,db2:27017,db3:27017/opsdb?maxPoolSize=100"},
		{name: "the answers' credentials, the same but encoded otherwise: done",
			file: "mongo.mongoUri=mongodb://om:p%40ss@db1,db2,db3/?maxPoolSize=100\n", creds: true, done: true},
		{name: "the answers' credentials replace other plain ones",
			file: "mongo.mongoUri=mongodb://old:pw@db1,db2,db3/?maxPoolSize=100\n", creds: true,
			want: "mongodb://om:p%40ss@db1,db2,db3/?maxPoolSize=100", changes: "the file's credentials are replaced"},
		{name: "encrypted credentials kept over the answers'",
			file: "mongo.mongoUri=mongodb://ENC1:ENC2@db1,db2/?ssl=true\nmongo.encryptedCredentials=true\n", creds: true,
			want: "mongodb://ENC1:ENC2@db1:27017,db2:27017,db3:27017/?maxPoolSize=100&ssl=true"},
		{name: "encrypted=true without credentials and the answers bring plain ones: refused",
			file: "mongo.mongoUri=mongodb://db1/\nmongo.encryptedCredentials=true\n", creds: true, err: "hawiz cannot encrypt"},
		{name: "an '@' hawiz cannot read: refused",
			file: "mongo.mongoUri=mongodb://u:p/w@db1/\n", err: "may hold credentials"},
		{name: "mongodb+srv with credentials: refused",
			file: "mongo.mongoUri=mongodb+srv://u:p@cluster.example.net/\n", err: "mongodb+srv"},
		{name: "not a URI, no '@': replaced",
			file: "mongo.mongoUri=localhost\n", want: ans},
		{name: "absent: added", file: "# nothing\n", want: ans},
		{name: "the answers name a TLS option the file spells ssl",
			file: "mongo.mongoUri=mongodb://db1,db2,db3/?maxPoolSize=100&ssl=false\n", done: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := ans
			if strings.Contains(c.name, "TLS option") {
				a += "&tls=false"
			}
			var cr, u, p string
			if c.creds {
				cr, u, p = ansCreds, "om", "p@ss"
			}
			ed, err := planURI(ParseProps([]byte(c.file)), a, cr, u, p)
			if c.err != "" {
				var re *steps.RefusedError
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.As(err, &re) {
					t.Fatalf("want a refusal with %q, got %v", c.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ed.done != c.done {
				t.Fatalf("done %v, want %v (%+v)", ed.done, c.done, ed)
			}
			if c.want != "" && ed.value != c.want {
				t.Errorf("value %q, want %q", ed.value, c.want)
			}
			if !strings.Contains(strings.Join(ed.changes, "; "), c.changes) {
				t.Errorf("changes %q, want %q", ed.changes, c.changes)
			}
			if f, _ := parseMongoURI(strings.TrimPrefix(strings.TrimSpace(c.file), "mongo.mongoUri=")); f != nil && f.creds() {
				if w, _ := parseMongoURI(ed.value); w == nil || !w.creds() {
					t.Errorf("credentials dropped: %q", ed.value)
				}
			}
		})
	}
}
