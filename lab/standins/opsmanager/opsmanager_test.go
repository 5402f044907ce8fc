package opsmanager

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary act as the control program (re-exec).
func TestMain(m *testing.M) {
	if os.Getenv("HAWIZ_MMS_STANDIN_MAIN") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// server makes an install dir with conf, mms.conf and returns its Config.
// The server binds an ephemeral port and publishes it (as in the demo):
// a port reserved by listening and closing could be taken before the bind.
func server(t *testing.T, appdb string, conf string) Config {
	t.Helper()
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "conf"), 0o755)
	os.WriteFile(filepath.Join(d, "conf", "conf-mms.properties"), []byte(conf), 0o644)
	mc := "BASE_PORT=8080\nENC_KEY_PATH=" + filepath.Join(d, "etc", "gen.key") +
		"\nHAWIZ_STANDIN_BIND=127.0.0.1\nHAWIZ_STANDIN_APPDB_DIR=" + appdb +
		"\nHAWIZ_STANDIN_PORT_FILE=" + filepath.Join(d, "tmp", "mms0.port") + "\n"
	os.WriteFile(filepath.Join(d, "conf", "mms.conf"), []byte(mc), 0o644)
	c, err := LoadConfig(d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const goodConf = "# c\nmongo.mongoUri = mongodb://db0:27017,db1,db2:27017/?maxPoolSize=100\n"

func TestPreflightRules(t *testing.T) {
	appdb := t.TempDir()
	if err := Preflight(server(t, appdb, "# nothing\n")); err == nil || !strings.Contains(err.Error(), "mongo.mongoUri") {
		t.Fatalf("missing mongoUri: %v", err)
	}
	a := server(t, appdb, goodConf)
	if err := Preflight(a); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(a.GenKeyPath)
	if err != nil || st.Size() != GenKeySize || st.Mode().Perm() != 0o600 {
		t.Fatalf("gen.key not created as 24 bytes 0600: %v %v", st, err)
	}
	// Second server, same App DB (hosts in another order), no key: it
	// generates its own, which differs: refused.
	b := server(t, appdb, "mongo.mongoUri=mongodb://u:p@db2:27017,db0:27017,db1:27017/\n")
	if err := Preflight(b); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("different key: %v", err)
	}
	if !strings.Contains(tail(b.StartupLog(), 5), "ERROR") {
		t.Fatal("refusal not logged")
	}
	// With the first server's key it starts.
	k, _ := os.ReadFile(a.GenKeyPath)
	os.WriteFile(b.GenKeyPath, k, 0o600)
	if err := Preflight(b); err != nil {
		t.Fatal(err)
	}
	// A short key is refused.
	os.WriteFile(b.GenKeyPath, k[:10], 0o600)
	if err := Preflight(b); err == nil || !strings.Contains(err.Error(), "24 bytes") {
		t.Fatalf("short key: %v", err)
	}
}

func TestServeHealthAndLogs(t *testing.T) {
	c := server(t, t.TempDir(), goodConf)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, c, func(a string) { ready <- a }) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	if port, pid := ReadPublishedPort(c.PortFile); pid != os.Getpid() || "127.0.0.1:"+strconv.Itoa(port) != addr || c.ServeAddr() != addr {
		t.Fatalf("published port %d pid %d, ServeAddr %q; listening on %s", port, pid, c.ServeAddr(), addr)
	}
	resp, err := http.Get("http://" + addr + "/monitor/health?hawiz=abc123")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(LabServerHeader) == "" {
		t.Fatalf("health: %d %v", resp.StatusCode, resp.Header)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(c.StartupLog()); !bytes.Contains(b, []byte("ServerMain:266 - Started in: ")) {
		t.Fatalf("startup log: %s", b)
	}
	if b, _ := os.ReadFile(c.AccessLog()); !bytes.Contains(b, []byte("abc123")) {
		t.Fatalf("access log: %s", b)
	}
}

// Without HAWIZ_STANDIN_PORT_FILE (the lab) the server binds BASE_PORT on
// its host's address.
func TestLabBindsBasePort(t *testing.T) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "conf"), 0o755)
	os.WriteFile(filepath.Join(d, "conf", "mms.conf"), []byte("BASE_PORT=8443\nHAWIZ_STANDIN_BIND=127.0.2.11\n"), 0o644)
	c, err := LoadConfig(d)
	if err != nil {
		t.Fatal(err)
	}
	if c.PortFile != "" || c.bindAddr() != "127.0.2.11:8443" || c.ServeAddr() != "127.0.2.11:8443" {
		t.Fatalf("port file %q, bind %s, serve %s", c.PortFile, c.bindAddr(), c.ServeAddr())
	}
}

func TestControlStartStop(t *testing.T) {
	c := server(t, t.TempDir(), goodConf)
	run := func(action string) (int, string) {
		cmd := exec.Command(os.Args[0], action)
		cmd.Env = append(os.Environ(), "HAWIZ_MMS_STANDIN_MAIN=1", EnvInstallDir+"="+c.InstallDir)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if rc, _ := run("status"); rc != 3 {
		t.Fatalf("status before start = %d", rc)
	}
	if rc, out := run("start"); rc != 0 {
		t.Fatalf("start = %d: %s", rc, out)
	}
	t.Cleanup(func() { run("stop") })
	if !Healthy(c) {
		t.Fatal("not healthy after start")
	}
	if rc, _ := run("status"); rc != 0 {
		t.Fatalf("status running = %d", rc)
	}
	if rc, out := run("stop"); rc != 0 {
		t.Fatalf("stop = %d %s", rc, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for Healthy(c) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if Healthy(c) {
		t.Fatal("still serving after stop")
	}
	// A wrong key: start fails and says why.
	os.WriteFile(c.GenKeyPath, bytes.Repeat([]byte{1}, 24), 0o600)
	rc, out := run("start")
	if rc == 0 || !strings.Contains(out, "does not match") {
		t.Fatalf("start with a wrong key = %d: %s", rc, out)
	}
}

func TestWriteDebIsAnArArchive(t *testing.T) {
	var b bytes.Buffer
	if err := WriteDeb(&b, "7.0.1", []byte("#!/bin/sh\n")); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("!<arch>\ndebian-binary   ")) {
		t.Fatalf("not an ar archive: %q", b.Bytes()[:40])
	}
	if p, err := exec.LookPath("dpkg-deb"); err == nil {
		f := filepath.Join(t.TempDir(), "x.deb")
		os.WriteFile(f, b.Bytes(), 0o644)
		out, err := exec.Command(p, "-f", f, "Version").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "7.0.1" {
			t.Fatalf("dpkg-deb -f: %v %s", err, out)
		}
		out, err = exec.Command(p, "-c", f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "./opt/mongodb/mms/bin/mongodb-mms") {
			t.Fatalf("dpkg-deb -c: %v %s", err, out)
		}
	}
}
