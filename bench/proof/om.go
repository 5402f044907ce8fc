//go:build e2e

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
)

// omDeb builds the stand-in Ops Manager 7.0.0 .deb once.
func omDeb(dir string) string {
	bin := filepath.Join(dir, "mongodb-mms")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/hawiz/hawiz/lab/standins/opsmanager/mongodb-mms")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		die("go build mongodb-mms: %v\n%s", err, b)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		die("%v", err)
	}
	var b bytes.Buffer
	if err := omstandin.WriteDeb(&b, "7.0.0", data); err != nil {
		die("%v", err)
	}
	p := filepath.Join(dir, "mongodb-mms_7.0.0_amd64.deb")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		die("%v", err)
	}
	return p
}

func omResetHost(l *lab, i int) {
	l.sh(i, "sudo /opt/mongodb/mms/bin/mongodb-mms stop >/dev/null 2>&1; sudo dpkg --purge mongodb-mms >/dev/null 2>&1; "+
		"sudo rm -rf /etc/mongodb-mms /opt/mongodb/mms "+omstandin.InstallLog+"; sudo userdel mongodb-mms >/dev/null 2>&1; true")
}

// omSetup installs a fresh stand-in Ops Manager 7.0.0 package (stopped,
// default conf-mms.properties, no gen.key) on hosts 0..n-1 and starts an LB
// in front of them. It returns hawiz's answers file.
func omSetup(l *lab, dir string, n int, deb string) (answers string, stop func()) {
	data, err := os.ReadFile(deb)
	if err != nil {
		die("%v", err)
	}
	var backends []string
	for i := 0; i < n; i++ {
		backends = append(backends, net.JoinHostPort(l.addrs[i], "8080"))
	}
	parallel(n, func(i int) {
		omResetHost(l, i)
		if err := os.WriteFile(l.hostPath(i, "/tmp/mongodb-mms_7.0.0_amd64.deb"), data, 0o644); err != nil {
			die("%v", err)
		}
		l.mustSh(i, "sudo dpkg -i /tmp/mongodb-mms_7.0.0_amd64.deb >/dev/null")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		die("%v", err)
	}
	srv := &http.Server{Handler: &omstandin.LB{Backends: backends}}
	go srv.Serve(ln)
	tb := make([]byte, 4)
	rand.Read(tb)
	tag := hex.EncodeToString(tb)
	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\nservers:\n", l.user, l.key, l.knownHosts)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    install: package\n", l.names[i], l.addrs[i], l.port)
	}
	fmt.Fprintf(&b, "appdb:\n  uri: mongodb://db1-%[1]s.lab.hawiz.test:27017,db2-%[1]s.lab.hawiz.test:27017,db3-%[1]s.lab.hawiz.test:27017/?maxPoolSize=100\n  username: opsmanager\n  live_check: off\n", tag)
	fmt.Fprintf(&b, "load_balancer:\n  url: http://%s\nstart_timeout: 60s\ngen_key:\n  mode: first-server\n", ln.Addr())
	answers = filepath.Join(dir, fmt.Sprintf("om-%d.yaml", n))
	if err := os.WriteFile(answers, []byte(b.String()), 0o600); err != nil {
		die("%v", err)
	}
	return answers, func() {
		srv.Close()
		parallel(n, func(i int) { omResetHost(l, i) })
	}
}
