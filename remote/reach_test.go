package remote

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote/sshtest"
)

// binDir makes a directory holding only the named programs (symlinks to
// this machine's), for a PATH that lacks the others.
func binDir(t *testing.T, progs ...string) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range append([]string{"sh"}, progs...) {
		real, err := exec.LookPath(p)
		if err != nil {
			t.Skipf("no %s on this machine", p)
		}
		if err := os.Symlink(real, filepath.Join(d, p)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// openAndClosed returns a port something listens on (for the test's life)
// and one nothing does.
func openAndClosed(t *testing.T) (int, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln2.Addr().(*net.TCPAddr).Port
	ln2.Close()
	return ln.Addr().(*net.TCPAddr).Port, closed
}

// ReachTCP runs on the host with the first tool it has: bash's /dev/tcp,
// else nc, else curl telnet://; it says which; a refused port is a Reach
// with OK false and the tool's words, not an error.
func TestReachTCPTools(t *testing.T) {
	open, closed := openAndClosed(t)
	// A stand-in nc records its argv and answers as nc -z would: the test
	// machine need not have netcat.
	ncDir := binDir(t, "cat")
	os.WriteFile(filepath.Join(ncDir, "nc"), []byte("#!/bin/sh\necho \"$@\" >>\"$NC_LOG\"\n[ \"$5\" = "+itoa(open)+" ]\n"), 0o755)
	ncLog := filepath.Join(t.TempDir(), "nc.log")
	cases := []struct {
		name, path, tool string
		env              []string
	}{
		{"bash", binDir(t, "bash", "timeout"), "bash /dev/tcp", nil},
		{"bash-no-timeout", binDir(t, "bash"), "bash /dev/tcp", nil},
		{"nc", ncDir, "nc", []string{"NC_LOG=" + ncLog}},
		{"curl", binDir(t, "curl", "grep"), "curl telnet://", nil},
	}
	l := newLab(t)
	var servers []*sshtest.Server
	for _, c := range cases {
		servers = append(servers, l.server(func(cfg *sshtest.Config) { cfg.Env = append([]string{"PATH=" + c.path}, c.env...) }))
	}
	f := l.connect(l.opts(), servers...)
	ctx := ctxT(t)
	for i, c := range cases {
		h := f.Host("web" + itoa(i+1))
		r, err := h.ReachTCP(ctx, "127.0.0.1", open, 2*time.Second)
		if err != nil || !r.OK || r.Tool != c.tool {
			t.Fatalf("%s: open port: %+v %v, want OK with %s", c.name, r, err, c.tool)
		}
		r, err = h.ReachTCP(ctx, "127.0.0.1", closed, 2*time.Second)
		if err != nil || r.OK || r.Tool != c.tool || r.Detail == "" {
			t.Fatalf("%s: closed port: %+v %v, want not OK with %s and its words", c.name, r, err, c.tool)
		}
	}
	b, _ := os.ReadFile(ncLog)
	if want := "-z -w 2 127.0.0.1 " + itoa(open) + "\n"; !strings.HasPrefix(string(b), want) {
		t.Fatalf("nc was run as %q, want %q first", b, want)
	}
}

// A host with none of the tools is refused, naming the host and what to
// install: never a pass.
func TestReachTCPNoTool(t *testing.T) {
	l := newLab(t)
	s := l.server(func(c *sshtest.Config) { c.Env = []string{"PATH=" + binDir(t)} })
	f := l.connect(l.opts(), s)
	_, err := f.Host("web1").ReachTCP(ctxT(t), "127.0.0.1", 22, time.Second)
	if !errors.Is(err, ErrNoTCPClient) || !strings.Contains(err.Error(), "host web1") || !strings.Contains(err.Error(), "install bash, nc (netcat) or curl") {
		t.Fatalf("no tool: %v", err)
	}
}

// Hostile or malformed targets are refused before anything runs on the
// host; a name is passed as data (a positional parameter).
func TestReachTCPRefusesBadTargets(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	ctx := ctxT(t)
	before := s.Execs()
	marker := filepath.Join(t.TempDir(), "pwned")
	for _, a := range []struct {
		addr string
		port int
	}{
		{"$(touch " + marker + ")", 80}, {"a;touch " + marker, 80}, {"-oProxyCommand=touch", 80}, {"db1 db2", 80},
		{"", 80}, {"db1\n", 80}, {"fe80::1%eth0", 80}, {"-db", 80}, {"db-.example", 80}, {"/dev/tcp/x", 80},
		{"db1", 0}, {"db1", 65536}, {"db1", -1},
	} {
		if _, err := h.ReachTCP(ctx, a.addr, a.port, time.Second); err == nil || !strings.Contains(err.Error(), "host web1") {
			t.Fatalf("ReachTCP(%q, %d) = %v, want a refusal naming the host", a.addr, a.port, err)
		}
	}
	if n := s.Execs() - before; n != 0 {
		t.Fatalf("%d commands ran for refused targets", n)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a target was run as a command")
	}
	for _, ok := range []string{"db1", "db1.example.com", "db1.example.com.", "10.0.0.1", "::1", "xn--bcher-kva.example"} {
		if err := ValidTarget(ok, 5432); err != nil {
			t.Fatalf("ValidTarget(%q): %v", ok, err)
		}
	}
}

func TestFreeDisk(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	f := l.connect(l.opts(), s)
	h := f.Host("web1")
	dir := t.TempDir()
	d, err := h.FreeDisk(ctxT(t), filepath.Join(dir, "not", "yet"), false)
	if err != nil {
		t.Fatal(err)
	}
	if d.Path != dir || d.Avail <= 0 || d.Mount == "" {
		t.Fatalf("FreeDisk: %+v, want the nearest existing parent %s", d, dir)
	}
	if _, err := h.FreeDisk(ctxT(t), "relative/dir", false); err == nil {
		t.Fatal("a relative path was measured")
	}
}

func TestParseDF(t *testing.T) {
	out := "hawiz-path:/var/tmp\nFilesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/my disk    264212084 22946868  72554396      25% /var/my tmp\n"
	d, err := parseDF(out)
	if err != nil || d.Avail != 72554396*1024 || d.Mount != "/var/my tmp" || d.Path != "/var/tmp" {
		t.Fatalf("parseDF: %+v %v", d, err)
	}
	if _, err := parseDF("hawiz-path:/\nFilesystem\ngarbage\n"); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestParseTimeSync(t *testing.T) {
	for _, c := range []struct {
		out  string
		want TimeState
	}{
		{"hawiz-time:timedatectl\nyes\n", TimeSynced},
		{"hawiz-time:timedatectl\nno\n", TimeNotSynced},
		{"hawiz-time:chronyc\nReference ID    : C0A80101 (gw)\nStratum         : 3\nLeap status     : Normal\n", TimeSynced},
		{"hawiz-time:chronyc\nReference ID    : 00000000 ()\nLeap status     : Not synchronised\n", TimeNotSynced},
		{"hawiz-time:ntpq\n     remote  refid st\n==========\n*10.0.0.1  .GPS. 1\n+10.0.0.2 .GPS. 1\n", TimeSynced},
		{"hawiz-time:ntpq\n     remote  refid st\n==========\n 10.0.0.1  .INIT. 16\n", TimeNotSynced},
		{"hawiz-time:none\n", TimeUnknown},
		{"hawiz-time:timedatectl\nmaybe\n", TimeUnknown},
	} {
		if got := parseTimeSync(c.out); got.State != c.want || got.Evidence == "" {
			t.Fatalf("parseTimeSync(%q) = %+v, want state %d with evidence", c.out, got, c.want)
		}
	}
	if ts := parseW32tm("Leap Indicator: 0(no warning)\nStratum: 3\nSource: time.windows.com,0x9\n", 0); ts.State != TimeSynced {
		t.Fatalf("w32tm synced: %+v", ts)
	}
	if ts := parseW32tm("Leap Indicator: 3(not synchronized)\nSource: Local CMOS Clock\n", 0); ts.State != TimeNotSynced {
		t.Fatalf("w32tm unsynced: %+v", ts)
	}
	if ts := parseW32tm("The following error occurred: The service has not been started.", 1); ts.State != TimeUnknown {
		t.Fatalf("w32tm stopped: %+v", ts)
	}
}

// TimeSync on a host without any time service is unknown, with what was
// tried: the caller warns, never passes it silently.
func TestTimeSyncNone(t *testing.T) {
	l := newLab(t)
	s := l.server(func(c *sshtest.Config) { c.Env = []string{"PATH=" + binDir(t)} })
	f := l.connect(l.opts(), s)
	ts, err := f.Host("web1").TimeSync(ctxT(t))
	if err != nil || ts.State != TimeUnknown || !strings.Contains(ts.Evidence, "timedatectl") {
		t.Fatalf("TimeSync without a time service: %+v %v", ts, err)
	}
}
