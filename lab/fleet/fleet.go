// Package fleet is `hawiz demo`'s embedded demo fleet: one in-process SSH
// server per demo host (remote/sshtest: the real protocol, real host keys),
// each with its own directory under a fresh temporary root standing in for
// the host's filesystem, and an in-process authoritative DNS server
// (dnscheck/dnstest) for the zone demo.hawiz.test that accepts TSIG-signed
// updates.
//
// Commands run for real on the operator's machine with the host's directory
// as its world. Stand-in services (Central, systemctl, ps, the version
// command) are tiny POSIX sh scripts in the host's bin/ that exec the hawiz
// binary's hidden `__standin` subcommand (Standin in this package), which
// reuses the lab's stand-in rules (lab/standins/mmcentral). Services are real
// detached processes with pid files in the host's run/ directory; Close kills
// them, closes every port and removes the root.
//
// The client side is exactly what a real run uses: the demo only brings the
// fleet, the answers and an operator.
package fleet

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
	appdbstandin "github.com/hawiz/hawiz/lab/standins/appdb"
	"github.com/hawiz/hawiz/lab/standins/mmcentral"
	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
	"github.com/hawiz/hawiz/remote/sshtest"
)

// Zone is the demo's DNS zone.
const Zone = "demo.hawiz.test"

// TSIGKeyName names the demo's TSIG key.
const TSIGKeyName = "hawiz-demo"

// Kind is what the demo hosts run.
type Kind string

const (
	Micetro    Kind = "micetro"    // Micetro Central members
	OpsManager Kind = "opsmanager" // Ops Manager application servers
)

// Config configures a demo fleet.
type Config struct {
	Kind  Kind
	Hosts []string // host names, e.g. central1, central2, central3
	// Seed makes what the demo shows deterministic: host keys, the client
	// key, the TSIG secret, the root's name (TempDir/hawiz-demo-seedN) and
	// the listening ports (a block of 127.0.0.1 ports derived from the seed
	// and the fleet's kind, below the usual ephemeral ranges); 0 = random
	// keys, a random root name and ephemeral ports.
	Seed uint64
	// Exe is the binary whose `__standin` subcommand runs the stand-ins;
	// "" = os.Executable().
	Exe string
	// TempDir is where the root is created; "" = os.TempDir().
	TempDir string
	// Version is the Central version the stand-in reports (default 10.3.5).
	Version string
	// Root, when set, is a fixed root (created when missing) instead of a
	// fresh temporary one. When it holds the fleet.json of an earlier demo
	// (stopped mid-run), the fleet comes back as it was: the same SSH, DNS
	// and load balancer ports, host keys and files, and the services that
	// were running are started again (each on a fresh port of its own).
	Root string
	// Cluster: the Micetro hosts are already an HA cluster (ClusterMemberName
	// set, Central running), as before an update.
	Cluster bool
}

// Host is one demo host.
type Host struct {
	Name       string
	Root       string // the host's world
	SSH        *sshtest.Server
	IP         string
	InstallDir string // Ops Manager: the tar install directory

	wasRunning bool // restored: its service ran when the fleet was stopped
}

// Micetro paths in a demo host's world (relative to its Root), where a
// real server has them at the same path under /. The demo's answers name
// them (members[i].preferences_path, members[i].upload_dir): every host
// has its own directory, as every member of a real cluster has its own
// filesystem.
const (
	MicetroDataDir   = "var/mmsuite/mmcentral"       // preferences.cfg, logs/
	MicetroShareDir  = "usr/share/mmcentral-standin" // the stand-in's VERSION and install.log
	MicetroUploadDir = "var/tmp"                     // where the update's installer is uploaded
)

// PrefsPath is the host's preferences.cfg (Micetro).
func (h *Host) PrefsPath() string {
	return filepath.Join(h.Root, MicetroDataDir, "preferences.cfg")
}

// UploadDir is where the host's installer is uploaded (Micetro update).
func (h *Host) UploadDir() string { return filepath.Join(h.Root, MicetroUploadDir) }

