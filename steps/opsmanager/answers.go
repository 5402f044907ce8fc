package opsmanager

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hawiz/hawiz/steps"
)

// Documented defaults (procedures.md A.1).
const (
	InstallPackage = "package" // rpm/deb: /opt/mongodb/mms, user mongodb-mms (M9)
	InstallTar     = "tar"     // archive: <install_dir> (M10)

	PackageInstallDir  = "/opt/mongodb/mms"                         // M9
	PackageUser        = "mongodb-mms"                              // M9
	PackageGenKeyPath  = "/etc/mongodb-mms/gen.key"                 // M1, M9
	TarGenKeyRelPath   = ".mongodb-mms/gen.key"                     // ${HOME}/.mongodb-mms/ (M1, M10)
	ConfRelPath        = "conf/conf-mms.properties"                 // M4
	MMSConfRelPath     = "conf/mms.conf"                            // M11, M12
	StartupLogRelPath  = "logs/mms0-startup.log"                    // M11, M14
	AccessLogRelPath   = "logs/mms0-access.log"                     // M14
	ServiceName        = "mongodb-mms"                              // M8, M9, M11
	DefaultPort        = 8080                                       // M13
	DefaultHTTPSPort   = 8443                                       // M13
	HealthPath         = "/monitor/health"                          // M2
	StartedMarker      = "Started in"                               // M11: "ServerMain:266 - Started in: <n> (ms)"
	GenKeySize         = 24                                         // M1
	DefaultIPHeader    = "X-Forwarded-For"                          // M1, M2, M6
	DefaultAgentConfig = "/etc/mongodb-mms/automation-agent.config" // M2, M20
	DefaultAgentSvc    = "mongodb-mms-automation-agent"             // [3rd-party], see A.2 step 4

	KeyMongoURI    = "mongo.mongoUri"      // M7
	KeyCentralURL  = "mms.centralUrl"      // M5
	KeyRemoteIP    = "mms.remoteIp.header" // M6
	KeyReplicaSet  = "mongo.replicaSet"    // M3 (legacy)
	KeyAgentBase   = "mmsBaseUrl"          // M2 step 4
	GenKeyFirst    = "first-server"
	GenKeyFile     = "file"
	GenKeyGenerate = "generate"
)

// Paths overrides the documented layout (non-default installs, the demo and
// tests). Empty fields keep the defaults that follow the install type.
type Paths struct {
	Conf       string `yaml:"conf,omitempty" title:"conf-mms.properties" help:"path of conf-mms.properties" example:"/opt/mongodb/mms/conf/conf-mms.properties" default:"<install_dir>/conf/conf-mms.properties"`                       // conf-mms.properties
	MMSConf    string `yaml:"mms_conf,omitempty" title:"mms.conf" help:"path of mms.conf (MMS_USER, ENC_KEY_PATH)" example:"/opt/mongodb/mms/conf/mms.conf" default:"<install_dir>/conf/mms.conf"`                                      // mms.conf (MMS_USER, ENC_KEY_PATH)
	GenKey     string `yaml:"gen_key,omitempty" title:"gen.key" help:"path of gen.key on the server" example:"/etc/mongodb-mms/gen.key" default:"/etc/mongodb-mms/gen.key (package), ~/.mongodb-mms/gen.key of the service user (tar)"` // gen.key
	StartupLog string `yaml:"startup_log,omitempty" help:"path of mms0-startup.log" example:"/opt/mongodb/mms/logs/mms0-startup.log" default:"<install_dir>/logs/mms0-startup.log"`                                                     // mms0-startup.log
	AccessLog  string `yaml:"access_log,omitempty" help:"path of mms0-access.log" example:"/opt/mongodb/mms/logs/mms0-access.log" default:"<install_dir>/logs/mms0-access.log"`                                                         // mms0-access.log
	// Service is the service name (default mongodb-mms).
	Service string `yaml:"service,omitempty" help:"the Ops Manager service name" example:"mongodb-mms" default:"mongodb-mms"`
	// ServiceManager: service (package default: `service mongodb-mms start`),
	// command (tar default: `<install_dir>/bin/mongodb-mms start`), systemctl.
	ServiceManager string `yaml:"service_manager,omitempty" help:"how the service is started and stopped" options:"service,systemctl,command" default:"service (package), command: <install_dir>/bin/mongodb-mms (tar)"`
	// ServiceCommand is the argv for service_manager command; "{action}"
	// (start, stop, restart, status) is substituted.
	ServiceCommand []string `yaml:"service_command,omitempty" when:"service_manager=command" help:"argv for service manager command; {action} is start, stop, restart or status; comma-separated" example:"/opt/om/bin/mongodb-mms, {action}" default:"none (only with service manager command)"`
}

