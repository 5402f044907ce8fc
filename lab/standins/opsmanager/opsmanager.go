// Package opsmanager is a stand-in for a MongoDB Ops Manager Application
// server, for the lab and `hawiz demo`. It behaves as the docs say Ops Manager
// does (procedures.md Part A), no more:
//
//   - start runs pre-flight checks first (M4): it refuses to start, and says
//     why in the startup log, when conf-mms.properties is missing or has no
//     mongo.mongoUri. (It does not treat mongo.replicaSet as obsolete: the
//     docs do not settle that, open question 4.)
//   - gen.key (M1): absent → it creates 24 random bytes, mode 0600, owned by
//     the service user. Present → its SHA-256 is compared with the key the
//     "Application Database" recorded: a file in AppDBDir shared between the
//     lab hosts, one per App DB (keyed by the mongoUri's host list). No
//     record yet → this key is recorded; a different key → it refuses to
//     start ("cannot connect to the backing databases", M1; the real error
//     text is not documented, open question 1). A key that is not 24 bytes
//     is refused too.
//   - App DB authentication (M4, M7): an App DB record holding a users file
//     (AddAppDBUser) accepts only a mongoUri with a user and password it
//     knows; with mongo.encryptedCredentials=true they are decrypted with
//     this server's gen.key first (EncryptCredential, the stand-in's
//     credentialstool, M21). A start that cannot authenticate is refused
//     ("cannot connect to the Application Database").
//   - running, it serves GET /monitor/health = 200 (M2) on the host's own
//     address and BASE_PORT (mms.conf, default 8080), logs every request to
//     logs/mms0-access.log, and adds the lab-only header X-Hawiz-Lab-Server
//     (real Ops Manager sends no such header).
//   - a successful start appends "ServerMain:266 - Started in: <n> (ms)" to
//     logs/mms0-startup.log (M11, M14).
//   - `mongodb-mms start|stop|restart|status|version`, like
//     <install_dir>/bin/mongodb-mms and `service mongodb-mms …` (M10, M11):
//     start waits until the server answers (or fails) like the real script.
//
// The rules live here once; the lab binary (./mongodb-mms) and the demo use
// them. They are written independently of steps/opsmanager's properties
// editor on purpose: the stand-in must not share the wizard's bugs.
package opsmanager

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults (procedures.md A.1).
const (
	DefaultInstallDir = "/opt/mongodb/mms"
	DefaultGenKey     = "/etc/mongodb-mms/gen.key"
	DefaultPort       = 8080
	DefaultAppDBDir   = "/dev/shm/hawiz-lab-appdb" // shared by every lab host (/tmp is private per host)
	DefaultVersion    = "7.0.0"
	GenKeySize        = 24
	LabServerHeader   = "X-Hawiz-Lab-Server"
)

// Config of one stand-in server.
type Config struct {
	InstallDir string // holds conf/, logs/, tmp/, VERSION
	ConfPath   string // conf-mms.properties (default InstallDir/conf/conf-mms.properties)
	GenKeyPath string // default from mms.conf ENC_KEY_PATH, else /etc/mongodb-mms/gen.key
	User       string // the service user (MMS_USER); "" = current user
	Addr       string // address to listen on (default $HAWIZ_HOST_ADDR, else 127.0.0.1)
	Port       int    // BASE_PORT (default 8080)
	AppDBDir   string // shared "Application Database" records
	Hostname   string // for the lab header (default os.Hostname)
	TLS        bool   // serve HTTPS with a self-signed certificate (mms.conf HAWIZ_STANDIN_TLS=1)
	// PortFile (mms.conf HAWIZ_STANDIN_PORT_FILE, the demo only): bind an
	// ephemeral port on Addr instead of Port and publish it here,
	// atomically, as "PORT PID\n" once listening. The lab leaves it unset
	// and binds BASE_PORT.
	PortFile string
	// GenKeySeed (mms.conf HAWIZ_STANDIN_GENKEY_SEED, the demo only): a
	// gen.key the stand-in creates is derived from it instead of random,
	// so `hawiz demo --seed N` shows the same key digests every time.
	GenKeySeed string
}

