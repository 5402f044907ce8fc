package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRealSSHD runs a few primitives against a real sshd when
// HAWIZ_TEST_SSHD_ADDR (127.0.0.1:2222), HAWIZ_TEST_SSHD_USER and
// HAWIZ_TEST_SSHD_KEY are set; the e2e suite covers much more.
func TestRealSSHD(t *testing.T) {
	addr := os.Getenv("HAWIZ_TEST_SSHD_ADDR")
	if addr == "" {
		t.Skip("HAWIZ_TEST_SSHD_ADDR not set")
	}
	host, port, err := splitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := Options{SSHConfigFile: "none", AgentSocket: "none", KnownHostsFile: filepath.Join(dir, "known_hosts"),
		ConfirmHostKeys: func(_ context.Context, keys []NewHostKey) (map[string]bool, error) {
			return map[string]bool{keys[0].Host: true}, nil
		}}
	f, err := Connect(ctxT(t), o, []HostConfig{{Name: "real", Address: host, Port: port,
		User: os.Getenv("HAWIZ_TEST_SSHD_USER"), IdentityFiles: []string{os.Getenv("HAWIZ_TEST_SSHD_KEY")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := f.Host("real")
	ctx := ctxT(t)
	res, err := h.Run(ctx, Cmd{Program: "printf", Args: []string{"%s|", "it's", "$(x)"}})
	if err != nil || string(res.Stdout) != "it's|$(x)|" || len(res.Stderr) != 0 {
		t.Fatalf("%v %q %q", err, res.Stdout, res.Stderr)
	}
	_, err = h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", "sleep 1234 & sleep 1235"}, Timeout: 500 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "remote process killed") {
		t.Fatalf("timeout: %v", err)
	}
	res, err = h.Run(ctx, Cmd{Program: "pgrep", Args: []string{"-f", "sleep 123[45]"}})
	if err != nil || res.ExitStatus != 1 {
		t.Fatalf("processes survived the timeout: %v %q", err, res.Stdout)
	}
	p := "/tmp/hawiz-realsshd-test.txt"
	defer h.Run(ctx, Cmd{Program: "sh", Args: []string{"-c", `rm -f "$1" "$1".hawiz-*`, "sh", p}})
	if _, err := h.WriteFile(ctx, p, []byte("one\n"), WriteOptions{Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	data, fi, err := h.ReadFile(ctx, p, false)
	if err != nil || string(data) != "one\n" || fi.Mode.Perm() != 0o600 {
		t.Fatalf("%v %q %+v", err, data, fi)
	}
	wr, err := h.WriteFile(ctx, p, []byte("two\n"), WriteOptions{IfSHA256: fi.SHA256, Backup: true})
	if err != nil || wr.Backup == "" {
		t.Fatalf("%v %+v", err, wr)
	}
	if _, err := h.WriteFile(ctx, p, []byte("three\n"), WriteOptions{IfSHA256: fi.SHA256}); !errors.Is(err, ErrChanged) {
		t.Fatalf("CAS: %v", err)
	}
	if err := f.CheckSudo(ctx); err != nil {
		t.Logf("sudo -n: %v", err)
	}
}