// Server is one Ops Manager Application server.
type Server struct {
	steps.HostAnswers `yaml:",inline"`
	Install           string `yaml:"install" title:"Install type" help:"package: installed from the rpm/deb; tar: unpacked from the archive" options:"package,tar"`                                        // package | tar
	InstallDir        string `yaml:"install_dir,omitempty" help:"the directory holding bin/mongodb-mms and conf/; required for tar" example:"/opt/mongodb/mms-7.0.4" default:"/opt/mongodb/mms (package)"` // tar: required; package: /opt/mongodb/mms
	ServiceUser       string `yaml:"service_user,omitempty" advanced:"true" help:"the user Ops Manager runs as" example:"mongodb-mms" default:"mongodb-mms (package), MMS_USER of mms.conf (tar)"`         // package: mongodb-mms; tar: MMS_USER of mms.conf
	Paths             Paths  `yaml:"paths,omitempty" advanced:"true"`                                                                                                                                      // per-server overrides of the top-level paths
}

// Member is one App DB replica-set member, as the operator describes it.
type Member struct {
	Host     string `yaml:"host" help:"host:port as in the URI" example:"db1.example.net:27017"`        // host:port as in the URI
	Facility string `yaml:"facility,omitempty" help:"data centre or site" example:"dc1" default:"none"` // data centre / site
	Votes    *int   `yaml:"votes,omitempty" help:"0 or 1" default:"1"`                                  // 0 or 1; default 1
	Priority *int   `yaml:"priority,omitempty" help:"0 to 1000" default:"1 (arbiter 0)"`                // 0..1000; default 1 (arbiter 0)
	Arbiter  bool   `yaml:"arbiter,omitempty" help:"the member is an arbiter" default:"no"`
}

// AppDB is the Application Database.
type AppDB struct {
	// URI lists every replica-set member, WITHOUT credentials (M7):
	// mongodb://h0:27017,h1:27017,h2:27017/?maxPoolSize=100
	URI string `yaml:"uri" title:"App DB URI" help:"every replica-set member, WITHOUT credentials" example:"mongodb://db1:27017,db2:27017,db3:27017/?replicaSet=appdb"`
	// Username, when set, is spliced into the URI written to
	// conf-mms.properties with the password from HAWIZ_APPDB_PASSWORD (or a
	// prompt); the password is never stored.
	Username string   `yaml:"username,omitempty" title:"App DB user" help:"put into the URI written to conf-mms.properties; the password comes from HAWIZ_APPDB_PASSWORD or a prompt and is never stored" example:"mms" default:"none: the URI as given"`
	Members  []Member `yaml:"members,omitempty" advanced:"true" help:"the replica-set members (facility, votes, priority), for the placement check; 0: the URI's hosts, one site"`
	// LiveCheck, with a username: read the live configuration
	// (replSetGetConfig) and compare it with the answers. try (default): an
	// unreachable App DB is a warning; required: it stops the run; off:
	// don't connect.
	LiveCheck string `yaml:"live_check,omitempty" when:"username!=" title:"Live check" help:"with a user: compare the live replica-set configuration with the answers; try: unreachable is a warning, required: it stops the run, off: don't connect" options:"try,required,off" default:"try"`
	// LiveVia is where the live check connects from: server (default)
	// through the first Ops Manager server's SSH connection (it reaches the
	// App DB; this machine often cannot); direct from this machine;
	// server-then-direct tries this machine when the server cannot reach it.
	LiveVia string `yaml:"live_via,omitempty" advanced:"true" when:"username!=;live_check!=off" title:"Live check via" help:"where the live check connects from" options:"server,direct,server-then-direct" default:"server"`
	// LiveTimeout bounds each connection attempt; default 5s.
	LiveTimeout time.Duration `yaml:"live_timeout,omitempty" advanced:"true" when:"username!=;live_check!=off" help:"bound on each live-check connection" example:"10s" default:"5s"`
	// FacilityTag is the replica-set member tag whose value names a
	// member's facility (data centre) in the live configuration; default
	// "dc" (DefaultFacilityTag). The placement rule is judged on it.
	FacilityTag string `yaml:"facility_tag,omitempty" advanced:"true" when:"username!=;live_check!=off" help:"the member tag naming a member's data centre in the live configuration" example:"site" default:"dc"`
}

