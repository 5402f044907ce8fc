//go:build e2e

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/hawiz/hawiz/lab/standins/mmcentral"
)

const mmPrefs = "/var/mmsuite/mmcentral/preferences.cfg"

// buildMmcentrald builds the Central stand-in's daemon once.
func buildMmcentrald(dir string) []byte {
	out := filepath.Join(dir, "mmcentrald")
	if b, err := exec.Command("go", "build", "-o", out, "github.com/hawiz/hawiz/lab/standins/mmcentral/mmcentrald").CombinedOutput(); err != nil {
		die("go build mmcentrald: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		die("%v", err)
	}
	return b
}

// micetroReset puts a fresh stand-in Central 10.3.5 (running, MSSQL
// preferences.cfg, no ClusterMemberName, no backups) on hosts 0..n-1: the
// state both hawiz and the playbook start from.
func micetroReset(l *lab, n int, daemon []byte) {
	parallel(n, func(i int) {
		l.sh(i, "sudo systemctl stop mmcentral 2>/dev/null; true")
		for _, d := range []string{"/var/mmsuite/mmcentral/logs", "/usr/share/mmcentral-standin"} {
			if err := os.MkdirAll(l.hostPath(i, d), 0o755); err != nil {
				die("%v", err)
			}
		}
		old, _ := filepath.Glob(l.hostPath(i, mmPrefs+".*"))
		old = append(old, l.hostPath(i, "/usr/share/mmcentral-standin/install.log"))
		for _, f := range old {
			os.Remove(f)
		}
		for path, content := range map[string]string{
			"/usr/sbin/mmcentrald":                 string(daemon),
			"/etc/hawiz-lab/services/mmcentral":    mmcentral.ServiceDefinition,
			mmPrefs:                                mmcentral.SamplePrefs,
			"/usr/share/mmcentral-standin/VERSION": "10.3.5\n",
			"/var/mmsuite/mmcentral/logs/.keep":    "",
		} {
			mode := os.FileMode(0o644)
			if strings.HasSuffix(path, "mmcentrald") {
				mode = 0o755
			}
			p := l.hostPath(i, path)
			os.Remove(p)
			if err := os.WriteFile(p, []byte(content), mode); err != nil {
				die("%v", err)
			}
		}
		l.mustSh(i, "sudo systemctl start mmcentral")
	})
}

// micetroDNS starts an authoritative server for lab.hawiz.test holding the
// round-robin name central.lab.hawiz.test with the first n members' addresses.
func micetroDNS(l *lab, n int) *dnstest.Server {
	zone := "$TTL 300\nlab.hawiz.test. IN SOA ns1.lab.hawiz.test. hostmaster.lab.hawiz.test. 2026112201 3600 600 86400 60\nlab.hawiz.test. IN NS ns1.lab.hawiz.test.\nns1 IN A 127.0.0.1\n"
	for i := 0; i < n; i++ {
		zone += "central 300 IN A " + l.addrs[i] + "\n"
	}
	s, err := dnstest.Start(dnstest.Config{Zones: map[string]string{"lab.hawiz.test": zone}})
	if err != nil {
		die("dns: %v", err)
	}
	return s
}

// micetroAnswers writes hawiz's answers for micetro-central-ha on n members.
func micetroAnswers(l *lab, dir string, n int, dnsAddr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\n", l.user, l.key, l.knownHosts)
	b.WriteString("members:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - name: central%d\n    host: {name: %s, address: %s, port: %d}\n    priority: %d\n", i+1, l.names[i], l.addrs[i], l.port, 10*(i+1))
	}
	fmt.Fprintf(&b, "dns:\n  name: central.lab.hawiz.test\n  servers: [%q]\n  resolver: 127.0.0.1:1\n", dnsAddr)
	p := filepath.Join(dir, fmt.Sprintf("micetro-%d.yaml", n))
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		die("%v", err)
	}
	return p
}
