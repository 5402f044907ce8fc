package fleet

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps/opsmanager"
	"github.com/hawiz/hawiz/tui"
)

// The stand-in scripts exec this test binary's `__standin`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "__standin" {
		os.Exit(Standin(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runPlain runs the demo like `hawiz demo --plain` and checks that nothing
// is left behind: root removed, ports closed, stand-in processes gone.
func runPlain(t *testing.T, o Options) string {
	t.Helper()
	out, _ := runPlainDemo(t, o)
	return out
}

// runPlainDemo is runPlain returning the (closed) demo too; o.TempDir
// defaults to a fresh t.TempDir().
func runPlainDemo(t *testing.T, o Options) (string, *Demo) {
	t.Helper()
	if o.TempDir == "" {
		o.TempDir = t.TempDir()
	}
	d, err := Setup(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	t0 := time.Now()
	oc, runErr := d.RunPlain(ctx, &out, tui.NewPlainRenderer(&out))
	t.Logf("demo %s: %v", o.Procedure, time.Since(t0))
	pids := d.Fleet.PIDs()
	if len(pids) == 0 && runErr == nil {
		t.Error("no stand-in service was running at the end of the run")
	}
	ports := d.Fleet.Ports()
	root := d.Fleet.Root
	if err := d.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if runErr != nil {
		t.Fatalf("run: %v (status %s at %s)\n%s", runErr, oc.Status, oc.Step, out.String())
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("demo root %s left behind (%v)", root, err)
	}
	for _, p := range pids {
		if Alive(p) {
			t.Errorf("stand-in pid %d still running", p)
		}
	}
	for _, a := range ports {
		if err := closedSoon(a, 10*time.Second); err != nil {
			t.Error(err)
		}
	}
	return out.String(), d
}

// closedSoon waits until nothing of the demo listens on addr. A stand-in's
// port is an ephemeral one: once freed, another process on this machine may
// bind it, and its listener is not the demo's (seen under go test ./... on
// a loaded machine). The owner is found through /proc; one that cannot be
// found counts as the demo's.
func closedSoon(addr string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return nil
		}
		c.Close()
		pid, cmd := listenerOwner(addr)
		ours := pid == 0 || pid == os.Getpid() || strings.Contains(cmd, "__standin")
		if !ours {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still listening after the demo closed (pid %d %q)", addr, pid, cmd)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// listenerOwner finds the process listening on addr's TCP port (Linux
// /proc; 0 and "" when it cannot tell).
func listenerOwner(addr string) (int, string) {
	_, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(f)
		for _, l := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(l)
			if len(fs) < 10 || fs[3] != "0A" { // LISTEN
				continue
			}
			if i := strings.LastIndex(fs[1], ":"); i >= 0 {
				if p, err := strconv.ParseUint(fs[1][i+1:], 16, 32); err == nil && int(p) == n {
					inodes["socket:["+fs[9]+"]"] = true
				}
			}
		}
	}
	if len(inodes) == 0 {
		return 0, ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		if l, err := os.Readlink(fd); err == nil && inodes[l] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			return pid, strings.ReplaceAll(string(cmd), "\x00", " ")
		}
	}
	return 0, ""
}

func TestDemoPlainMicetro(t *testing.T) {
	out := runPlain(t, Options{Procedure: "micetro-central-ha", Members: 3, Seed: 3})
	for _, want := range []string{
		"the demo accepts the host key",
		"the demo confirms this manual step itself",
		"central.demo.hawiz.test",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if testing.Verbose() {
		t.Log(out)
	}
}

func TestDemoPlainOpsManager(t *testing.T) {
	out := runPlain(t, Options{Procedure: "opsmanager-ha", Members: 3, Seed: 3})
	if strings.Contains(out, DemoAppDBPassword) {
		t.Errorf("the App DB password is in the output")
	}
	// The live App DB check reads the stand-in App DB through om1's SSH
	// connection, by the members' names, and finds it as the answers say.
	if !regexp.MustCompile(`live replica set "appdb" version 1 \(read from appdb[123]\.demo\.hawiz\.test:27017 through om1's SSH connection\): .*[:;] matches the answers`).MatchString(out) ||
		strings.Contains(out, "App DB not reachable") {
		t.Errorf("the live App DB check did not read the demo's App DB:\n%s", out)
	}
	if testing.Verbose() {
		t.Log(out)
	}
}

func TestDemoPlainMicetroUpgrade(t *testing.T) {
	out := runPlain(t, Options{Procedure: "micetro-central-upgrade", Members: 3, Seed: 3})
	if !strings.Contains(out, DemoUpgradeVersion) {
		t.Errorf("output never names %s:\n%s", DemoUpgradeVersion, out)
	}
	if testing.Verbose() {
		t.Log(out)
	}
}

// A fleet with a fixed root comes back as it was: same SSH, DNS and LB
// ports, host keys and files, and the services that ran are started again
// (on ports they bind and publish themselves, reached through 1231).
func TestFleetRestoredFromFixedRoot(t *testing.T) {
	root := t.TempDir() + "/demo"
	cfg := Config{Kind: Micetro, Hosts: []string{"central1", "central2"}, Root: root, Cluster: true}
	f, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ports, key := f.fixedPorts(), f.Hosts[0].SSH.HostKey().Marshal()
	os.WriteFile(f.Hosts[1].Root+"/var/mmsuite/mmcentral/marker", []byte("x"), 0o644)
	stop := exec.Command(os.Args[0], "__standin", "systemctl", "stop", "mmcentral")
	stop.Env = append(os.Environ(), "HAWIZ_ROOT="+f.Hosts[1].Root)
	if out, err := stop.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	g, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if fmt.Sprint(g.fixedPorts()) != fmt.Sprint(ports) || !bytes.Equal(g.Hosts[0].SSH.HostKey().Marshal(), key) {
		t.Fatalf("ports %v, want %v (or the host key changed)", g.fixedPorts(), ports)
	}
	if g.Hosts[0].ServiceAddr() == "" || g.Hosts[1].ServiceAddr() != "" {
		t.Fatalf("service addresses %q %q, want central1's only", g.Hosts[0].ServiceAddr(), g.Hosts[1].ServiceAddr())
	}
	if _, err := os.Stat(g.Hosts[1].Root + "/var/mmsuite/mmcentral/marker"); err != nil {
		t.Fatal("the host's files were not kept")
	}
	if pids := g.PIDs(); len(pids) != 1 || !Alive(pids[0]) {
		t.Fatalf("running services after restore: %v, want central1's only", pids)
	}
}

// readDemoAppDB reads the demo App DB's configuration as the live check
// does: by a member's name, through host h's SSH connection (DialTCPAddr).
func readDemoAppDB(t *testing.T, f *Fleet, h *Host) (opsmanager.LiveConfig, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fl, err := remote.Connect(ctx, remote.Options{SSHConfigFile: "none", AgentSocket: "none", InsecureIgnoreHostKeysForTests: true},
		[]remote.HostConfig{{Name: h.Name, Address: "127.0.0.1", Port: h.SSH.Port(), User: demoUser(), IdentityFiles: []string{f.KeyFile}}})
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	return opsmanager.ReadLiveConfig(ctx, "mongodb://"+AppDBHosts()[0]+"/", AppDBUser, DemoAppDBPassword, 2*time.Second, fl.Host(h.Name).DialTCPAddr)
}

// The Ops Manager fleet's App DB answers by the members' names through the
// hosts' SSH connections; Stop closes it, and a restored fleet starts it
// again.
func TestOpsManagerFleetAppDB(t *testing.T) {
	root := t.TempDir() + "/demo"
	cfg := Config{Kind: OpsManager, Hosts: []string{"om1", "om2"}, Root: root}
	f, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	live, err := readDemoAppDB(t, f, f.Hosts[0])
	if err != nil {
		f.Stop()
		t.Fatalf("the App DB through om1: %v", err)
	}
	if live.SetName != AppDBSetName || len(live.Members) != len(AppDBHosts()) || live.Members[2].Host != AppDBHosts()[2] {
		t.Errorf("live config %+v", live)
	}
	addr := f.AppDB.Addr()
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("the App DB %s still listens after Stop", addr)
	}
	g, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := readDemoAppDB(t, g, g.Hosts[1]); err != nil {
		t.Fatalf("the restored fleet's App DB through om2: %v", err)
	}
}
