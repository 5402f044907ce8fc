package opsmanager

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
)

// A step run for a host the fleet does not hold (here: no fleet at all) gets
// an error naming the host from every Check, Apply and Verify, never a nil
// host to dereference. The answers name each server's service user and
// gen.key path, so resolveLayout itself needs no host and every lookup in
// the steps is reached.
func TestUnconnectedHostIsAnErrorNotAPanic(t *testing.T) {
	dir := t.TempDir()
	pkg := filepath.Join(dir, "mongodb-mms-8.0.1.x86_64.tar.gz")
	if err := os.WriteFile(pkg, []byte("archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	servers := `servers:
  - {name: om1, install: tar, install_dir: /opt/mms, service_user: mms, paths: {gen_key: /opt/keys/gen.key}}
  - {name: om2, install: tar, install_dir: /opt/mms, service_user: mms, paths: {gen_key: /opt/keys/gen.key}}
`
	ha := "ssh: {user: admin, sudo: none}\n" + servers + `appdb:
  uri: mongodb://db1.example.net:27017,db2.example.net:27017,db3.example.net:27017/
load_balancer: {url: "http://127.0.0.1:1"}
gen_key: {mode: %s, backup_to: ` + filepath.Join(dir, "gk") + `}
agents:
  - {name: db1, config_path: /etc/mongodb-mms/automation-agent.config}
`
	up := "ssh: {user: admin, sudo: none}\n" + servers + "upgrade: {package: " + pkg + ", version: 8.0.1}\ngen_key_backup_to: " + filepath.Join(dir, "gk2") + "\n"
	cases := []struct {
		p    *steps.Procedure
		yaml string
	}{
		{HA(), fmt.Sprintf(ha, "first-server")},
		{HA(), fmt.Sprintf(ha, "generate")},
		{UpgradeProcedure(), up},
	}
	for _, tc := range cases {
		a, err := steps.LoadAnswers(tc.p, []byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		list, err := tc.p.Steps(a)
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		for _, s := range list {
			hosts := s.Hosts
			if len(hosts) == 0 {
				hosts = []string{""}
			}
			for _, host := range hosts {
				e := steps.NewEnv(context.Background(), a, nil, nil)
				e.SetFact(factGenKeySHA, strings.Repeat("ab", 32))
				e.SetFact("upgrade.package.sha256", strings.Repeat("cd", 32))
				try := func(what string, f func() error) {
					t.Helper()
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("%s %s %s(%q) panicked: %v", tc.p.Name, s.ID, what, host, r)
						}
					}()
					err := f()
					calls++
					if err != nil && strings.Contains(err.Error(), "not connected") && !strings.Contains(err.Error(), "om1: not connected") &&
						!strings.Contains(err.Error(), host+": not connected") {
						t.Errorf("%s %s %s(%q): %v does not name the host", tc.p.Name, s.ID, what, host, err)
					}
				}
				if s.Check != nil {
					try("Check", func() error { _, _, err := s.Check(context.Background(), e, host); return err })
				}
				if s.Apply != nil {
					try("Apply", func() error { return s.Apply(context.Background(), e, host) })
				}
				if s.Verify != nil {
					try("Verify", func() error { _, err := s.Verify(context.Background(), e, host); return err })
				}
			}
		}
		if calls == 0 {
			t.Fatalf("%s: no step function called", tc.p.Name)
		}
	}
}