// LoadBalancer is the LB in front of the servers (M2 step 1).
type LoadBalancer struct {
	URL            string   `yaml:"url" title:"Load balancer URL" help:"the URL users reach Ops Manager by (mms.centralUrl)" example:"http://om.example.net:8080"`                                                                      // e.g. http://om.example.net:8080 (mms.centralUrl)
	RemoteIPHeader string   `yaml:"remote_ip_header,omitempty" advanced:"true" title:"Remote IP header" help:"the header the load balancer puts the client address in" example:"X-Real-IP" default:"X-Forwarded-For"`                   // default X-Forwarded-For
	DNSServers     []string `yaml:"dns_servers,omitempty" advanced:"true" help:"authoritative DNS servers to check, host[:port], comma-separated" example:"ns1.example.net, 10.0.0.53" default:"discovered from the zone's NS records"` // authoritative servers to check; default discover
	DNSResolver    string   `yaml:"dns_resolver,omitempty" advanced:"true" help:"the resolver that finds the zone's servers, host[:port]" example:"10.0.0.53" default:"the system resolver"`
	// Expect lists the addresses the LB's name must resolve to (optional;
	// without it hawiz checks that every authoritative server agrees).
	Expect []string `yaml:"expect,omitempty" advanced:"true" help:"addresses the load balancer's name must resolve to, comma-separated" example:"10.0.0.80" default:"any, as long as every authoritative server agrees"`
	// CheckBackends: require every server to be seen behind the LB (default true).
	CheckBackends *bool `yaml:"check_backends,omitempty" advanced:"true" help:"require every server to be seen behind the load balancer" default:"true"`
	// Requests sent through the LB to see every backend; default 4 per server.
	Requests int `yaml:"requests,omitempty" advanced:"true" help:"requests sent through the load balancer to see every backend" example:"12" default:"4 per server"`
	// CacheProbeGap is the pause between the two requests whose Date headers
	// are compared (a cache replays Date); default 1.2s.
	CacheProbeGap time.Duration `yaml:"cache_probe_gap,omitempty" advanced:"true" help:"pause between the two requests whose Date headers are compared" example:"2s" default:"1.2s"`
}

// GenKey says how gen.key comes to be (M1).
type GenKey struct {
	Mode     string `yaml:"mode" title:"gen.key" help:"first-server: copy the first server's; file: a local 24-byte file; generate: a new random key" options:"first-server,file,generate" default:"first-server"` // first-server (default) | file | generate
	File     string `yaml:"file,omitempty" when:"mode=file" title:"gen.key file" help:"with gen.key file: a local file of exactly 24 bytes" example:"./gen.key" default:"none (only with file)"`                   // mode file: a local file of exactly 24 bytes
	BackupTo string `yaml:"backup_to,omitempty" title:"gen.key backup to" help:"a local file for a backup copy of gen.key (mode 0600)" example:"./gen.key.backup" default:"no backup"`                             // local file for a backup copy (mode 0600)
}

// Agent is a MongoDB Agent host (M2 step 4).
type Agent struct {
	steps.HostAnswers `yaml:",inline"`
	ConfigPath        string `yaml:"config_path,omitempty" advanced:"true" help:"the agent's configuration file" example:"/etc/mongodb-mms/automation-agent.config" default:"/etc/mongodb-mms/automation-agent.config"` // default /etc/mongodb-mms/automation-agent.config
	Service           string `yaml:"service,omitempty" advanced:"true" help:"the agent's service name" example:"mongodb-mms-automation-agent" default:"mongodb-mms-automation-agent"`                                   // default mongodb-mms-automation-agent
	ServiceManager    string `yaml:"service_manager,omitempty" advanced:"true" help:"how the agent is restarted" options:"systemctl,service" default:"systemctl"`                                                       // systemctl (default) | service
}

// Common is what both Ops Manager procedures need.
type Common struct {
	SSH     steps.SSHAnswers `yaml:"ssh,omitempty"`
	Servers []Server         `yaml:"servers" help:"at least 2 Application servers behind the load balancer"`
	Paths   Paths            `yaml:"paths,omitempty" advanced:"true"`
	Port    int              `yaml:"port,omitempty" title:"Ops Manager port" help:"the port the servers listen on" example:"8080" default:"8080 (8443 with HTTPS)"` // Ops Manager port; default 8080 (8443 with https)
	HTTPS   bool             `yaml:"https,omitempty" help:"the servers serve HTTPS" default:"no"`                                                                   // the servers serve HTTPS (M13: 8443)
	// StartTimeout bounds a server's start (M11: startup can take minutes); default 10m.
	StartTimeout time.Duration `yaml:"start_timeout,omitempty" advanced:"true" help:"bound on a server's start (startup can take minutes)" example:"20m" default:"10m"`
	// AllowVersionMismatch lets the HA procedure run with different
	// versions (never: kept false unless an upgrade is under way).
}

// Answers are the answers of opsmanager-ha.
type Answers struct {
	Common       `yaml:",inline"`
	AppDB        AppDB        `yaml:"appdb"`
	LoadBalancer LoadBalancer `yaml:"load_balancer"`
	GenKey       GenKey       `yaml:"gen_key,omitempty"`
	Agents       []Agent      `yaml:"agents,omitempty" help:"MongoDB Agent hosts whose mmsBaseUrl is pointed at the load balancer; 0 leaves agents alone"`
}