// Fleet is a running demo fleet.
type Fleet struct {
	Root       string // the temporary root holding everything
	Hosts      []*Host
	DNS        *dnstest.Server // primary, accepts TSIG updates
	DNS2       *dnstest.Server // secondary, follows the primary
	KeyFile    string          // the client's private key (no passphrase)
	KnownHosts string          // a fresh known_hosts file (empty at start)
	TSIGFile   string          // BIND key file for the demo zone
	StateDir   string          // where the demo's state files go
	LBURL      string          // Ops Manager: the stand-in load balancer in front of the servers
	// AppDB is Ops Manager's stand-in Application Database (one in-process
	// wire-protocol server answering for every member in AppDBHosts), which
	// the hosts reach by the members' names through direct-tcpip, as real
	// servers reach the App DB on their network. Started with the fleet
	// (again on a restore), stopped with it.
	AppDB *appdbstandin.Server

	lb     *http.Server
	lbAddr string
	pool   *omstandin.LB // the load balancer's pool (SetPool)
	seed   uint64
	saveTo string // fleet.json for a fixed root
	ports  *portPlan

	closeOnce sync.Once
	closeErr  error
}

// seeded returns deterministic bytes for label, or random ones when seed is 0.
func seeded(seed uint64, label string) []byte {
	if seed == 0 {
		b := make([]byte, 32)
		for i := range b {
			b[i] = byte(rand.Uint32())
		}
		return b
	}
	s := sha256.Sum256([]byte(fmt.Sprintf("hawiz-demo/%d/%s", seed, label)))
	return s[:]
}

