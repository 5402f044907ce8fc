// Package mmcentral is a stand-in for Micetro (Men&Mice) Central, for the lab
// and `hawiz demo`. It behaves as the docs say Central does, no more:
//
//   - it refuses to start (and logs why in DIR/logs/, like Central's startup
//     log, C4/C6) when preferences.cfg is missing, does not parse, holds
//     non-ASCII (typographic) quotes, or names no MSSQL/PostgreSQL database
//     (this stand-in never runs standalone on SQLite: it only exists for HA);
//   - when running it listens on TCP 1231 (C6) on the given address;
//   - it reports its version (`mmcentrald -v`), read from a version file that
//     the stand-in installer (installer.go) rewrites.
//
// The rules live here once; the lab binary (./mmcentrald) and the demo use them.
// They are written independently of steps/micetro's parser on purpose: the
// stand-in must not share the wizard's bugs.
package mmcentral

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Defaults of the stand-in (the real ones, procedures.md B.1).
const (
	DefaultDir         = "/var/mmsuite/mmcentral"
	DefaultPort        = 1231
	DefaultVersionFile = "/usr/share/mmcentral-standin/VERSION"
	DefaultVersion     = "10.3.5"
)

var line = regexp.MustCompile(`^\s*<([A-Za-z_][A-Za-z0-9_.:-]*)\s+value\s*=\s*"([^"<>&]*)"\s*/?\s*>\s*$`)

// CheckPrefs applies Central's startup rules to a preferences.cfg. It
// returns the elements (lower-cased name → value) or why Central would not
// start.
func CheckPrefs(b []byte) (map[string]string, error) {
	if !bytes.Contains(b, []byte("<")) {
		return nil, errors.New("preferences.cfg holds no settings")
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		t := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(t) == "" || strings.HasPrefix(strings.TrimSpace(t), "<!--") {
			continue
		}
		for _, r := range t {
			if r > 0x7e {
				return nil, fmt.Errorf("preferences.cfg line %d: non-ASCII character %q (typographic quotes?): %s", n, r, t)
			}
		}
		m := line.FindStringSubmatch(t)
		if m == nil {
			return nil, fmt.Errorf("preferences.cfg line %d: cannot parse: %s", n, t)
		}
		k := strings.ToLower(m[1])
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("preferences.cfg line %d: %s set twice", n, m[1])
		}
		out[k] = m[2]
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	switch db := strings.ToLower(out["database"]); db {
	case "mssql", "postgresql":
		if out["databaseserver"] == "" {
			return nil, errors.New("cannot connect to the database: no DatabaseServer")
		}
	case "":
		return nil, errors.New("no Database in preferences.cfg: this stand-in only runs with an MSSQL or PostgreSQL database")
	default:
		return nil, fmt.Errorf("database %q: this stand-in only runs with an MSSQL or PostgreSQL database", out["database"])
	}
	for _, k := range []string{"heartbeatinterval", "heartbeatmaxalloweddowntime"} {
		if v, ok := out[k]; ok {
			var x int
			if _, err := fmt.Sscanf(v, "%d", &x); err != nil || fmt.Sprint(x) != v {
				return nil, fmt.Errorf("%s %q is not a number", k, v)
			}
		}
	}
	return out, nil
}

// Version reads the version file (DefaultVersion when it does not exist).
func Version(file string) (string, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return DefaultVersion, nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Config of one stand-in Central.
type Config struct {
	Dir         string // data dir holding preferences.cfg and logs/ (default DefaultDir)
	Addr        string // IP to listen on (default 127.0.0.1)
	Port        int    // default 1231
	VersionFile string // default DefaultVersionFile
	// Ready, when set, is called with the listener's address once listening.
	Ready func(addr string)
	// PortFile (the demo only): bind an ephemeral port on Addr instead of
	// Port and publish it here, atomically, as "PORT PID\n" once listening.
	// The lab leaves it empty and binds its documented port.
	PortFile string
}

// Serve checks the preferences, logs the start in Dir/logs/ and serves on
// Addr:Port until ctx ends. Each connection gets one greeting line
// "MICETRO-CENTRAL-STANDIN VERSION NAME" and is closed.
func Serve(ctx context.Context, c Config) error {
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1"
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.VersionFile == "" {
		c.VersionFile = DefaultVersionFile
	}
	logf := startupLog(c.Dir)
	ver, err := Version(c.VersionFile)
	if err != nil {
		logf("cannot read the version: %v", err)
		return err
	}
	b, err := os.ReadFile(filepath.Join(c.Dir, "preferences.cfg"))
	if err != nil {
		logf("Central %s not started: %v", ver, err)
		return err
	}
	prefs, err := CheckPrefs(b)
	if err != nil {
		logf("Central %s not started: %v", ver, err)
		return err
	}
	port := c.Port
	if c.PortFile != "" {
		port = 0
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(c.Addr, fmt.Sprint(port)))
	if err != nil {
		logf("Central %s not started: %v", ver, err)
		return err
	}
	defer ln.Close()
	if c.PortFile != "" {
		if err := PublishPort(c.PortFile, ln.Addr().(*net.TCPAddr).Port); err != nil {
			logf("Central %s not started: %v", ver, err)
			return err
		}
	}
	name := prefs["clustermembername"]
	logf("Central %s started on %s (database %s, cluster member %q)", ver, ln.Addr(), prefs["database"], name)
	if c.Ready != nil {
		c.Ready(ln.Addr().String())
	}
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				logf("Central %s stopped", ver)
				return nil
			}
			return err
		}
		conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprintf(conn, "MICETRO-CENTRAL-STANDIN %s %s\n", ver, name)
		conn.Close()
	}
}

// startupLog appends to DIR/logs/mmcentral-startup.log (best effort) and stderr.
func startupLog(dir string) func(format string, args ...any) {
	return func(format string, args ...any) {
		msg := time.Now().UTC().Format(time.RFC3339) + " " + fmt.Sprintf(format, args...) + "\n"
		os.Stderr.WriteString(msg)
		if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
			return
		}
		f, err := os.OpenFile(filepath.Join(dir, "logs", "mmcentral-startup.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return
		}
		defer f.Close()
		f.WriteString(msg)
	}
}

// PublishPort writes "PORT PID\n" (this process) to path atomically: a
// reader sees the whole line or the previous file, never a partial one.
func PublishPort(path string, port int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d %d\n", port, os.Getpid())), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
