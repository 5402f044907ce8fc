package opsmanager

import (
	"net/url"
	"os"
	"strings"
	"testing"
)

// An App DB that requires authentication (AddAppDBUser): a start without
// credentials, with the wrong ones, or with encrypted ones made with
// another gen.key is refused; plain and encrypted (this server's gen.key)
// credentials are accepted.
func TestPreflightAppDBAuth(t *testing.T) {
	appdb := t.TempDir()
	const hosts = "db0:27017,db1:27017,db2:27017"
	if err := AddAppDBUser(appdb, "mongodb://"+hosts+"/", "om", "p@ss w"); err != nil {
		t.Fatal(err)
	}
	plain := "mongo.mongoUri=mongodb://om:" + url.PathEscape("p@ss w") + "@" + hosts + "/?maxPoolSize=100\n"
	a := server(t, appdb, plain)
	if err := Preflight(a); err != nil {
		t.Fatalf("plain credentials: %v", err)
	}
	key, err := os.ReadFile(a.GenKeyPath)
	if err != nil {
		t.Fatal(err)
	}
	for name, conf := range map[string]string{
		"no credentials":     "mongo.mongoUri=mongodb://" + hosts + "/?maxPoolSize=100\n",
		"wrong password":     "mongo.mongoUri=mongodb://om:nope@" + hosts + "/\n",
		"plain as encrypted": plain + "mongo.encryptedCredentials=true\n",
	} {
		c := server(t, appdb, conf)
		os.MkdirAll(strings.TrimSuffix(c.GenKeyPath, "/gen.key"), 0o700)
		os.WriteFile(c.GenKeyPath, key, 0o600)
		if err := Preflight(c); err == nil || !strings.Contains(err.Error(), "cannot connect to the Application Database") {
			t.Errorf("%s: %v", name, err)
		}
	}
	enc := "mongo.mongoUri=mongodb://" + EncryptCredential(key, "om") + ":" + EncryptCredential(key, "p@ss w") + "@" + hosts + "/\nmongo.encryptedCredentials=true\n"
	c := server(t, appdb, enc)
	os.MkdirAll(strings.TrimSuffix(c.GenKeyPath, "/gen.key"), 0o700)
	os.WriteFile(c.GenKeyPath, key, 0o600)
	if err := Preflight(c); err != nil {
		t.Fatalf("encrypted credentials: %v", err)
	}
}