// Upgrade is what opsmanager-upgrade installs.
type Upgrade struct {
	// Package is the local file hawiz uploads: .deb, .rpm or .tar.gz.
	Package string `yaml:"package" help:"the local .deb, .rpm or .tar.gz hawiz uploads" example:"./mongodb-mms-7.0.4.x86_64.rpm"`
	// SHA256 of Package (hex); checked locally before and on every server after upload.
	SHA256 string `yaml:"sha256,omitempty" title:"Package SHA-256" help:"the package's hex digest, checked here and on every server" example:"9f86d081884c7d65…(64 hex digits)" default:"not checked"`
	// Version is the version the package installs, as rpm -q / dpkg-query
	// (or the archive's directory name) reports it.
	Version string `yaml:"version" help:"the version the package installs, as rpm -q / dpkg-query report it" example:"7.0.4.500.20240405T1431Z"`
	// RemoteDir is where the package is uploaded on each server (default
	// /tmp; Ops Manager packages are large: pick a disk with room).
	RemoteDir string `yaml:"remote_dir,omitempty" advanced:"true" help:"where the package is uploaded on each server (pick a disk with room)" example:"/var/tmp" default:"/tmp"`
}

// UpgradeAnswers are the answers of opsmanager-upgrade.
type UpgradeAnswers struct {
	Common       `yaml:",inline"`
	Upgrade      Upgrade       `yaml:"upgrade"`
	GenKeyBackup string        `yaml:"gen_key_backup_to,omitempty" title:"gen.key backup to" help:"a local file for a backup copy of gen.key before upgrading" example:"./gen.key.backup" default:"no backup"` // local backup copy of gen.key before upgrading
	LoadBalancer *LoadBalancer `yaml:"load_balancer,omitempty"`                                                                                                                                                // optional: health through the LB at the end
}

var versionRE = regexp.MustCompile(`^[0-9][0-9A-Za-z.+~_-]*$`)

