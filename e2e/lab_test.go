//go:build e2e

// Package e2e runs hawiz against the real lab (lab/sshd.sh, lab/bind.sh):
//
//	sudo lab/sshd.sh start 3 && go test -tags e2e ./e2e/... ; sudo lab/sshd.sh stop
//
// The lab is described by its env file ($HAWIZ_LAB_ENV, else $HAWIZ_LAB_DIR/env, else
// /tmp/hawiz-lab/env). Without it the tests skip, except under CI=true where they fail:
// CI must never pass because the lab was missing.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Lab is what lab/sshd.sh start wrote into its env file.
type Lab struct {
	Dir        string
	Names      []string // lab1 …
	Addrs      []string // 127.0.0.11 …
	Port       int
	User       string // NOPASSWD sudo
	PWUser     string // sudo asks for Password
	Password   string // PWUser's login and sudo password
	Key        string // unencrypted ed25519 key, authorized for both users
	EncKey     string // the same kind, encrypted with Passphrase
	Passphrase string
	KnownHosts string // every host's ed25519 key, as OpenSSH would record it
	Env        map[string]string
}

func labEnvFile() string {
	if f := os.Getenv("HAWIZ_LAB_ENV"); f != "" {
		return f
	}
	if d := os.Getenv("HAWIZ_LAB_DIR"); d != "" {
		return filepath.Join(d, "env")
	}
	return "/tmp/hawiz-lab/env"
}

// needLab loads the lab or skips the test (fails it under CI).
func needLab(t testing.TB) *Lab {
	t.Helper()
	f := labEnvFile()
	env, err := readEnvFile(f)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("lab env %s: %v (CI=%s: the e2e suite must run against the lab; start it with lab/sshd.sh start)", f, err, os.Getenv("CI"))
		}
		t.Skipf("no lab (%v): start it with `sudo lab/sshd.sh start 3`", err)
	}
	l := &Lab{
		Dir: env["HAWIZ_LAB_DIR"], Names: strings.Fields(env["HAWIZ_LAB_NAMES"]),
		Addrs: strings.Fields(env["HAWIZ_LAB_ADDRS"]), User: env["HAWIZ_LAB_USER"],
		PWUser: env["HAWIZ_LAB_PW_USER"], Password: env["HAWIZ_LAB_PASSWORD"],
		Key: env["HAWIZ_LAB_KEY"], EncKey: env["HAWIZ_LAB_ENC_KEY"],
		Passphrase: env["HAWIZ_LAB_KEY_PASSPHRASE"], KnownHosts: env["HAWIZ_LAB_KNOWN_HOSTS"], Env: env,
	}
	l.Port, err = strconv.Atoi(env["HAWIZ_LAB_PORT"])
	if err != nil || len(l.Names) == 0 || len(l.Names) != len(l.Addrs) || l.User == "" || l.Key == "" {
		t.Fatalf("lab env %s is incomplete: %v", f, env)
	}
	return l
}

// needHosts fails when the lab has fewer than n hosts.
func (l *Lab) needHosts(t testing.TB, n int) {
	t.Helper()
	if len(l.Names) < n {
		t.Fatalf("this test needs %d lab hosts, the lab has %d (lab/sshd.sh start %d)", n, len(l.Names), n)
	}
}

func readEnvFile(name string) (map[string]string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env[k] = v
	}
	return env, sc.Err()
}