// LoadConfig reads InstallDir/conf/mms.conf (BASE_PORT, MMS_USER,
// ENC_KEY_PATH; lab-only HAWIZ_STANDIN_BIND, HAWIZ_STANDIN_APPDB_DIR,
// HAWIZ_STANDIN_CONF; demo-only HAWIZ_STANDIN_PORT_FILE,
// HAWIZ_STANDIN_GENKEY_SEED) and /etc/hawiz-lab/host.env when present.
func LoadConfig(installDir string) (Config, error) {
	c := Config{InstallDir: installDir}
	env := map[string]string{}
	for _, f := range []string{"/etc/hawiz-lab/host.env", filepath.Join(installDir, "conf", "mms.conf")} {
		b, err := os.ReadFile(f)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return c, err
		}
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if l == "" || l[0] == '#' {
				continue
			}
			l = strings.TrimPrefix(l, "export ")
			k, v, ok := strings.Cut(l, "=")
			if ok {
				env[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
			}
		}
	}
	c.User = env["MMS_USER"]
	c.Port = DefaultPort
	if p := env["BASE_PORT"]; p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return c, fmt.Errorf("mms.conf: BASE_PORT %q is not a port", p)
		}
		c.Port = n
	}
	c.Addr = firstNonEmpty(env["HAWIZ_STANDIN_BIND"], os.Getenv("HAWIZ_HOST_ADDR"), env["HAWIZ_HOST_ADDR"], "127.0.0.1")
	c.AppDBDir = firstNonEmpty(env["HAWIZ_STANDIN_APPDB_DIR"], DefaultAppDBDir)
	c.ConfPath = firstNonEmpty(env["HAWIZ_STANDIN_CONF"], filepath.Join(installDir, "conf", "conf-mms.properties"))
	c.GenKeyPath = DefaultGenKey
	if k := env["ENC_KEY_PATH"]; k != "" {
		home := os.Getenv("HOME")
		if c.User != "" {
			if u, err := user.Lookup(c.User); err == nil {
				home = u.HomeDir
			}
		}
		c.GenKeyPath = strings.NewReplacer("${HOME}", home, "$HOME", home).Replace(k)
	}
	c.Hostname, _ = os.Hostname()
	c.TLS = env["HAWIZ_STANDIN_TLS"] == "1"
	c.PortFile = env["HAWIZ_STANDIN_PORT_FILE"]
	c.GenKeySeed = env["HAWIZ_STANDIN_GENKEY_SEED"]
	return c, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (c Config) logsDir() string     { return filepath.Join(c.InstallDir, "logs") }
func (c Config) StartupLog() string  { return filepath.Join(c.logsDir(), "mms0-startup.log") }
func (c Config) AccessLog() string   { return filepath.Join(c.logsDir(), "mms0-access.log") }
func (c Config) pidFile() string     { return filepath.Join(c.InstallDir, "tmp", "mms0.pid") }
func (c Config) VersionFile() string { return filepath.Join(c.InstallDir, "VERSION") }
func (c Config) listenAddr() string  { return net.JoinHostPort(c.Addr, strconv.Itoa(c.Port)) }

// bindAddr is what Serve listens on: Addr:0 with a PortFile.
func (c Config) bindAddr() string {
	if c.PortFile != "" {
		return net.JoinHostPort(c.Addr, "0")
	}
	return c.listenAddr()
}

// ServeAddr is where the server answers: Addr:Port, or with a PortFile
// Addr and the port published there ("" while none is, or when the process
// that published it has ended).
func (c Config) ServeAddr() string {
	if c.PortFile == "" {
		return c.listenAddr()
	}
	port, pid := ReadPublishedPort(c.PortFile)
	if port == 0 || !processAlive(pid) {
		return "" // none yet, or the server that bound it is gone
	}
	return net.JoinHostPort(c.Addr, strconv.Itoa(port))
}

func (c Config) healthURL() string {
	scheme := "http://"
	if c.TLS {
		scheme = "https://"
	}
	if c.PortFile != "" {
		a := c.ServeAddr()
		if a == "" {
			a = net.JoinHostPort(c.Addr, "0") // not listening yet
		}
		return scheme + a + "/monitor/health"
	}
	return scheme + c.listenAddr() + "/monitor/health"
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
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// ReadPublishedPort reads a PublishPort file: the port and the pid of the
// process that bound it (0, 0 when missing or malformed).
func ReadPublishedPort(path string) (port, pid int) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	port, err1 := strconv.Atoi(f[0])
	pid, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || port <= 0 || port > 65535 {
		return 0, 0
	}
	return port, pid
}
func (c Config) startupLogf() logFunc { return appendLog(c.StartupLog()) }