func (c *Common) validate(es *steps.FieldErrors) {
	*es = append(*es, c.SSH.Validate().Prefix("ssh")...)
	if len(c.Servers) < 2 {
		es.Add("servers", "an HA Ops Manager needs at least 2 Application servers behind the load balancer ("+refMultipleServers.String()+"), got %d", len(c.Servers))
	}
	seen := map[string]int{}
	for i := range c.Servers {
		s := &c.Servers[i]
		f := fmt.Sprintf("servers[%d]", i)
		*es = append(*es, s.HostAnswers.Validate().Prefix(f)...)
		if s.OS == "windows" {
			es.Add(f+".os", "Ops Manager on Windows existed only up to v4.2 (%s); hawiz supports Linux servers", refWindowsLast)
		}
		if j, dup := seen[s.Name]; dup && s.Name != "" {
			es.Add(f+".name", "%q is already servers[%d]", s.Name, j)
		}
		seen[s.Name] = i
		switch s.Install {
		case InstallPackage:
			if s.InstallDir == "" {
				s.InstallDir = PackageInstallDir
			}
			if s.ServiceUser == "" {
				s.ServiceUser = PackageUser
			}
		case InstallTar:
			if s.InstallDir == "" {
				es.Add(f+".install_dir", "is required for a tar install (the directory holding bin/mongodb-mms and conf/)")
			}
		case "":
			es.Add(f+".install", "is required: package (rpm/deb) or tar (archive)")
		default:
			es.Add(f+".install", "%q must be package or tar", s.Install)
		}
		if s.InstallDir != "" && !path.IsAbs(s.InstallDir) {
			es.Add(f+".install_dir", "%q must be an absolute path", s.InstallDir)
		}
		if s.ServiceUser != "" && !userRE.MatchString(s.ServiceUser) {
			es.Add(f+".service_user", "%q is not a user name", s.ServiceUser)
		}
		s.Paths = mergePaths(s.Paths, c.Paths)
		validatePaths(es, f+".paths", s.Paths)
	}
	validatePaths(es, "paths", c.Paths)
	if c.Port == 0 {
		c.Port = DefaultPort
		if c.HTTPS {
			c.Port = DefaultHTTPSPort
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		es.Add("port", "%d is not a TCP port", c.Port)
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 10 * time.Minute
	}
	if c.StartTimeout < 0 {
		es.Add("start_timeout", "%v must be positive", c.StartTimeout)
	}
}

// checkUsers checks ssh.user and each host's user (servers, then agents)
// for the hosts' OS.
func (c *Common) checkUsers(agents []Agent) steps.FieldErrors {
	var hosts []steps.HostAnswers
	var fields []string
	for i, s := range c.Servers {
		hosts, fields = append(hosts, s.HostAnswers), append(fields, fmt.Sprintf("servers[%d]", i))
	}
	for i, g := range agents {
		hosts, fields = append(hosts, g.HostAnswers), append(fields, fmt.Sprintf("agents[%d]", i))
	}
	return steps.CheckSSHUsers(&c.SSH, hosts, fields)
}

var userRE = regexp.MustCompile(`^[a-z_][a-z0-9_.-]*\$?$`)

func mergePaths(p, def Paths) Paths {
	if p.Conf == "" {
		p.Conf = def.Conf
	}
	if p.MMSConf == "" {
		p.MMSConf = def.MMSConf
	}
	if p.GenKey == "" {
		p.GenKey = def.GenKey
	}
	if p.StartupLog == "" {
		p.StartupLog = def.StartupLog
	}
	if p.AccessLog == "" {
		p.AccessLog = def.AccessLog
	}
	if p.Service == "" {
		p.Service = def.Service
	}
	if p.ServiceManager == "" {
		p.ServiceManager = def.ServiceManager
	}
	if len(p.ServiceCommand) == 0 {
		p.ServiceCommand = def.ServiceCommand
	}
	return p
}

func validatePaths(es *steps.FieldErrors, f string, p Paths) {
	for k, v := range map[string]string{"conf": p.Conf, "mms_conf": p.MMSConf, "gen_key": p.GenKey, "startup_log": p.StartupLog, "access_log": p.AccessLog} {
		if v != "" && !path.IsAbs(v) {
			es.Add(f+"."+k, "%q must be an absolute path", v)
		}
	}
	switch p.ServiceManager {
	case "", "service", "systemctl":
		if len(p.ServiceCommand) > 0 && p.ServiceManager != "" {
			es.Add(f+".service_command", "is only used with service_manager: command")
		}
	case "command":
		if len(p.ServiceCommand) == 0 {
			es.Add(f+".service_command", "is required with service_manager: command (argv with {action})")
		}
	default:
		es.Add(f+".service_manager", "%q must be service, systemctl or command", p.ServiceManager)
	}
	for i, a := range p.ServiceCommand {
		if a == "" {
			es.Add(fmt.Sprintf("%s.service_command[%d]", f, i), "must not be empty")
		}
	}
}

// Validate applies defaults and checks the answers of opsmanager-ha.
func (a *Answers) Validate() error {
	var es steps.FieldErrors
	a.Common.validate(&es)
	a.AppDB.validate(&es)
	a.LoadBalancer.validate(&es, "load_balancer")
	switch a.GenKey.Mode {
	case "":
		a.GenKey.Mode = GenKeyFirst
	case GenKeyFirst, GenKeyGenerate:
	case GenKeyFile:
		if a.GenKey.File == "" {
			es.Add("gen_key.file", "is required with mode file (a local file of exactly %d bytes)", GenKeySize)
		}
	default:
		es.Add("gen_key.mode", "%q must be first-server, file or generate", a.GenKey.Mode)
	}
	if a.GenKey.File != "" && a.GenKey.Mode != GenKeyFile {
		es.Add("gen_key.file", "is only used with mode file")
	}
	names := map[string]string{}
	for i, s := range a.Servers {
		names[s.Name] = fmt.Sprintf("servers[%d]", i)
	}
	for i := range a.Agents {
		g := &a.Agents[i]
		f := fmt.Sprintf("agents[%d]", i)
		es = append(es, g.HostAnswers.Validate().Prefix(f)...)
		if other, dup := names[g.Name]; dup && g.Name != "" {
			es.Add(f+".name", "%q is already %s", g.Name, other)
		}
		names[g.Name] = f
		if g.ConfigPath == "" {
			g.ConfigPath = DefaultAgentConfig
		}
		if !path.IsAbs(g.ConfigPath) {
			es.Add(f+".config_path", "%q must be an absolute path", g.ConfigPath)
		}
		if g.Service == "" {
			g.Service = DefaultAgentSvc
		}
		switch g.ServiceManager {
		case "":
			g.ServiceManager = "systemctl"
		case "systemctl", "service":
		default:
			es.Add(f+".service_manager", "%q must be systemctl or service", g.ServiceManager)
		}
	}
	es = append(es, a.checkUsers(a.Agents)...)
	return steps.WithPlaceholders(a, es).Err()
}

// Validate applies defaults and checks the answers of opsmanager-upgrade.
func (a *UpgradeAnswers) Validate() error {
	var es steps.FieldErrors
	a.Common.validate(&es)
	u := &a.Upgrade
	switch {
	case u.Package == "":
		es.Add("upgrade.package", "is required: the local .deb, .rpm or .tar.gz to install")
	case packageKind(u.Package) == "":
		es.Add("upgrade.package", "%q must end in .deb, .rpm, .tar.gz or .tgz", u.Package)
	}
	if u.SHA256 != "" {
		u.SHA256 = strings.ToLower(u.SHA256)
		if len(u.SHA256) != 64 || strings.Trim(u.SHA256, "0123456789abcdef") != "" {
			es.Add("upgrade.sha256", "must be 64 hex digits")
		}
	}
	if u.RemoteDir == "" {
		u.RemoteDir = "/tmp"
	}
	if !path.IsAbs(u.RemoteDir) {
		es.Add("upgrade.remote_dir", "%q must be an absolute path", u.RemoteDir)
	}
	if u.Version == "" {
		es.Add("upgrade.version", "is required: the version the package installs (as rpm -q / dpkg-query report it)")
	} else if !versionRE.MatchString(u.Version) {
		es.Add("upgrade.version", "%q is not a version", u.Version)
	}
	for i, s := range a.Servers {
		k := packageKind(u.Package)
		if k == "" {
			break
		}
		if (k == "tar") != (s.Install == InstallTar) {
			es.Add(fmt.Sprintf("servers[%d].install", i), "%s install cannot take the %s file %s", s.Install, k, path.Base(u.Package))
		}
	}
	if a.LoadBalancer != nil {
		a.LoadBalancer.validate(&es, "load_balancer")
	}
	es = append(es, a.checkUsers(nil)...)
	return steps.WithPlaceholders(a, es).Err()
}

func packageKind(p string) string {
	switch {
	case strings.HasSuffix(p, ".deb"):
		return "deb"
	case strings.HasSuffix(p, ".rpm"):
		return "rpm"
	case strings.HasSuffix(p, ".tar.gz"), strings.HasSuffix(p, ".tgz"):
		return "tar"
	}
	return ""
}

func (lb *LoadBalancer) validate(es *steps.FieldErrors, f string) {
	if lb.URL == "" {
		es.Add(f+".url", "is required: the load balancer URL users and agents use, e.g. http://om.example.net:8080 (%s)", refCentralURL)
	} else if u, err := url.Parse(lb.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		es.Add(f+".url", "%q must be an http:// or https:// URL with a host", lb.URL)
	} else {
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			es.Add(f+".url", "%q: give scheme, host and port only (mms.centralUrl is FQDN and port, "+refCentralURL.String()+")", lb.URL)
		}
		if h := u.Hostname(); strings.Contains(h, ":") && !strings.HasPrefix(u.Host, "[") {
			es.Add(f+".url", "an IPv6 address needs brackets (%s)", refCentralURL)
		} else if err := steps.CheckAddress(h); err != nil {
			es.Add(f+".url", "host %v", err)
		} else if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				es.Add(f+".url", "%q is not a port (1 to 65535)", p)
			}
		}
		lb.URL = strings.TrimSuffix(lb.URL, "/")
	}
	if lb.RemoteIPHeader == "" {
		lb.RemoteIPHeader = DefaultIPHeader
	}
	if !headerRE.MatchString(lb.RemoteIPHeader) {
		es.Add(f+".remote_ip_header", "%q is not an HTTP header name (the note in step 2 of the HA page that says to put the LB URL here is wrong: it is the header that carries the client IP, "+refRemoteIPHeader.String()+")", lb.RemoteIPHeader)
	}
	for i, d := range lb.DNSServers {
		if err := steps.CheckServer(d); err != nil {
			es.Add(fmt.Sprintf("%s.dns_servers[%d]", f, i), "%v", err)
		}
	}
	if lb.DNSResolver != "" {
		if err := steps.CheckServer(lb.DNSResolver); err != nil {
			es.Add(f+".dns_resolver", "%v", err)
		}
	}
	for i, e := range lb.Expect {
		if _, err := netip.ParseAddr(e); err != nil {
			es.Add(fmt.Sprintf("%s.expect[%d]", f, i), "%q is not an IP address", e)
		}
	}
	if lb.CheckBackends == nil {
		t := true
		lb.CheckBackends = &t
	}
	if lb.Requests < 0 {
		es.Add(f+".requests", "%d must be positive", lb.Requests)
	}
	if lb.CacheProbeGap == 0 {
		lb.CacheProbeGap = 1200 * time.Millisecond
	}
	if lb.CacheProbeGap < time.Second {
		es.Add(f+".cache_probe_gap", "%v must be at least 1s (HTTP dates have 1 s resolution)", lb.CacheProbeGap)
	}
}

var headerRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// AppDBHost is one host:port of the URI.
type AppDBHost struct{ Host, Port string }

func (h AppDBHost) String() string { return net.JoinHostPort(h.Host, h.Port) }

// ParseAppDBURI checks a mongodb:// URI without credentials and returns its
// hosts (port default 27017, M7).
func ParseAppDBURI(uri string) ([]AppDBHost, error) {
	if strings.HasPrefix(uri, "mongodb+srv://") {
		return nil, fmt.Errorf("use the mongodb:// form listing every replica-set member (%s); hawiz must count the hosts", refMongoURI)
	}
	rest, ok := strings.CutPrefix(uri, "mongodb://")
	if !ok {
		return nil, fmt.Errorf("%q must start with mongodb://", uri)
	}
	hostPart := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hostPart = rest[:i]
	}
	if strings.Contains(hostPart, "@") {
		return nil, fmt.Errorf("must not hold credentials: give appdb.username and the password in %s (or at the prompt)", steps.SecretEnvVar(steps.SecretAppDBPassword))
	}
	if hostPart == "" {
		return nil, fmt.Errorf("%q names no host", uri)
	}
	var out []AppDBHost
	for _, hp := range strings.Split(hostPart, ",") {
		h, p := hp, "27017"
		if strings.HasPrefix(hp, "[") {
			end := strings.Index(hp, "]")
			if end < 0 {
				return nil, fmt.Errorf("host %q: unclosed [", hp)
			}
			h = hp[1:end]
			if r := hp[end+1:]; r != "" {
				if !strings.HasPrefix(r, ":") {
					return nil, fmt.Errorf("host %q: junk after ]", hp)
				}
				p = r[1:]
			}
		} else if i := strings.LastIndex(hp, ":"); i >= 0 {
			h, p = hp[:i], hp[i+1:]
		}
		if h == "" {
			return nil, fmt.Errorf("empty host in %q", hostPart)
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("host %q: %q is not a port", hp, p)
		}
		out = append(out, AppDBHost{Host: h, Port: p})
	}
	return out, nil
}

