package opsmanager

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

// Every step of both Ops Manager procedures, for package and archive installs
// and every gen_key mode, cites a MongoDB page by URL and section, never an
// internal code.
func TestDocRefsAreFollowable(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "gen.key")
	if err := os.WriteFile(key, make([]byte, GenKeySize), 0o600); err != nil {
		t.Fatal(err)
	}
	rpm, tgz := filepath.Join(dir, "mongodb-mms-8.0.1.x86_64.rpm"), filepath.Join(dir, "mongodb-mms-8.0.1.x86_64.tar.gz")
	for _, f := range []string{rpm, tgz} {
		if err := os.WriteFile(f, []byte("package"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const head = "ssh:\n  user: tester\n  ssh_config: none\nservers:\n"
	for _, install := range []string{"install: package", "install: tar\n    install_dir: /opt/om"} {
		pkg := rpm
		if install != "install: package" {
			pkg = tgz
		}
		var servers string
		for i := 1; i <= 2; i++ {
			servers += fmt.Sprintf("  - name: om%d\n    address: 10.0.0.%d\n    %s\n", i, i, install)
		}
		for _, gk := range []string{"  mode: first-server\n", "  mode: generate\n", "  mode: file\n  file: " + key + "\n"} {
			t.Run(install[:12]+"/"+gk[8:14], func(t *testing.T) {
				y := head + servers + "appdb:\n  uri: mongodb://db1.test:27017,db2.test:27017,db3.test:27017/?maxPoolSize=100\n  live_check: off\n" +
					"load_balancer:\n  url: http://om.example.net:8080\ngen_key:\n" + gk
				p := HA()
				a, err := steps.LoadAnswers(p, []byte(y))
				if err != nil {
					t.Fatalf("%v\n%s", err, y)
				}
				list, err := p.Steps(a)
				if err != nil {
					t.Fatal(err)
				}
				steptest.CheckDocRefs(t, list, "https://www.mongodb.com/docs/")
			})
		}
		t.Run(install[:12]+"/upgrade", func(t *testing.T) {
			y := head + servers + "upgrade:\n  package: " + pkg + "\n  version: 8.0.1\n  remote_dir: /tmp/om-up\n" +
				"gen_key_backup_to: " + dir + "\nload_balancer:\n  url: http://om.example.net:8080\n"
			p := UpgradeProcedure()
			a, err := steps.LoadAnswers(p, []byte(y))
			if err != nil {
				t.Fatalf("%v\n%s", err, y)
			}
			list, err := p.Steps(a)
			if err != nil {
				t.Fatal(err)
			}
			steptest.CheckDocRefs(t, list, "https://www.mongodb.com/docs/")
		})
	}
}

// Answer errors that cite the documents cite them by URL and section.
func TestAnswerErrorsCiteFollowableRefs(t *testing.T) {
	y := "ssh:\n  user: tester\n  ssh_config: none\nservers:\n  - name: om1\n    address: 10.0.0.1\n    install: package\n    os: windows\n" +
		"appdb:\n  uri: mongodb://db1.test:27017,db2.test:27017/\n  live_check: off\nload_balancer:\n  url: http://om.example.net:8080/ui\n  remote_ip_header: \"http://lb\"\n"
	_, err := steps.LoadAnswers(HA(), []byte(y))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	if c := internalCodeRE.FindString(msg); c != "" {
		t.Errorf("error carries the internal code %q:\n%s", c, msg)
	}
	for _, want := range []string{"https://www.mongodb.com/docs/ops-manager/current/reference/configuration/ (mms.centralUrl)", "(mms.remoteIp.header)", "#procedure (Procedure, step 3", "install-on-prem-windows/"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

var internalCodeRE = regexp.MustCompile(`\b[CM]\d+b?\b|procedures\.md|\.rst\b|§`)