type logFunc func(format string, args ...any)

func appendLog(file string) logFunc {
	return func(format string, args ...any) {
		msg := time.Now().UTC().Format("2006-01-02T15:04:05.000-0000") + " [main] " + fmt.Sprintf(format, args...) + "\n"
		_ = os.MkdirAll(filepath.Dir(file), 0o755)
		f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = f.WriteString(msg)
	}
}

// Version reads the stand-in's VERSION file (DefaultVersion when absent).
func (c Config) Version() string {
	b, err := os.ReadFile(c.VersionFile())
	if err != nil {
		return DefaultVersion
	}
	return strings.TrimSpace(string(b))
}

// ReadProperties reads conf-mms.properties simply: key=value, key = value,
// key:value; '#' and '!' comments; backslash continuations. Later keys win.
func ReadProperties(b []byte) map[string]string {
	out := map[string]string{}
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimLeft(lines[i], " \t\f")
		if l == "" || l[0] == '#' || l[0] == '!' {
			continue
		}
		for strings.HasSuffix(l, `\`) && (len(l)-len(strings.TrimRight(l, `\`)))%2 == 1 && i+1 < len(lines) {
			i++
			l = l[:len(l)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		j := strings.IndexAny(l, "=: \t")
		if j < 0 {
			out[l] = ""
			continue
		}
		k, v := l[:j], strings.TrimLeft(l[j:], " \t")
		if v != "" && (v[0] == '=' || v[0] == ':') {
			v = strings.TrimLeft(v[1:], " \t")
		}
		out[k] = strings.ReplaceAll(v, `\\`, `\`)
	}
	return out
}

// appDBKey names the App DB a mongoUri points at: its sorted host list.
func appDBKey(uri string) (string, error) {
	rest, ok := strings.CutPrefix(uri, "mongodb://")
	if !ok {
		return "", fmt.Errorf("mongo.mongoUri %q is not a mongodb:// URI", redactURI(uri))
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	hosts := strings.Split(strings.ToLower(rest), ",")
	for i, h := range hosts {
		if !strings.Contains(strings.TrimPrefix(h, "["), ":") || strings.HasSuffix(h, "]") {
			hosts[i] = h + ":27017"
		}
	}
	sort.Strings(hosts)
	sum := sha256.Sum256([]byte(strings.Join(hosts, ",")))
	return hex.EncodeToString(sum[:8]), nil
}

func redactURI(uri string) string {
	if i := strings.Index(uri, "@"); i >= 0 {
		if j := strings.Index(uri, "://"); j >= 0 && j < i {
			return uri[:j+3] + "****" + uri[i:]
		}
	}
	return uri
}

// ErrRefused wraps every reason the server refuses to start.
var ErrRefused = errors.New("Ops Manager did not start")

// Preflight applies the startup rules (see the package comment). It may
// create gen.key and the App DB's record.
func Preflight(c Config) error {
	logf := c.startupLogf()
	refuse := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		logf("ERROR PreFlightCheck - %s", msg)
		logf("Pre-flight checks failed; Ops Manager will not start")
		return fmt.Errorf("%w: %s", ErrRefused, msg)
	}
	logf("Starting pre-flight checks (Ops Manager %s stand-in)", c.Version())
	b, err := os.ReadFile(c.ConfPath)
	if err != nil {
		return refuse("cannot read %s: %v", c.ConfPath, err)
	}
	props := ReadProperties(b)
	uri := props["mongo.mongoUri"]
	if uri == "" {
		return refuse("missing required setting in %s: mongo.mongoUri", filepath.Base(c.ConfPath))
	}
	key, err := appDBKey(uri)
	if err != nil {
		return refuse("%v", err)
	}
	kb, err := os.ReadFile(c.GenKeyPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		kb = make([]byte, GenKeySize)
		if c.GenKeySeed != "" {
			sum := sha256.Sum256([]byte("hawiz-standin-gen.key/" + c.GenKeySeed))
			copy(kb, sum[:])
		} else if _, err := rand.Read(kb); err != nil {
			return refuse("generating gen.key: %v", err)
		}
		if err := writeKey(c.GenKeyPath, kb, c.User); err != nil {
			return refuse("writing %s: %v", c.GenKeyPath, err)
		}
		logf("Generated a new gen.key at %s", c.GenKeyPath)
	case err != nil:
		return refuse("cannot read %s: %v", c.GenKeyPath, err)
	case len(kb) != GenKeySize:
		return refuse("%s holds %d bytes; gen.key must be %d bytes", c.GenKeyPath, len(kb), GenKeySize)
	}
	sum := sha256.Sum256(kb)
	got := hex.EncodeToString(sum[:])
	dir := filepath.Join(c.AppDBDir, key)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return refuse("cannot reach the Application Database (%s): %v", dir, err)
	}
	rec := filepath.Join(dir, "genkey.sha256")
	if f, err := os.OpenFile(rec, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		_, werr := f.WriteString(got + "\n")
		cerr := f.Close()
		if werr != nil || cerr != nil {
			return refuse("recording the key in the Application Database: %v %v", werr, cerr)
		}
		logf("Application Database initialised with this server's gen.key")
	} else if !errors.Is(err, os.ErrExist) {
		return refuse("cannot reach the Application Database: %v", err)
	}
	want, err := os.ReadFile(rec)
	if err != nil {
		return refuse("cannot reach the Application Database: %v", err)
	}
	if strings.TrimSpace(string(want)) != got {
		return refuse("gen.key at %s does not match the key the Application Database was encrypted with: cannot decrypt the backing databases' credentials (every server needs the same gen.key, M1)", c.GenKeyPath)
	}
	if err := checkAppDBAuth(dir, props, uri, kb); err != nil {
		return refuse("cannot connect to the Application Database: %v", err)
	}
	logf("Successfully finished pre-flight checks")
	return nil
}

// AppDBUsersFile, in an App DB's record directory, makes that App DB
// require authentication: one "user<TAB>sha256(password) hex" line per user
// it accepts. Without it the App DB accepts any connection.
const AppDBUsersFile = "users"

// checkAppDBAuth: an App DB that requires authentication accepts only a
// mongoUri holding a user and password it knows; with
// mongo.encryptedCredentials=true both are credentialstool output, which
// only this server's gen.key decrypts (M4, M21; the stand-in's own
// scheme: EncryptCredential).
func checkAppDBAuth(dir string, props map[string]string, uri string, genKey []byte) error {
	b, err := os.ReadFile(filepath.Join(dir, AppDBUsersFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	rest := strings.TrimPrefix(uri, "mongodb://")
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return fmt.Errorf("authentication required: mongo.mongoUri holds no credentials")
	}
	userEnc, passEnc, _ := strings.Cut(rest[:at], ":")
	user, err1 := url.PathUnescape(userEnc)
	pass, err2 := url.PathUnescape(passEnc)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("mongo.mongoUri: credentials are not percent-encoded")
	}
	if strings.EqualFold(strings.TrimSpace(props["mongo.encryptedCredentials"]), "true") {
		if user, err1 = decryptCredential(genKey, user); err1 == nil {
			pass, err2 = decryptCredential(genKey, pass)
		}
		if err1 != nil || err2 != nil {
			return fmt.Errorf("mongo.encryptedCredentials=true but the credentials are not credentialstool output for this gen.key")
		}
	}
	sum := sha256.Sum256([]byte(pass))
	for _, l := range strings.Split(string(b), "\n") {
		if u, h, ok := strings.Cut(strings.TrimSpace(l), "\t"); ok && u == user && h == hex.EncodeToString(sum[:]) {
			return nil
		}
	}
	return fmt.Errorf("authentication failed")
}

// EncryptCredential is the stand-in's credentialstool (M21): plain
// encrypted with a key stream derived from gen.key, hex. Real Ops Manager's
// format differs; what the stand-in keeps is that encrypted credentials
// are tied to the gen.key they were made with.
func EncryptCredential(genKey []byte, plain string) string {
	return hex.EncodeToString(credXOR(genKey, []byte("hawiz:"+plain)))
}

func decryptCredential(genKey []byte, enc string) (string, error) {
	b, err := hex.DecodeString(enc)
	if err != nil {
		return "", err
	}
	p, ok := strings.CutPrefix(string(credXOR(genKey, b)), "hawiz:")
	if !ok {
		return "", errors.New("not encrypted with this gen.key")
	}
	return p, nil
}

func credXOR(genKey, b []byte) []byte {
	out := make([]byte, len(b))
	var block [32]byte
	for i := range b {
		if i%32 == 0 {
			block = sha256.Sum256(append(append([]byte("hawiz-standin-credentialstool/"), genKey...), byte(i/32)))
		}
		out[i] = b[i] ^ block[i%32]
	}
	return out
}

// AddAppDBUser makes the App DB that uri names require authentication and
// accept user with password (tests and the lab set up an existing
// deployment's App DB with it).
func AddAppDBUser(appDBDir, uri, user, password string) error {
	key, err := appDBKey(uri)
	if err != nil {
		return err
	}
	dir := filepath.Join(appDBDir, key)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, AppDBUsersFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(password))
	_, err = fmt.Fprintf(f, "%s\t%s\n", user, hex.EncodeToString(sum[:]))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func writeKey(path string, b []byte, owner string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	if owner != "" {
		if u, err := user.Lookup(owner); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			if err := os.Chown(tmp, uid, gid); err != nil && os.Geteuid() == 0 {
				return err
			}
		}
	}
	return os.Rename(tmp, path)
}

// Handler serves /monitor/health (200) and logs every request to access.
func Handler(c Config, access io.Writer) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(LabServerHeader, c.Hostname)
		w.Header().Set("Cache-Control", "no-cache, no-store")
		status := http.StatusNotFound
		body := "not found\n"
		if r.URL.Path == "/monitor/health" {
			status, body = http.StatusOK, "{}\n"
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		fmt.Fprintf(access, "%s - - [%s] \"%s %s %s\" %d %d\n", host, time.Now().Format("02/Jan/2006:15:04:05 -0700"), r.Method, r.URL.RequestURI(), r.Proto, status, len(body))
		mu.Unlock()
	})
}

// Serve runs the server in the foreground until ctx ends: Preflight, listen,
// log "Started in", serve. ready, when non-nil, is called once listening.
func Serve(ctx context.Context, c Config, ready func(addr string)) error {
	t0 := time.Now()
	if err := Preflight(c); err != nil {
		return err
	}
	logf := c.startupLogf()
	ln, err := net.Listen("tcp", c.bindAddr())
	if err != nil {
		logf("ERROR ServerMain - cannot listen on %s: %v", c.bindAddr(), err)
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	access, err := os.OpenFile(c.AccessLog(), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		ln.Close()
		return err
	}
	defer access.Close()
	srv := &http.Server{Handler: Handler(c, access), ReadHeaderTimeout: 10 * time.Second}
	if c.TLS {
		cert, err := selfSigned(c.Hostname)
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	if c.PortFile != "" {
		if err := PublishPort(c.PortFile, ln.Addr().(*net.TCPAddr).Port); err != nil {
			ln.Close()
			logf("ERROR ServerMain - cannot publish the port: %v", err)
			return err
		}
	}
	logf("INFO ServerMain:266 - Started in: %d (ms)", max(1, time.Since(t0).Milliseconds()))
	if ready != nil {
		ready(ln.Addr().String())
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err = srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		logf("INFO ServerMain - Ops Manager stopped")
		return nil
	}
	return err
}

// Running returns the PID of the running server, or 0.
func Running(c Config) int {
	b, err := os.ReadFile(c.pidFile())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	if !processAlive(pid) {
		return 0
	}
	return pid
}

// Healthy reports whether /monitor/health answers 200 on the server's address.
func Healthy(c Config) bool {
	cl := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}} //nolint:gosec // own self-signed cert
	resp, err := cl.Get(c.healthURL())
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// tail returns the last n lines of file.
func tail(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lastStartupError returns the last ERROR line of the startup log.
func lastStartupError(c Config) string {
	b, _ := os.ReadFile(c.StartupLog())
	var last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "ERROR") {
			last = sc.Text()
		}
	}
	return last
}

// selfSigned makes a throw-away certificate for the stand-in's HTTPS.
func selfSigned(name string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: []string{name}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