// WithCredentials returns uri with user and password spliced in,
// percent-encoded as the MongoDB URI format requires.
func WithCredentials(uri, user, password string) string {
	if user == "" {
		return uri
	}
	rest := strings.TrimPrefix(uri, "mongodb://")
	return "mongodb://" + url.UserPassword(user, password).String() + "@" + rest
}

func (d *AppDB) validate(es *steps.FieldErrors) {
	d.validateLive(es)
	if d.URI == "" {
		es.Add("appdb.uri", "is required: mongodb://h0:27017,h1:27017,h2:27017/?maxPoolSize=100 (%s)", refReplHostsStep)
		return
	}
	hosts, err := ParseAppDBURI(d.URI)
	if err != nil {
		es.Add("appdb.uri", "%v", err)
		return
	}
	for _, h := range hosts {
		if err := steps.CheckAddress(h.Host); err != nil {
			es.Add("appdb.uri", "host %v", err)
		}
	}
	if len(hosts) < 3 {
		es.Add("appdb.uri", "lists %d host(s); the Application Database replica set needs at least 3, all listed ("+docRefs(refReplHostsStep, refMongoURI)+")", len(hosts))
	}
	if len(d.Members) == 0 {
		return
	}
	inURI := map[string]bool{}
	for _, h := range hosts {
		inURI[strings.ToLower(h.String())] = true
	}
	seen := map[string]int{}
	for i := range d.Members {
		d.Members[i].validate(es, fmt.Sprintf("appdb.members[%d]", i), i, seen, inURI)
	}
	for _, h := range hosts {
		if _, ok := seen[strings.ToLower(h.String())]; !ok {
			es.Add("appdb.members", "%s (in appdb.uri) is not described here: describe every member or none", h)
		}
	}
	if err := CheckPlacement(d.Members); err != nil {
		es.Add("appdb.members", "%v", err)
	}
}

// validateLive checks and defaults the live check's settings
// (appdb.live_check, live_via, live_timeout).
func (d *AppDB) validateLive(es *steps.FieldErrors) {
	switch d.LiveCheck {
	case "":
		d.LiveCheck = "try"
	case "try", "required", "off":
	default:
		es.Add("appdb.live_check", "%q must be try, required or off", d.LiveCheck)
	}
	switch d.LiveVia {
	case "":
		d.LiveVia = "server"
	case "server", "direct", "server-then-direct":
	default:
		es.Add("appdb.live_via", "%q must be server, direct or server-then-direct", d.LiveVia)
	}
	if d.LiveCheck == "required" && d.Username == "" {
		es.Add("appdb.live_check", "required needs appdb.username (the live check authenticates)")
	}
	if d.LiveTimeout == 0 {
		d.LiveTimeout = 5 * time.Second
	}
}

