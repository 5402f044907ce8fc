package mmcentral

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckPrefs(t *testing.T) {
	ok := []string{
		SamplePrefs,
		SamplePrefs + `<ClusterMemberName value="central1"/>` + "\n",
		strings.ReplaceAll(SamplePrefs, "\n", "\r\n"),
		"<database value=\"postgresql\"/>\n<databaseserver value=\"h@db\"/>\n",
	}
	for _, s := range ok {
		if _, err := CheckPrefs([]byte(s)); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	bad := map[string]string{
		"": "no settings",
		SamplePrefs + "<ClusterMemberName value=“x”/>\n":     "non-ASCII",
		SamplePrefs + "<ClusterMemberName value=\"x\"\n":     "cannot parse",
		strings.Replace(SamplePrefs, "MSSQL", "SQLite", 1):   "SQLite",
		"<DatabaseServer value=\"x\"/>\n":                    "no Database",
		SamplePrefs + "<Database value=\"MSSQL\"/>\n":        "twice",
		SamplePrefs + "<HeartbeatInterval value=\"ten\"/>\n": "not a number",
	}
	for s, want := range bad {
		_, err := CheckPrefs([]byte(s))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", s, err, want)
		}
	}
}

func TestServeRefusesAndServes(t *testing.T) {
	dir := t.TempDir()
	vf := filepath.Join(dir, "VERSION")
	os.WriteFile(vf, []byte("10.3.5\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Serve(ctx, Config{Dir: dir, Port: 0, VersionFile: vf}); err == nil {
		t.Fatal("started without preferences.cfg")
	}
	log, _ := os.ReadFile(filepath.Join(dir, "logs", "mmcentral-startup.log"))
	if !strings.Contains(string(log), "not started") {
		t.Fatalf("startup log %q", log)
	}
	os.WriteFile(filepath.Join(dir, "preferences.cfg"), []byte(SamplePrefs+`<ClusterMemberName value="c1"/>`+"\n"), 0o644)
	// An ephemeral port, published (the demo's way; the lab binds 1231).
	pf := filepath.Join(dir, "service.port")
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, Config{Dir: dir, VersionFile: vf, PortFile: pf, Ready: func(a string) { ready <- a }})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("not ready")
	}
	if b, _ := os.ReadFile(pf); string(b) != fmt.Sprintf("%s %d\n", addr[strings.LastIndex(addr, ":")+1:], os.Getpid()) {
		t.Fatalf("published %q, listening on %s", b, addr)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if l != "MICETRO-CENTRAL-STANDIN 10.3.5 c1\n" {
		t.Fatalf("greeting %q", l)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWriteInstaller(t *testing.T) {
	var b bytes.Buffer
	if err := WriteInstaller(&b, "10.3.6"); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	names := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		d, _ := io.ReadAll(tr)
		names[h.Name] = string(d)
	}
	if names["micetro-central-10.3.6.linux.x64/VERSION"] != "10.3.6\n" || !strings.HasPrefix(names["micetro-central-10.3.6.linux.x64/install"], "#!/bin/sh") {
		t.Fatalf("%v", names)
	}
}
