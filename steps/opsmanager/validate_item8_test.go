package opsmanager

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
)

// TestAnswersRefuseBadValues: every bad address, server and user name is an
// error naming its field, found by LoadAnswers (before anything connects).
func TestAnswersRefuseBadValues(t *testing.T) {
	valid := `ssh: {user: admin}
servers:
  - {name: om1, address: 10.0.0.11, install: package}
  - {name: om2, address: om2.example.net, install: package, user: opsadmin}
appdb:
  uri: mongodb://db1.example.net:27017,db2.example.net:27017,10.0.0.23:27017/?maxPoolSize=100
  members:
    - {host: db1.example.net:27017}
    - {host: db2.example.net:27017}
    - {host: 10.0.0.23:27017}
load_balancer:
  url: http://opsmanager.example.net:8080
  dns_servers: [10.0.0.53, "ns1.example.net:53"]
agents:
  - {name: db1, address: db1.example.net}
`
	p := HA()
	if _, err := steps.LoadAnswers(p, []byte(valid)); err != nil {
		t.Fatalf("valid answers refused: %v", err)
	}
	for _, c := range []struct{ old, new, field string }{
		{"dns_servers: [10.0.0.53,", `dns_servers: ["999.0.0.1:53",`, "load_balancer.dns_servers[0]"},
		{"  dns_servers:", "  dns_resolver: ns1:0\n  dns_servers:", "load_balancer.dns_resolver"},
		{"address: 10.0.0.11,", "address: 10.0.0.300,", "servers[0].address"},
		{"address: db1.example.net}", "address: db1..example.net}", "agents[0].address"},
		{"user: opsadmin}", "user: 'ops admin'}", "servers[1].user"},
		{"ssh: {user: admin}", "ssh: {user: '1000'}", "ssh.user"},
		{"10.0.0.23:27017/?", "10.0.0.999:27017/?", "appdb.uri"},
		{"{host: 10.0.0.23:27017}", "{host: db_3:27017}", "appdb.members[2].host"},
		{"url: http://opsmanager.example.net:8080", "url: http://999.1.1.1:8080", "load_balancer.url"},
	} {
		y := strings.Replace(valid, c.old, c.new, 1)
		if y == valid {
			t.Fatalf("case %s: %q not found", c.field, c.old)
		}
		_, err := steps.LoadAnswers(p, []byte(y))
		if err == nil || !strings.Contains(err.Error(), c.field+":") {
			t.Errorf("%s = %q: err = %v", c.field, c.new, err)
		}
	}
}

// TestUpgradePlaceholdersRefused: a placeholder left in the upgrade answers
// (the template's commented <64 hex digits>, uncommented) is named.
func TestUpgradePlaceholdersRefused(t *testing.T) {
	dir := t.TempDir()
	pkg := filepath.Join(dir, "mongodb-mms-8.0.1.500.20241029T1739Z.amd64.deb")
	os.WriteFile(pkg, []byte("pkg"), 0o644)
	y := strings.NewReplacer("./mongodb-mms-8.0.1.500.20241029T1739Z.amd64.deb", pkg, "# sha256: <64 hex digits>", "sha256: <64 hex digits>",
		"user: admin", "user: <ssh user>").Replace(TemplateUpgrade)
	_, err := steps.LoadAnswers(UpgradeProcedure(), []byte(y))
	if err == nil || !strings.Contains(err.Error(), `upgrade.sha256: "<64 hex digits>" is a placeholder`) ||
		!strings.Contains(err.Error(), `ssh.user: "<ssh user>" is a placeholder`) || strings.Contains(err.Error(), "64 hex digits\n") {
		t.Fatalf("err = %v", err)
	}
}