// Start builds the root, seeds every host and starts the servers.
func Start(cfg Config) (f *Fleet, err error) {
	if cfg.Kind == "" {
		cfg.Kind = Micetro
	}
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("fleet: no hosts")
	}
	if cfg.Exe == "" {
		if cfg.Exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if cfg.Version == "" {
		cfg.Version = mmcentral.DefaultVersion
	}
	var root string
	var prev *saved
	if cfg.Root != "" {
		root = cfg.Root
		if err := os.MkdirAll(root, 0o700); err != nil {
			return nil, err
		}
		prev = loadSaved(filepath.Join(root, "fleet.json"))
		if prev != nil {
			cfg.Seed = prev.Seed
		} else if cfg.Seed == 0 {
			cfg.Seed = rand.Uint64() | 1
		}
	} else if cfg.Seed != 0 {
		if root, err = seededRoot(cfg.TempDir, cfg.Seed); err != nil {
			return nil, err
		}
	} else if root, err = os.MkdirTemp(cfg.TempDir, "hawiz-demo-"); err != nil {
		return nil, err
	}
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r // macOS: /var → /private/var
	}
	f = &Fleet{Root: root, KeyFile: filepath.Join(root, "id_ed25519"), KnownHosts: filepath.Join(root, "known_hosts"),
		TSIGFile: filepath.Join(root, "demo.hawiz.test.key"), StateDir: filepath.Join(root, "state"),
		ports: newPortPlan(cfg.Seed, fmt.Sprintf("%s/cluster=%v", cfg.Kind, cfg.Cluster))}
	started := f
	defer func() {
		if err != nil {
			if cfg.Root != "" {
				started.Stop() // a kept demo stays for --fresh to remove
			} else {
				started.Close()
			}
		}
	}()
	os.MkdirAll(f.StateDir, 0o700)

	// Client key.
	priv := ed25519.NewKeyFromSeed(seeded(cfg.Seed, "client-key"))
	blk, err := ssh.MarshalPrivateKey(priv, "hawiz demo")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(f.KeyFile, pem.EncodeToMemory(blk), 0o600); err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	if prev == nil {
		if err := os.WriteFile(f.KnownHosts, nil, 0o600); err != nil {
			return nil, err
		}
	}
	f.seed, f.saveTo = cfg.Seed, ""
	if cfg.Root != "" {
		f.saveTo = filepath.Join(root, "fleet.json")
	}
	addr := func(get func(*saved) string) string {
		if prev == nil {
			return ""
		}
		return get(prev)
	}

	// DNS: the zone without the round-robin name; the procedure creates it.
	secret := base64.StdEncoding.EncodeToString(seeded(cfg.Seed, "tsig"))
	zone := fmt.Sprintf("$TTL 300\n%[1]s. IN SOA ns1.%[1]s. hostmaster.%[1]s. 2026010101 3600 600 86400 60\n%[1]s. IN NS ns1.%[1]s.\n%[1]s. IN NS ns2.%[1]s.\nns1 IN A 127.0.0.1\nns2 IN A 127.0.0.1\n", Zone)
	err = f.ports.listen(addr(func(s *saved) string { return s.DNS }), 0, func(a string) (err error) {
		f.DNS, err = dnstest.Start(dnstest.Config{Addr: a, Zones: map[string]string{Zone: zone}, Keys: map[string]string{TSIGKeyName: secret}, AllowUpdate: true})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("demo DNS server: %w", err)
	}
	err = f.ports.listen(addr(func(s *saved) string { return s.DNS2 }), 1, func(a string) (err error) {
		f.DNS2, err = dnstest.StartSecondary(f.DNS, dnstest.Config{Addr: a}, true)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("demo DNS secondary: %w", err)
	}
	key := fmt.Sprintf("key %q {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", TSIGKeyName, secret)
	if err := os.WriteFile(f.TSIGFile, []byte(key), 0o600); err != nil {
		return nil, err
	}

	var appdbNet map[string]string
	if cfg.Kind == OpsManager {
		var members []appdbstandin.Member
		for i, h := range AppDBHosts() {
			members = append(members, appdbstandin.Member{Host: h, Votes: 1, Priority: float64(len(AppDBHosts()) - i)})
		}
		if f.AppDB, err = appdbstandin.Start(AppDBUser, DemoAppDBPassword, appdbstandin.ReplSetConfig(AppDBSetName, 1, members...)); err != nil {
			return nil, fmt.Errorf("demo App DB: %w", err)
		}
		appdbNet = map[string]string{}
		for _, h := range AppDBHosts() {
			appdbNet[h] = f.AppDB.Addr()
		}
	}

	for i, name := range cfg.Hosts {
		h := &Host{Name: name, Root: filepath.Join(root, name), IP: fmt.Sprintf("192.0.2.%d", 11+i)}
		var sshAddr string
		if ph := prev.host(name); ph != nil {
			sshAddr, h.wasRunning = ph.SSH, ph.Running
		}
		if cfg.Kind == OpsManager {
			h.InstallDir = filepath.Join(h.Root, "mongodb-mms-"+OpsManagerVersion+".x86_64")
			if prev == nil {
				err = seedOpsManager(cfg, h, filepath.Join(root, "appdb"))
			}
		} else if prev == nil {
			err = seedHost(cfg, h)
		}
		if err == nil && prev != nil && cfg.Kind == OpsManager {
			err = portFileInMMSConf(h) // kept by an earlier hawiz
		}
		if err != nil {
			return nil, fmt.Errorf("demo host %s: %w", name, err)
		}
		env := []string{
			"PATH=" + filepath.Join(h.Root, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
			"HAWIZ_ROOT=" + h.Root,
			fmt.Sprintf("%s=%d", EnvOwner, os.Getpid()),
		}
		if cfg.Kind == Micetro {
			// The stand-in installer's own paths (lab/standins/mmcentral/
			// install.sh): where the stand-in keeps its version and where it
			// proposes to keep Central's configuration. They belong to the
			// stand-in, as the real installer's defaults belong to it; hawiz
			// sends no path of its own through them (its paths are in the
			// answers), so nothing in the host's world is rewritten.
			env = append(env, "MMCENTRAL_STANDIN_SHARE="+filepath.Join(h.Root, MicetroShareDir),
				"MMCENTRAL_STANDIN_DATA="+filepath.Join(h.Root, MicetroDataDir), "MMCENTRAL_STANDIN_NO_ROOT_CHECK=1")
		}
		servicePorts := map[int]bool{mmcentral.DefaultPort: true}
		if cfg.Kind == OpsManager {
			servicePorts = map[int]bool{omstandin.DefaultPort: true, 8443: true}
		}
		sshCfg := sshtest.Config{
			HostKeySeed:    seeded(cfg.Seed, "host-key/"+name),
			AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()},
			Root:           h.Root,
			AddrMap:        appdbNet,
			// The service's documented port reaches the port the stand-in
			// bound and published, looked up per connection.
			PortFunc: func(port int) (string, bool) {
				if !servicePorts[port] {
					return "", false
				}
				return h.ServiceAddr(), true
			},
			Exec: h.exec(env),
		}
		err = f.ports.listen(sshAddr, 3+i, func(a string) (err error) {
			sshCfg.Addr = a
			h.SSH, err = sshtest.Start(sshCfg)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("demo host %s: %w", name, err)
		}
		f.Hosts = append(f.Hosts, h)
	}
	for _, h := range f.Hosts {
		// A fresh cluster runs Central; a restored host starts what ran before.
		if !(prev == nil && cfg.Kind == Micetro && cfg.Cluster) && !h.wasRunning {
			continue
		}
		c := exec.Command(cfg.Exe, "__standin", "systemctl", "start", "mmcentral")
		if cfg.Kind == OpsManager {
			c = exec.Command(filepath.Join(h.InstallDir, "bin", "mongodb-mms"), "start")
		}
		c.Env = append(os.Environ(), "HAWIZ_ROOT="+h.Root, fmt.Sprintf("%s=%d", EnvOwner, os.Getpid()))
		if out, err := c.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("demo host %s: starting its service: %v: %s", h.Name, err, out)
		}
	}
	if cfg.Kind == OpsManager {
		var backends []string
		byName := map[string]*Host{}
		for _, h := range f.Hosts {
			backends = append(backends, h.Name)
			byName[h.Name] = h
		}
		var ln net.Listener
		err := f.ports.listen(addr(func(s *saved) string { return s.LB }), 2, func(a string) (err error) {
			ln, err = net.Listen("tcp", a)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("demo load balancer: %w", err)
		}
		f.lbAddr = ln.Addr().String()
		f.LBURL = "http://" + f.lbAddr
		if prev != nil && prev.Pool != nil { // a kept fleet's pool as it was
			backends = *prev.Pool
		}
		f.pool = &omstandin.LB{Backends: backends, Resolve: func(name string) string { return byName[name].ServiceAddr() }}
		f.lb = &http.Server{Handler: f.pool, ReadHeaderTimeout: 10 * time.Second}
		go f.lb.Serve(ln)
	}
	return f, f.save()
}

// seededRoot creates TempDir/hawiz-demo-seedN (the same name for the same
// seed, so a recording shows the same paths), or -2, -3… when that exists
// (another demo with the same seed runs, or one was killed).
func seededRoot(dir string, seed uint64) (string, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	base := filepath.Join(dir, fmt.Sprintf("hawiz-demo-seed%d", seed))
	for i := 1; i <= 100; i++ {
		p := base
		if i > 1 {
			p = fmt.Sprintf("%s-%d", base, i)
		}
		err := os.Mkdir(p, 0o700)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return os.MkdirTemp(dir, "hawiz-demo-")
}

// Seeded ports: a block of portBlock ports in [portLow, portLow+portSpan),
// below Linux's (32768–60999) and macOS's (49152–65535) ephemeral ranges,
// chosen by the seed and the fleet's kind; listener k (0 DNS, 1 DNS
// secondary, 2 load balancer, 3… the hosts' SSH servers) takes the block's
// k-th port.
const (
	portLow   = 20000
	portSpan  = 8000
	portBlock = 16
	portTries = 4 // blocks tried before an ephemeral port
)

// portPlan picks a fleet's listening addresses.
type portPlan struct {
	base      int // first port of the seeded block; 0 = ephemeral ports
	Fallbacks int // listeners that did not get their first seeded port
}

func newPortPlan(seed uint64, label string) *portPlan {
	if seed == 0 {
		return &portPlan{}
	}
	s := seeded(seed, "ports/"+label)
	n := int(s[0])<<16 | int(s[1])<<8 | int(s[2])
	return &portPlan{base: portLow + n%(portSpan/portBlock)*portBlock}
}

// listen calls start with fixed (a restored fleet's address) when set, else
// with listener k's seeded address, then the same place in the next blocks
// when that fails (the port is taken), then with an ephemeral port.
func (p *portPlan) listen(fixed string, k int, start func(addr string) error) error {
	if fixed != "" {
		return start(fixed)
	}
	if p.base == 0 {
		return start("127.0.0.1:0")
	}
	for j := 0; j < portTries; j++ {
		port := portLow + (p.base-portLow+j*37*portBlock)%portSpan + k
		if err := start(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			return nil
		}
		p.Fallbacks++
	}
	return start("127.0.0.1:0")
}

// saved is fleet.json: what brings a kept fleet back as it was.
type saved struct {
	Seed  uint64      `json:"seed"`
	Hosts []savedHost `json:"hosts"`
	DNS   string      `json:"dns"`
	DNS2  string      `json:"dns2"`
	LB    string      `json:"lb,omitempty"`
	// Pool is the load balancer's pool when it was changed (SetPool).
	Pool *[]string `json:"pool,omitempty"`
}

type savedHost struct {
	Name    string `json:"name"`
	SSH     string `json:"ssh"`
	Running bool   `json:"running"`
}

func (s *saved) host(name string) *savedHost {
	if s == nil {
		return nil
	}
	for i := range s.Hosts {
		if s.Hosts[i].Name == name {
			return &s.Hosts[i]
		}
	}
	return nil
}

func loadSaved(path string) *saved {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var s saved
	if json.Unmarshal(b, &s) != nil || s.Seed == 0 {
		return nil
	}
	return &s
}

// save writes fleet.json (fixed roots only), recording which services run.
func (f *Fleet) save() error {
	if f.saveTo == "" {
		return nil
	}
	s := saved{Seed: f.seed, LB: f.lbAddr}
	if f.pool != nil {
		pool := f.pool.Pool()
		s.Pool = &pool
	}
	if f.DNS != nil {
		s.DNS = f.DNS.Addr()
	}
	if f.DNS2 != nil {
		s.DNS2 = f.DNS2.Addr()
	}
	for _, h := range f.Hosts {
		run := false
		for _, p := range h.pidFiles() {
			if Alive(readPID(p)) {
				run = true
			}
		}
		s.Hosts = append(s.Hosts, savedHost{Name: h.Name, SSH: h.SSH.Addr(), Running: run})
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(f.saveTo, b, 0o600)
}

// SetPool sets the Ops Manager load balancer's pool to the named hosts
// (what an operator does on a real load balancer) and records it for a
// kept fleet.
func (f *Fleet) SetPool(hosts []string) error {
	if f.pool == nil {
		return errors.New("fleet: no load balancer")
	}
	f.pool.SetBackends(hosts)
	return f.save()
}

// Pool is the load balancer's pool now.
func (f *Fleet) Pool() []string {
	if f.pool == nil {
		return nil
	}
	return f.pool.Pool()
}

// The demo App DB: a replica set of three members, which the demo's
// answers list in appdb.uri, with the user the answers name (appdb.username)
// and the demo's password (DemoAppDBPassword).
const (
	AppDBUser    = "opsmanager"
	AppDBSetName = "appdb"
)

// AppDBHosts are the demo App DB's members ("host:port"), in the order
// appdb.uri lists them.
func AppDBHosts() []string {
	return []string{"appdb1." + Zone + ":27017", "appdb2." + Zone + ":27017", "appdb3." + Zone + ":27017"}
}

// OpsManagerVersion is the version of the demo's tar-installed Ops Manager.
const OpsManagerVersion = "7.0.0"

// seedOpsManager lays out a tar install of the stand-in Ops Manager
// (conf-mms.properties as shipped, mms.conf, bin/mongodb-mms) under h.Root.
func seedOpsManager(cfg Config, h *Host, appdb string) error {
	h.InstallDir = filepath.Join(h.Root, "mongodb-mms-"+OpsManagerVersion+".x86_64")
	for _, d := range []string{"bin", "conf", "logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(h.InstallDir, d), 0o755); err != nil {
			return err
		}
	}
	for _, d := range []string{filepath.Join(h.Root, "run"), filepath.Join(h.Root, "tmp"), filepath.Join(h.Root, "keys"), appdb} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(h.InstallDir, "conf", "conf-mms.properties"), []byte(omstandin.DefaultConf), 0o640); err != nil {
		return err
	}
	// BASE_PORT is the documented port the procedure reaches through SSH;
	// the stand-in binds an ephemeral port and publishes it (PortFile).
	mms := fmt.Sprintf("BASE_PORT=%d\nMMS_USER=%s\nENC_KEY_PATH=%s\nHAWIZ_STANDIN_BIND=127.0.0.1\nHAWIZ_STANDIN_APPDB_DIR=%s\nHAWIZ_STANDIN_PORT_FILE=%s\n",
		omstandin.DefaultPort, currentUser(), filepath.Join(h.Root, "keys", "gen.key"), appdb, h.portFile())
	if cfg.Seed != 0 { // the gen.key the first server creates, the same for the same seed
		mms += fmt.Sprintf("HAWIZ_STANDIN_GENKEY_SEED=%d\n", cfg.Seed)
	}
	if err := os.WriteFile(filepath.Join(h.InstallDir, "conf", "mms.conf"), []byte(mms), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(h.InstallDir, "VERSION"), []byte(OpsManagerVersion+"\n"), 0o644); err != nil {
		return err
	}
	script := fmt.Sprintf("#!/bin/sh\n# hawiz demo stand-in Ops Manager control program\n%s=%s %s='__standin mongodb-mms' exec %s __standin mongodb-mms \"$@\"\n",
		omstandin.EnvInstallDir, shq(h.InstallDir), omstandin.EnvReexecArgs, shq(cfg.Exe))
	return os.WriteFile(filepath.Join(h.InstallDir, "bin", "mongodb-mms"), []byte(script), 0o755)
}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// currentUser is the user the demo's commands run as.
func currentUser() string {
	for _, k := range []string{"USER", "LOGNAME"} {
		if u := os.Getenv(k); u != "" {
			return u
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "demo"
}

func seedHost(cfg Config, h *Host) error {
	for _, d := range []string{"bin", "run", "tmp", MicetroDataDir + "/logs", MicetroShareDir, MicetroUploadDir} {
		if err := os.MkdirAll(filepath.Join(h.Root, d), 0o755); err != nil {
			return err
		}
	}
	q := shq(cfg.Exe)
	for _, name := range []string{"systemctl", "ps", "pgrep", "mmcentrald"} {
		script := fmt.Sprintf("#!/bin/sh\n# hawiz demo stand-in: runs the hawiz binary's hidden __standin subcommand\nexec %s __standin %s \"$@\"\n", q, name)
		if err := os.WriteFile(filepath.Join(h.Root, "bin", name), []byte(script), 0o755); err != nil {
			return err
		}
	}
	prefs := DemoPrefs
	if cfg.Cluster {
		prefs += fmt.Sprintf("<ClusterMemberName value=%q/>\n", h.Name)
	}
	if err := os.WriteFile(h.PrefsPath(), []byte(prefs), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(h.Root, MicetroShareDir, "VERSION"), []byte(cfg.Version+"\n"), 0o644)
}

// DemoPrefs is a freshly installed Central's preferences.cfg naming a
// PostgreSQL database.
const DemoPrefs = `<Database value="PostgreSQL" />
<DatabaseServer value="db.demo.hawiz.test:5432@mmsuite" />
<DatabaseUsername value="mmsuite" />
<DatabasePassword value="plaintext:demo" />
`

// exec runs a command as sent with the local shell, cwd = Root and the
// host's bin/ (the stand-ins) first in PATH.
func (h *Host) exec(env []string) func(ctx context.Context, req sshtest.ExecRequest) int {
	return func(ctx context.Context, req sshtest.ExecRequest) int {
		c := exec.Command("/bin/sh", "-c", req.Command)
		c.Dir = h.Root
		c.Env = append(append(append(os.Environ(), env...), req.Env...), "TMPDIR="+filepath.Join(h.Root, "tmp"))
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		c.Stdout, c.Stderr = req.Stdout, req.Stderr
		stdin, err := c.StdinPipe()
		if err != nil {
			return 255
		}
		if err := c.Start(); err != nil {
			fmt.Fprintln(req.Stderr, err)
			return 127
		}
		go func() { io.Copy(stdin, req.Stdin); stdin.Close() }()
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-ctx.Done():
					syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
					return
				case sig, ok := <-req.Signals:
					if !ok {
						req.Signals = nil
						continue
					}
					if s, ok := signals[sig]; ok {
						syscall.Kill(-c.Process.Pid, s)
					}
				case <-done:
					return
				}
			}
		}()
		err = c.Wait()
		close(done)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ee.ExitCode() < 0 {
				return 255
			}
			return ee.ExitCode()
		}
		if err != nil {
			return 255
		}
		return 0
	}
}