// validate checks member i (field f) of appdb.members and fills in its
// votes and priority defaults; seen maps the lower-cased hosts described so
// far to their index, inURI holds appdb.uri's lower-cased hosts.
func (m *Member) validate(es *steps.FieldErrors, f string, i int, seen map[string]int, inURI map[string]bool) {
	// Defaults first: a member whose host is refused still takes part in
	// the placement check that follows (it used to dereference nil votes).
	if m.Votes == nil {
		v := 1
		m.Votes = &v
	}
	if m.Priority == nil {
		p := 1
		if m.Arbiter || *m.Votes == 0 {
			p = 0
		}
		m.Priority = &p
	}
	if m.Host == "" {
		es.Add(f+".host", "is required (host:port as in appdb.uri)")
		return
	}
	hs, err := ParseAppDBURI("mongodb://" + m.Host)
	if err != nil || len(hs) != 1 {
		es.Add(f+".host", "%q is not host or host:port", m.Host)
		return
	}
	if err := steps.CheckAddress(hs[0].Host); err != nil {
		es.Add(f+".host", "%v", err)
	}
	m.Host = hs[0].String()
	key := strings.ToLower(m.Host)
	if j, dup := seen[key]; dup {
		es.Add(f+".host", "%q is already appdb.members[%d]", m.Host, j)
	}
	seen[key] = i
	if *m.Votes != 0 && *m.Votes != 1 {
		es.Add(f+".votes", "%d must be 0 or 1", *m.Votes)
	}
	if *m.Priority < 0 || *m.Priority > 1000 {
		es.Add(f+".priority", "%d must be 0..1000", *m.Priority)
	}
	if *m.Votes == 0 && *m.Priority > 0 {
		es.Add(f+".priority", "a non-voting member must have priority 0")
	}
	if m.Arbiter && (*m.Priority != 0 || *m.Votes != 1) {
		es.Add(f+".arbiter", "an arbiter has priority 0 and 1 vote")
	}
	if !m.Arbiter && !inURI[key] {
		es.Add(f+".host", "%q is not in appdb.uri: list every data-bearing member there ("+refMongoURI.String()+")", m.Host)
	}
}

// CheckPlacement applies M1: when members span facilities, one facility
// must hold a strict majority of the votes AND every member that can become
// primary (priority > 0). Members need defaults applied.
func CheckPlacement(ms []Member) error {
	total := 0
	votes := map[string]int{}
	var facs []string
	withFac := 0
	voting := 0
	for _, m := range ms {
		if m.Facility != "" {
			withFac++
		}
		if _, ok := votes[m.Facility]; !ok {
			facs = append(facs, m.Facility)
		}
		votes[m.Facility] += *m.Votes
		total += *m.Votes
		if *m.Votes > 0 {
			voting++
		}
	}
	if voting > 7 {
		return fmt.Errorf("%d voting members; a replica set has at most 7", voting)
	}
	if total == 0 {
		return fmt.Errorf("no member votes")
	}
	if withFac == 0 {
		return nil // one site: nothing to place
	}
	if withFac != len(ms) {
		return fmt.Errorf("give every member a facility, or none")
	}
	need := total/2 + 1
	// The candidate: the facility with most votes, ties broken by holding
	// more primary-eligible members, then by name.
	sort.SliceStable(facs, func(i, j int) bool {
		if votes[facs[i]] != votes[facs[j]] {
			return votes[facs[i]] > votes[facs[j]]
		}
		return facs[i] < facs[j]
	})
	best := facs[0]
	var problems []string
	if votes[best] < need {
		problems = append(problems, fmt.Sprintf("facility %q holds %d of %d votes (needs %d)", best, votes[best], total, need))
	}
	for _, m := range ms {
		if *m.Priority > 0 && m.Facility != best {
			problems = append(problems, fmt.Sprintf("member %s (priority %d) is in %q", m.Host, *m.Priority, m.Facility))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s; "+DocAppDBPlacement+": one facility must hold a majority of the votes and every member that can become primary, or a network partition can leave the set without a primary", strings.Join(problems, "; "))
}

// DataBearing counts the members that hold data (no arbiters); without
// members, the URI's hosts.
func (d *AppDB) DataBearing() int {
	if len(d.Members) == 0 {
		h, _ := ParseAppDBURI(d.URI)
		return len(h)
	}
	n := 0
	for _, m := range d.Members {
		if !m.Arbiter {
			n++
		}
	}
	return n
}

// HostAnswers lists servers then agents (steps.HostSource).
func (a *Answers) HostAnswers() []steps.HostAnswers {
	var out []steps.HostAnswers
	for _, s := range a.Servers {
		out = append(out, s.HostAnswers)
	}
	for _, g := range a.Agents {
		out = append(out, g.HostAnswers)
	}
	return out
}

// HostAnswers lists the servers in upgrade order (steps.HostSource).
func (a *UpgradeAnswers) HostAnswers() []steps.HostAnswers {
	var out []steps.HostAnswers
	for _, s := range a.Servers {
		out = append(out, s.HostAnswers)
	}
	return out
}

// SSHAnswers returns the shared ssh block (steps.HostSource).
func (c *Common) SSHAnswers() *steps.SSHAnswers { return &c.SSH }

func (c *Common) server(name string) *Server {
	for i := range c.Servers {
		if c.Servers[i].Name == name {
			return &c.Servers[i]
		}
	}
	return nil
}

func (c *Common) serverNames() []string {
	var out []string
	for _, s := range c.Servers {
		out = append(out, s.Name)
	}
	return out
}