// knownHostsCopy is a private copy of the lab's known_hosts (tests may append to it).
func (l *Lab) knownHostsCopy(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(l.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// hostDir is the lab's state dir of host i (0-based).
func (l *Lab) hostDir(i int) string { return filepath.Join(l.Dir, "hosts", l.Names[i]) }

// savedPID reads "PID STARTTIME …" from a lab pid file and checks the process is
// still that one (a recycled PID is never used).
func savedPID(t testing.TB, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("lab pid file: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		t.Fatalf("lab pid file %s: %q", file, b)
	}
	pid, _ := strconv.Atoi(f[0])
	if st := startTime(pid); st == "" || st != f[1] {
		t.Fatalf("lab process %d from %s is gone (start time %q, saved %s)", pid, file, st, f[1])
	}
	return pid
}

// startTime is field 22 of /proc/PID/stat, "" when the process is gone or a zombie.
func startTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	s = s[strings.LastIndexByte(s, ')')+2:]
	f := strings.Fields(s)
	if len(f) < 20 || f[0] == "Z" {
		return ""
	}
	return f[19]
}

// initPID is the root-namespace PID of host i's namespace PID 1.
func (l *Lab) initPID(t testing.TB, i int) int {
	return savedPID(t, filepath.Join(l.hostDir(i), "pid"))
}

// sshdPID is the root-namespace PID of host i's listening sshd.
func (l *Lab) sshdPID(t testing.TB, i int) int {
	return savedPID(t, filepath.Join(l.hostDir(i), "sshd.pid"))
}

// hostPath is PATH as host i sees it, from outside (through its PID 1's root).
func (l *Lab) hostPath(t testing.TB, i int, path string) string {
	return fmt.Sprintf("/proc/%d/root%s", l.initPID(t, i), path)
}

func children(pid int) []int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func descendants(pid int) []int {
	var out []int
	for _, c := range children(pid) {
		out = append(out, c)
		out = append(out, descendants(c)...)
	}
	return out
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// connections lists host i's per-connection sshd processes (the listener's children:
// "sshd: USER [priv]"), one per SSH connection.
func (l *Lab) connections(t testing.TB, i int) []int {
	var out []int
	for _, c := range children(l.sshdPID(t, i)) {
		if comm(c) == "sshd" {
			out = append(out, c)
		}
	}
	return out
}

// sshdSessionProcs is every sshd process serving a connection to host i (monitor and
// user-privilege children), found from the lab's saved listener PID, never by name
// across the system.
func (l *Lab) sshdSessionProcs(t testing.TB, i int) []int {
	var out []int
	for _, c := range descendants(l.sshdPID(t, i)) {
		if comm(c) == "sshd" {
			out = append(out, c)
		}
	}
	return out
}

// rawClient dials host i with bare x/crypto/ssh (no hawiz code): the lab's own checks
// and the bench floor.
func (l *Lab) rawClient(t testing.TB, i int, user string) *ssh.Client {
	t.Helper()
	c, err := l.dialRaw(i, user)
	if err != nil {
		t.Fatalf("%s: %v", l.Names[i], err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (l *Lab) dialRaw(i int, user string) (*ssh.Client, error) {
	kb, err := os.ReadFile(l.Key)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(kb)
	if err != nil {
		return nil, err
	}
	hk, err := knownhosts.New(l.KnownHosts)
	if err != nil {
		return nil, err
	}
	return ssh.Dial("tcp", net.JoinHostPort(l.Addrs[i], strconv.Itoa(l.Port)), &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hk, HostKeyAlgorithms: []string{ssh.KeyAlgoED25519}, Timeout: 10 * time.Second,
	})
}

// rawRun runs a shell command line over a raw client; it fails the test on transport
// errors and returns stdout, stderr and the exit status.
func rawRun(t testing.TB, c *ssh.Client, cmd string, stdin []byte) (string, string, int) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	if stdin != nil {
		s.Stdin = bytes.NewReader(stdin)
	}
	code := 0
	if err := s.Run(cmd); err != nil {
		ee, ok := err.(*ssh.ExitError)
		if !ok {
			t.Fatalf("run %q: %v", cmd, err)
		}
		code = ee.ExitStatus()
	}
	return out.String(), errb.String(), code
}

// waitFor polls cond until it holds or d passes (bounded waits on the lab's own
// asynchronous effects; never a sleep used as an assertion).
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
