//go:build e2e

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// lab is what lab/sshd.sh start wrote into its env file.
type lab struct {
	dir, user, key, knownHosts string
	names, addrs               []string
	port                       int

	mu      sync.Mutex
	clients map[int]*ssh.Client
}

func loadLab() (*lab, error) {
	f := os.Getenv("HAWIZ_LAB_ENV")
	if f == "" {
		d := os.Getenv("HAWIZ_LAB_DIR")
		if d == "" {
			d = "/tmp/hawiz-lab"
		}
		f = filepath.Join(d, "env")
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, fmt.Errorf("lab env: %w (start the lab: lab/sshd.sh start)", err)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && !strings.HasPrefix(k, "#") {
			env[k] = strings.Trim(v, `"'`)
		}
	}
	l := &lab{dir: env["HAWIZ_LAB_DIR"], user: env["HAWIZ_LAB_USER"], key: env["HAWIZ_LAB_KEY"],
		knownHosts: env["HAWIZ_LAB_KNOWN_HOSTS"], clients: map[int]*ssh.Client{}}
	l.port, _ = strconv.Atoi(env["HAWIZ_LAB_PORT"])
	l.addrs, l.names = strings.Fields(env["HAWIZ_LAB_ADDRS"]), strings.Fields(env["HAWIZ_LAB_NAMES"])
	if len(l.addrs) == 0 || len(l.addrs) != len(l.names) || l.port == 0 || l.key == "" {
		return nil, fmt.Errorf("lab env %s is incomplete", f)
	}
	return l, nil
}

// hostPath is PATH as host i sees it, from outside (root): /proc/INITPID/root/PATH.
func (l *lab) hostPath(i int, path string) string {
	b, err := os.ReadFile(filepath.Join(l.dir, "hosts", l.names[i], "pid"))
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("/proc/%s/root%s", strings.Fields(string(b))[0], path)
}

func (l *lab) clientConfig() (*ssh.ClientConfig, error) {
	kb, err := os.ReadFile(l.key)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(kb)
	if err != nil {
		return nil, err
	}
	hk, err := knownhosts.New(l.knownHosts)
	if err != nil {
		return nil, err
	}
	return &ssh.ClientConfig{User: l.user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hk, HostKeyAlgorithms: []string{ssh.KeyAlgoED25519}, Timeout: 10 * time.Second}, nil
}

func (l *lab) dial(i int) (*ssh.Client, error) {
	cfg, err := l.clientConfig()
	if err != nil {
		return nil, err
	}
	return ssh.Dial("tcp", net.JoinHostPort(l.addrs[i], strconv.Itoa(l.port)), cfg)
}

// client is a cached raw connection to host i (setup and reset only).
func (l *lab) client(i int) *ssh.Client {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.clients[i]; c != nil {
		return c
	}
	c, err := l.dial(i)
	if err != nil {
		die("%s: %v", l.names[i], err)
	}
	l.clients[i] = c
	return c
}

// sh runs a shell command line on host i and dies on a transport error.
func (l *lab) sh(i int, cmd string) (string, int) {
	s, err := l.client(i).NewSession()
	if err != nil {
		die("%s: session: %v", l.names[i], err)
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	if err != nil {
		if ee, ok := err.(*ssh.ExitError); ok {
			return string(out), ee.ExitStatus()
		}
		die("%s: %q: %v", l.names[i], cmd, err)
	}
	return string(out), 0
}

func (l *lab) mustSh(i int, cmd string) string {
	out, code := l.sh(i, cmd)
	if code != 0 {
		die("%s: %q: exit %d: %s", l.names[i], cmd, code, out)
	}
	return out
}

// parallel runs f for hosts 0..n-1 at once.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); f(i) }()
	}
	wg.Wait()
}

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench/proof: "+format+"\n", args...)
	os.Exit(2)
}