var signals = map[string]syscall.Signal{"KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP}

// ServicePortFile is where a demo host's stand-in service (Central, Ops
// Manager) publishes the port it bound, relative to the host's Root.
const ServicePortFile = "run/service.port"

func (h *Host) portFile() string { return filepath.Join(h.Root, ServicePortFile) }

// ServiceAddr is the address the host's stand-in service listens on: the
// port it published, while the process that bound it runs; "" when none.
func (h *Host) ServiceAddr() string {
	port, pid := omstandin.ReadPublishedPort(h.portFile())
	if port == 0 || !Alive(pid) {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// portFileInMMSConf adds HAWIZ_STANDIN_PORT_FILE to a kept host's mms.conf
// that lacks it (written by an earlier hawiz, which reserved ports).
func portFileInMMSConf(h *Host) error {
	p := filepath.Join(h.InstallDir, "conf", "mms.conf")
	b, err := os.ReadFile(p)
	if err != nil || strings.Contains(string(b), "HAWIZ_STANDIN_PORT_FILE=") {
		return err
	}
	s := strings.TrimRight(string(b), "\n") + "\nHAWIZ_STANDIN_PORT_FILE=" + h.portFile() + "\n"
	return os.WriteFile(p, []byte(s), 0o644)
}

// Ports returns every port the fleet listens on (SSH, DNS, the stand-ins'
// published ports, the load balancer, the App DB).
func (f *Fleet) Ports() []string {
	out := f.fixedPorts()
	for _, h := range f.Hosts {
		if a := h.ServiceAddr(); a != "" {
			out = append(out, a)
		}
	}
	if f.AppDB != nil {
		out = append(out, f.AppDB.Addr())
	}
	return out
}

// fixedPorts are the ports a kept fleet keeps: SSH, load balancer, DNS.
func (f *Fleet) fixedPorts() []string {
	var out []string
	for _, h := range f.Hosts {
		out = append(out, h.SSH.Addr())
	}
	if f.lbAddr != "" {
		out = append(out, f.lbAddr)
	}
	if f.DNS != nil {
		out = append(out, f.DNS.Addr())
	}
	if f.DNS2 != nil {
		out = append(out, f.DNS2.Addr())
	}
	return out
}

// PIDs returns the stand-in service processes now recorded in pid files.
func (f *Fleet) PIDs() []int {
	var out []int
	for _, h := range f.Hosts {
		for _, p := range h.pidFiles() {
			if pid := readPID(p); pid > 0 {
				out = append(out, pid)
			}
		}
	}
	return out
}

func (h *Host) pidFiles() []string {
	files, _ := filepath.Glob(filepath.Join(h.Root, "run", "*.pid"))
	if h.InstallDir != "" {
		more, _ := filepath.Glob(filepath.Join(h.InstallDir, "tmp", "*.pid"))
		files = append(files, more...)
	}
	return files
}

// Stop kills the stand-in services and closes every server; the root stays
// (with a fixed root, fleet.json records what ran, for the next Start).
func (f *Fleet) Stop() error {
	var errs []error
	if len(f.Hosts) > 0 {
		errs = append(errs, f.save())
	}
	for _, pid := range f.PIDs() {
		syscall.Kill(-pid, syscall.SIGKILL) // its own session and group (setsid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, h := range f.Hosts {
		if h.SSH != nil {
			errs = append(errs, h.SSH.Close())
		}
	}
	if f.DNS2 != nil {
		errs = append(errs, f.DNS2.Close())
	}
	if f.DNS != nil {
		errs = append(errs, f.DNS.Close())
	}
	if f.lb != nil {
		errs = append(errs, f.lb.Close())
	}
	if f.AppDB != nil {
		errs = append(errs, f.AppDB.Close())
	}
	// Wait (briefly) for the killed services to be gone.
	deadline := time.Now().Add(3 * time.Second)
	for _, pid := range f.PIDs() {
		for Alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}

// Close stops everything and removes the root.
func (f *Fleet) Close() error {
	f.closeOnce.Do(func() {
		err := f.Stop()
		f.closeErr = errors.Join(err, os.RemoveAll(f.Root))
	})
	return f.closeErr
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// Alive reports whether pid runs (and is not a zombie, where /proc says so).
func Alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(st)
		if i := strings.LastIndex(s, ") "); i >= 0 && strings.HasPrefix(s[i+2:], "Z") {
			return false
		}
	}
	return true
}
