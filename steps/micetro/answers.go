package micetro

import (
	"fmt"
	"net/netip"
	"os"
	"path"
	"strings"
	"time"

	"github.com/hawiz/hawiz/dnscheck"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Defaults (procedures.md B.1).
const (
	LinuxPrefsPath   = "/var/mmsuite/mmcentral/preferences.cfg"
	WindowsPrefsPath = `C:\ProgramData\Men and Mice\Central\preferences.cfg`
	LinuxService     = "mmcentral"
	WindowsService   = "Micetro Central"
	WindowsExe       = `C:\Program Files\Men and Mice\Central\mmcentral.exe`
	CentralPort      = 1231
	PrimaryPriority  = 10 // the docs' value for the first member (C1, C2)

	UI102 = "10.2+" // web UI: Admin → Configuration → High Availability (C1)
	UI101 = "10.1"  // Management Console: Tools → Manage High availability (C2)

	DefaultMaxClockSkew = 5 * time.Second

	// DefaultUploadDir is the parent of the installer's staging directory on
	// Linux members unless upload_dir or members[i].upload_dir says otherwise.
	DefaultUploadDir = "/tmp"
)

// DefaultLinuxVersionCommand reads the Central version [derived]: the docs
// give no version command for Linux. `mmcentrald -v` is the daemon's
// version switch as on Windows (`mmcentral.exe -v`, C6); set version_command
// when your build differs. The first "N.N[.N…]" in its output is the version.
var DefaultLinuxVersionCommand = []string{"mmcentrald", "-v"}

// DefaultWindowsVersionCommand is the Windows counterpart [derived].
var DefaultWindowsVersionCommand = []string{WindowsExe, "-v"}

// Member is one Central instance of the HA cluster.
type Member struct {
	// Name is the ClusterMemberName (C1): unique per instance.
	Name string `yaml:"name" title:"Cluster member name" help:"ClusterMemberName: unique per Central instance; the first member is the primary" example:"central1"`
	// Host is how to reach it; host.name defaults to Name.
	Host steps.HostAnswers `yaml:"host" defaults:"name=the member name"`
	// Priority: the primary (first member) 10, every other member a unique
	// value higher than the primary's (C1, C2). Ignored by the upgrade.
	Priority int `yaml:"priority,omitempty" help:"the primary (first member) gets 10; every other member a unique higher value; ignored by the upgrade" example:"20" default:"10 for the primary; required for the others"`
	// IP is the address the round-robin DNS name must hold for this member;
	// default: host.address when it is an IP address, else the address
	// dialled, else the local resolver's answer for host.address.
	IP string `yaml:"ip,omitempty" title:"IP in the DNS name" help:"the address the round-robin DNS name must hold for this member" example:"10.0.0.11" default:"host address when it is an IP, else the address dialled"`
	// PreferencesPath is this member's preferences.cfg when it differs from
	// the top-level preferences_path (a tar install or another layout on
	// this host only); default: preferences_path, else the OS default.
	PreferencesPath string `yaml:"preferences_path,omitempty" advanced:"true" help:"this member's preferences.cfg when it differs from the top-level one" example:"/opt/mmsuite/mmcentral/preferences.cfg" default:"preferences_path, else the OS default"`
	// UploadDir is where micetro-central-upgrade makes the installer's
	// private staging directory on this member; default: the top-level
	// upload_dir (Linux), else /tmp (Linux) or C:\Windows\Temp (Windows).
	// Ignored by the HA procedure.
	UploadDir string `yaml:"upload_dir,omitempty" advanced:"true" help:"where the upgrade stages the installer on this member (ignored by the HA procedure)" example:"/var/tmp" default:"upload_dir, else /tmp (Linux) or C:\\Windows\\Temp"`
}

// DNSAnswers is the round-robin name (C1 step 11).
type DNSAnswers struct {
	Name        string        `yaml:"name" help:"the round-robin DNS name that holds every member's address" example:"central.example.com"`
	TTL         uint32        `yaml:"ttl,omitempty" help:"seconds, for the records hawiz creates" example:"300" default:"300"`                                                                                                           // for records hawiz creates; default 300
	Servers     []string      `yaml:"servers,omitempty" advanced:"true" help:"authoritative DNS servers to check, host[:port], comma-separated" example:"ns1.example.com, 10.0.0.53:53" default:"discovered from the zone's NS records"` // authoritative servers "host[:port]"; default discover
	Resolver    string        `yaml:"resolver,omitempty" advanced:"true" help:"the resolver that finds the zone's servers, host[:port]" example:"10.0.0.53" default:"the system resolver"`
	TSIGKeyFile string        `yaml:"tsig_key_file,omitempty" title:"TSIG key file" help:"a BIND key file on this machine; with it hawiz offers to update the name itself (RFC 2136)" example:"/etc/bind/central.key" default:"none: you update the name by hand"` // BIND key file; with it hawiz offers RFC 2136
	MaxWait     time.Duration `yaml:"max_wait,omitempty" advanced:"true" help:"how long secondaries may take to follow an update" example:"1m" default:"30s"`                                                                                                      // for secondaries to follow an update; default 30s
}

// HATweaks are the optional HA settings (C3), written to every member.
type HATweaks struct {
	HeartbeatInterval           int `yaml:"heartbeat_interval,omitempty" advanced:"true" help:"seconds between heartbeats, 5 to 15" example:"10" default:"10"`                              // 5–15 s (default 10)
	HeartbeatMaxAllowedDowntime int `yaml:"heartbeat_max_allowed_downtime,omitempty" advanced:"true" help:"seconds without heartbeat before failover, 20 to 120" example:"30" default:"30"` // 20–120 s (default 30)
}

// Common is what both Micetro procedures need.
type Common struct {
	SSH             steps.SSHAnswers `yaml:"ssh"`
	Members         []Member         `yaml:"members" help:"at least 2; the first is the primary"`
	PreferencesPath string           `yaml:"preferences_path,omitempty" advanced:"true" help:"preferences.cfg on every member" example:"/var/mmsuite/mmcentral/preferences.cfg" default:"/var/mmsuite/mmcentral/preferences.cfg (Linux), C:\\ProgramData\\Men and Mice\\Central\\preferences.cfg (Windows)"`
	// Service is the service name: default mmcentral (Linux, systemctl),
	// "Micetro Central" (Windows).
	Service string `yaml:"service,omitempty" advanced:"true" help:"Central's service name" example:"mmcentral" default:"mmcentral (Linux), Micetro Central (Windows)"`
	// ServiceCommand, when set, drives the service instead of systemctl
	// (Linux) or mmcentral.exe (Windows): argv with "{action}" (start, stop,
	// restart, is-active) and "{service}" substituted. On Windows members
	// the state comes from Get-Service -Name SERVICE instead of is-active.
	ServiceCommand []string `yaml:"service_command,omitempty" advanced:"true" help:"argv that drives the service instead of systemctl / mmcentral.exe; {action} and {service} are substituted; comma-separated" example:"/usr/local/bin/svc, {action}, {service}" default:"systemctl (Linux), mmcentral.exe (Windows)"`
	// WindowsExe is mmcentral.exe's path on Windows members.
	WindowsExe string `yaml:"windows_exe,omitempty" advanced:"true" title:"Windows mmcentral.exe" help:"mmcentral.exe's path on Windows members" example:"D:\\Central\\mmcentral.exe" default:"C:\\Program Files\\Men and Mice\\Central\\mmcentral.exe"`
	// VersionCommand prints the Central version (argv) [derived].
	VersionCommand []string `yaml:"version_command,omitempty" advanced:"true" help:"argv that prints the Central version; comma-separated" example:"mmcentrald, -v" default:"mmcentrald -v (Linux), mmcentral.exe -v (Windows)"`
	// DaemonProcess is Central's process name, used to tell when it was
	// last (re)started [derived]: mmcentrald (Linux, C6), mmcentral (Windows).
	DaemonProcess string `yaml:"daemon_process,omitempty" advanced:"true" help:"Central's process name, to tell when it last started" example:"mmcentrald" default:"mmcentrald (Linux), mmcentral (Windows)"`
	// Timeout for service start/stop commands; default 2m.
	ServiceTimeout time.Duration `yaml:"service_timeout,omitempty" advanced:"true" help:"bound on a service start or stop" example:"5m" default:"2m"`
	// StartWait is how long Central may take to listen on 1231 after a
	// start; default 60s.
	StartWait time.Duration `yaml:"start_wait,omitempty" advanced:"true" help:"how long Central may take to listen on 1231 after a start" example:"2m" default:"60s"`
	// Database is the database server as the members reach it, host:port
	// (an IPv6 address in brackets). Optional: with it, preflight proves
	// from every member that a TCP connection to it opens before anything
	// changes. preferences.cfg's DatabaseServer has forms hawiz cannot turn
	// into one address and port reliably (an MSSQL named instance found
	// through SQL Browser, /etc/hosts entries for PostgreSQL HA, an Always
	// On listener, C4, C5): its value is shown in a warning instead.
	Database string `yaml:"database,omitempty" advanced:"true" help:"the database server as the members reach it, host:port; checked from every member before any change" example:"sql1.example.com:1433" default:"not checked (preflight warns and shows preferences.cfg's DatabaseServer)"`
}

func (c *Common) validate(es *steps.FieldErrors, needPriority bool) {
	*es = append(*es, c.SSH.Validate().Prefix("ssh")...)
	if len(c.Members) < 2 {
		es.Add("members", "needs at least 2 members (the first is the primary), got %d", len(c.Members))
	}
	seen := memberSeen{names: map[string]int{}, hosts: map[string]int{}, prios: map[int]int{}}
	hosts := make([]steps.HostAnswers, len(c.Members))
	fields := make([]string, len(c.Members))
	for i := range c.Members {
		c.validateMember(es, i, &seen, needPriority)
		hosts[i], fields[i] = c.Members[i].Host, fmt.Sprintf("members[%d].host", i)
	}
	*es = append(*es, steps.CheckSSHUsers(&c.SSH, hosts, fields)...)
	c.validateSettings(es)
}

// memberSeen is what validateMember found in the members before: names
// (lower case), host names and priorities, each with its member's index.
type memberSeen struct {
	names, hosts map[string]int
	prios        map[int]int
}

// validateMember checks members[i] against itself and the members before
// it, and fills its host name (and the primary's priority) when unset.
func (c *Common) validateMember(es *steps.FieldErrors, i int, seen *memberSeen, needPriority bool) {
	m := &c.Members[i]
	f := fmt.Sprintf("members[%d]", i)
	if err := ValidName(m.Name); err != nil {
		es.Add(f+".name", "%v", err)
	} else if j, dup := seen.names[strings.ToLower(m.Name)]; dup {
		es.Add(f+".name", "%q is already the name of members[%d]: ClusterMemberName must be unique", m.Name, j)
	} else {
		seen.names[strings.ToLower(m.Name)] = i
	}
	if m.Host.Name == "" {
		m.Host.Name = m.Name
		if !hostNameOK(m.Name) {
			m.Host.Name = slug(m.Name)
		}
	}
	*es = append(*es, m.Host.Validate().Prefix(f+".host")...)
	if j, dup := seen.hosts[m.Host.Name]; dup && m.Host.Name != "" {
		es.Add(f+".host.name", "%q is already the host of members[%d]", m.Host.Name, j)
	} else {
		seen.hosts[m.Host.Name] = i
	}
	if m.IP != "" {
		if _, err := netip.ParseAddr(m.IP); err != nil {
			es.Add(f+".ip", "%q is not an IP address", m.IP)
		}
	}
	if m.PreferencesPath != "" && !m.absPath(m.PreferencesPath) {
		es.Add(f+".preferences_path", "%q must be an absolute path%s", m.PreferencesPath, m.onOS())
	}
	if m.UploadDir != "" && !m.absPath(m.UploadDir) {
		es.Add(f+".upload_dir", "%q must be an absolute path%s", m.UploadDir, m.onOS())
	}
	if needPriority {
		c.validatePriority(es, i, seen)
	}
}

// validatePriority: the primary gets priority 10 (filled when unset), every
// other member a unique, higher one (C1, C2).
func (c *Common) validatePriority(es *steps.FieldErrors, i int, seen *memberSeen) {
	m := &c.Members[i]
	f := fmt.Sprintf("members[%d]", i)
	switch {
	case i == 0 && m.Priority == 0:
		m.Priority = PrimaryPriority
	case i == 0 && m.Priority != PrimaryPriority:
		es.Add(f+".priority", "%d: the primary (first member) gets priority %d, as the docs say", m.Priority, PrimaryPriority)
	case i > 0 && m.Priority == 0:
		es.Add(f+".priority", "is required: a unique value higher than the primary's %d (e.g. %d)", PrimaryPriority, 10+10*i)
	case i > 0 && m.Priority <= c.Members[0].Priority:
		es.Add(f+".priority", "%d must be higher than the primary's %d", m.Priority, max(c.Members[0].Priority, PrimaryPriority))
	}
	if j, dup := seen.prios[m.Priority]; dup && m.Priority != 0 && i > 0 {
		es.Add(f+".priority", "%d is already the priority of members[%d] (%s): priorities must be unique", m.Priority, j, c.Members[j].Name)
	} else if m.Priority != 0 {
		seen.prios[m.Priority] = i
	}
}

// validateSettings checks the settings shared by every member and fills
// their defaults.
func (c *Common) validateSettings(es *steps.FieldErrors) {
	windows := false
	for _, m := range c.Members {
		if m.Host.OS == "windows" {
			windows = true
		}
	}
	if c.Database != "" {
		if _, err := steps.ParseTarget(c.Database, 0, "the database server"); err != nil {
			es.Add("database", "%v", err)
		}
	}
	if c.PreferencesPath != "" && !path.IsAbs(c.PreferencesPath) && !isWindowsAbs(c.PreferencesPath) {
		es.Add("preferences_path", "%q must be an absolute path", c.PreferencesPath)
	}
	if c.WindowsExe == "" {
		c.WindowsExe = WindowsExe
	}
	if c.Service == "" && !windows {
		c.Service = LinuxService
	}
	for i, a := range c.ServiceCommand {
		if a == "" {
			es.Add(fmt.Sprintf("service_command[%d]", i), "must not be empty")
		}
	}
	for i, a := range c.VersionCommand {
		if a == "" {
			es.Add(fmt.Sprintf("version_command[%d]", i), "must not be empty")
		}
	}
	if c.ServiceTimeout == 0 {
		c.ServiceTimeout = 2 * time.Minute
	}
	if c.ServiceTimeout < 0 {
		es.Add("service_timeout", "%v must be positive", c.ServiceTimeout)
	}
	if c.StartWait == 0 {
		c.StartWait = 60 * time.Second
	}
	if c.StartWait < 0 {
		es.Add("start_wait", "%v must be positive", c.StartWait)
	}
}

func isWindowsAbs(p string) bool {
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/')
}

// absPath reports whether p is an absolute path on m's OS.
func (m *Member) absPath(p string) bool {
	if m.windows() {
		return isWindowsAbs(p)
	}
	return path.IsAbs(p)
}

// onOS names m's OS in a path error ("" on Linux, where / says it all).
func (m *Member) onOS() string {
	if m.windows() {
		return ` on a Windows member (e.g. C:\Path)`
	}
	return ""
}

// HAAnswers are the answers of micetro-central-ha.
type HAAnswers struct {
	Common       `yaml:",inline"`
	VersionUI    string        `yaml:"version_ui" title:"Micetro version" help:"10.2+ configures HA in the web UI; 10.1 in the Management Console" options:"10.2+,10.1" default:"10.2+"` // "10.2+" (default) | "10.1"
	DNS          DNSAnswers    `yaml:"dns"`
	HATweaks     *HATweaks     `yaml:"ha_tweaks,omitempty"`
	MaxClockSkew time.Duration `yaml:"max_clock_skew,omitempty" advanced:"true" help:"the largest clock difference allowed between members" example:"2s" default:"5s"` // default 5s
}

// Validate applies the defaults and checks everything that can be checked
// before any connection.
func (a *HAAnswers) Validate() error {
	var es steps.FieldErrors
	a.validate(&es, true)
	switch a.VersionUI {
	case "":
		a.VersionUI = UI102
	case UI102, "10.2", "10.3", "10.5", "11", "11.0", "25.1":
		a.VersionUI = UI102
	case UI101, "10.0", "9.3", "9", "8.1":
		a.VersionUI = UI101
	default:
		es.Add("version_ui", "%q must be %q (web UI, Micetro 10.2 and later) or %q (Management Console, 10.1 and older)", a.VersionUI, UI102, UI101)
	}
	if a.DNS.Name == "" {
		es.Add("dns.name", "is required: the round-robin name clients use (%s)", refRoundRobinDNS)
	} else if _, err := dnscheck.ParseName(a.DNS.Name); err != nil {
		es.Add("dns.name", "%q is not a valid domain name", a.DNS.Name)
	} else if err := steps.CheckAddress(a.DNS.Name); err != nil {
		es.Add("dns.name", "%v: clients look it up as a host name", err)
	}
	if a.DNS.TTL == 0 {
		a.DNS.TTL = 300
	}
	for i, s := range a.DNS.Servers {
		if err := steps.CheckServer(s); err != nil {
			es.Add(fmt.Sprintf("dns.servers[%d]", i), "%v", err)
		} else if _, err := dnscheck.ParseServer("", s); err != nil {
			es.Add(fmt.Sprintf("dns.servers[%d]", i), "%q is not host[:port]", s)
		}
	}
	if a.DNS.Resolver != "" {
		if err := steps.CheckServer(a.DNS.Resolver); err != nil {
			es.Add("dns.resolver", "%v", err)
		}
	}
	if a.DNS.TSIGKeyFile != "" {
		if _, err := os.Stat(a.DNS.TSIGKeyFile); err != nil {
			es.Add("dns.tsig_key_file", "%v", err)
		}
	}
	if a.DNS.MaxWait == 0 {
		a.DNS.MaxWait = 30 * time.Second
	}
	if t := a.HATweaks; t != nil {
		if t.HeartbeatInterval != 0 && (t.HeartbeatInterval < 5 || t.HeartbeatInterval > 15) {
			es.Add("ha_tweaks.heartbeat_interval", "%d is outside the allowed 5–15 seconds ("+refTweaks.String()+")", t.HeartbeatInterval)
		}
		if t.HeartbeatMaxAllowedDowntime != 0 && (t.HeartbeatMaxAllowedDowntime < 20 || t.HeartbeatMaxAllowedDowntime > 120) {
			es.Add("ha_tweaks.heartbeat_max_allowed_downtime", "%d is outside the allowed 20–120 seconds ("+refTweaks.String()+")", t.HeartbeatMaxAllowedDowntime)
		}
		if t.HeartbeatInterval == 0 && t.HeartbeatMaxAllowedDowntime == 0 {
			a.HATweaks = nil
		}
	}
	if a.MaxClockSkew == 0 {
		a.MaxClockSkew = DefaultMaxClockSkew
	}
	if a.MaxClockSkew < 0 {
		es.Add("max_clock_skew", "%v must be positive", a.MaxClockSkew)
	}
	return steps.WithPlaceholders(a, es).Err()
}

// Installer says where the new Central installer comes from.
type Installer struct {
	Local           string `yaml:"local,omitempty" title:"Installer on this machine" help:"a file here, uploaded to every member; or give the remote path" example:"./mmsuite-central-11.0.tgz" default:"none: use the remote path"` // a file on the operator's machine, uploaded to every member
	Remote          string `yaml:"remote,omitempty" title:"Installer on the members" help:"a path already on every member; or give the local file" example:"/srv/mmsuite-central-11.0.tgz" default:"none: use the local file"`       // a path already on every member
	SHA256          string `yaml:"sha256,omitempty" title:"Installer SHA-256" help:"the installer's expected hex digest" example:"9f86d081884c7d65…(64 hex digits)" default:"not checked"`                                           // expected hex digest (optional)
	ExpectedVersion string `yaml:"expected_version" help:"the version Central reports once upgraded" example:"11.0.2"`                                                                                                               // the version Central reports once upgraded
}

// UpgradeAnswers are the answers of micetro-central-upgrade.
type UpgradeAnswers struct {
	Common    `yaml:",inline"`
	Installer Installer `yaml:"installer"`
	// UploadDir is the parent of the installer's private staging directory
	// on Linux members; default /tmp.
	UploadDir string `yaml:"upload_dir,omitempty" advanced:"true" help:"parent of the installer's staging directory on Linux members" example:"/var/tmp" default:"/tmp"`
	// InstallCommand runs the installer (argv). "{installer}" is replaced by
	// the installer's path on the host and "{dir}" by the directory it is
	// in. Default on Linux: extract the .tgz and run ./install in the
	// extracted directory (B.7); on Windows: run the .exe with /S [derived].
	InstallCommand []string `yaml:"install_command,omitempty" advanced:"true" help:"argv that runs the installer; {installer} and {dir} are substituted; comma-separated" example:"sh, {dir}/install" default:"extract the .tgz and run ./install (Linux); the .exe with /S (Windows)"`
	// InstallInput is fed to the installer's standard input, one line each:
	// the answers to its prompts (B.7: the Linux installer asks whether to
	// install Central, where the config files go, the user/group and the
	// binary location). Default: empty lines, i.e. accept every default.
	InstallInput []string `yaml:"install_input,omitempty" advanced:"true" help:"lines fed to the installer's prompts; comma-separated" example:"y, , , " default:"empty lines: accept every default"`
	// InstallTimeout bounds one installer run; default 15m.
	InstallTimeout time.Duration `yaml:"install_timeout,omitempty" advanced:"true" help:"bound on one installer run" example:"30m" default:"15m"`
}

// Validate applies the defaults and checks the upgrade answers.
func (a *UpgradeAnswers) Validate() error {
	var es steps.FieldErrors
	a.validate(&es, false)
	in := &a.Installer
	switch {
	case in.Local == "" && in.Remote == "":
		es.Add("installer", "set local (a file on this machine to upload) or remote (a path already on every member)")
	case in.Local != "" && in.Remote != "":
		es.Add("installer", "set local or remote, not both")
	case in.Local != "":
		if st, err := os.Stat(in.Local); err != nil {
			es.Add("installer.local", "%v", err)
		} else if !st.Mode().IsRegular() {
			es.Add("installer.local", "%q is not a regular file", in.Local)
		}
	}
	in.SHA256 = strings.ToLower(strings.TrimSpace(in.SHA256))
	if in.SHA256 != "" && (len(in.SHA256) != 64 || strings.Trim(in.SHA256, "0123456789abcdef") != "") {
		es.Add("installer.sha256", "%q is not a hex SHA-256 digest", in.SHA256)
	}
	if in.ExpectedVersion == "" {
		es.Add("installer.expected_version", "is required: the version Central reports once upgraded (it decides whether a host is already upgraded)")
	} else if parseVersion(in.ExpectedVersion) != in.ExpectedVersion {
		es.Add("installer.expected_version", "%q is not a version like 10.3.6", in.ExpectedVersion)
	}
	if a.UploadDir == "" {
		a.UploadDir = DefaultUploadDir
	}
	if !path.IsAbs(a.UploadDir) {
		es.Add("upload_dir", "%q must be an absolute path", a.UploadDir)
	}
	for i, s := range a.InstallCommand {
		if s == "" {
			es.Add(fmt.Sprintf("install_command[%d]", i), "must not be empty")
		}
	}
	for _, m := range a.Members {
		if m.windows() && len(a.InstallCommand) == 0 {
			es.Add("install_command", "is required for Windows members: the docs give no unattended switch for Micetro_Central_x64.exe")
			break
		}
	}
	if a.InstallTimeout == 0 {
		a.InstallTimeout = 15 * time.Minute
	}
	return steps.WithPlaceholders(a, es).Err()
}

// member helpers

func (c *Common) memberByHost(host string) (int, *Member) {
	for i := range c.Members {
		if c.Members[i].Host.Name == host {
			return i, &c.Members[i]
		}
	}
	return -1, nil
}

// HostAnswers lists the members' hosts in the answers' order (steps.HostSource).
func (c *Common) HostAnswers() []steps.HostAnswers {
	out := make([]steps.HostAnswers, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.Host
	}
	return out
}

// SSHAnswers returns the shared ssh block (steps.HostSource).
func (c *Common) SSHAnswers() *steps.SSHAnswers { return &c.SSH }

func (m *Member) windows() bool { return m.Host.OS == "windows" }

// prefsPath is the preferences.cfg path on m: the member's own
// preferences_path, else the top-level one, else the OS default.
func (c *Common) prefsPath(m *Member) string {
	if m.PreferencesPath != "" {
		return m.PreferencesPath
	}
	if c.PreferencesPath != "" {
		return c.PreferencesPath
	}
	return defaultPrefsPath(m)
}

// defaultPrefsPath is the documented preferences.cfg path on m's OS (B.1).
func defaultPrefsPath(m *Member) string {
	if m.windows() {
		return WindowsPrefsPath
	}
	return LinuxPrefsPath
}

// prefsPathNote says where m's preferences.cfg path differs from the
// documented default and which answer set it, for the plan; "" when it is
// the default.
func (c *Common) prefsPathNote(m *Member) string {
	p, def := c.prefsPath(m), defaultPrefsPath(m)
	if p == def {
		return ""
	}
	field := "preferences_path"
	if m.PreferencesPath != "" {
		i, _ := c.memberByHost(m.Host.Name)
		field = fmt.Sprintf("members[%d].preferences_path", i)
	}
	return fmt.Sprintf("preferences.cfg on %s is %s (%s), not the documented %s", m.Host.Name, p, field, def)
}

// pathNotes are the plan's notes on preferences.cfg paths that differ
// from the documented default, one per member.
func (c *Common) pathNotes() []string {
	var out []string
	for i := range c.Members {
		if n := c.prefsPathNote(&c.Members[i]); n != "" {
			out = append(out, "note: "+n)
		}
	}
	return out
}

func (c *Common) eol(m *Member) string {
	if m.windows() {
		return "\r\n"
	}
	return "\n"
}

func (c *Common) sudo(m *Member) bool {
	return !m.windows() && c.SSH.Sudo != steps.SudoNone
}

func (c *Common) serviceName(m *Member) string {
	if c.Service != "" {
		return c.Service
	}
	if m.windows() {
		return WindowsService
	}
	return LinuxService
}

// serviceManager returns how services are driven on m: systemctl on Linux;
// on Windows `mmcentral.exe -stop` / `-start` with ASCII hyphens (the docs
// print an en-dash, which is no switch: procedures.md C.11), restart as stop
// then start (mmcentral.exe has no restart switch, C1) and Get-Service for
// the state (nor a status switch); service_command when the answers set it
// (on Windows its state also comes from Get-Service).
func (c *Common) serviceManager(m *Member) remote.ServiceManager {
	if len(c.ServiceCommand) > 0 {
		return remote.ServiceManager{Kind: "command", Command: c.ServiceCommand}
	}
	if !m.windows() {
		return remote.ServiceManager{Kind: "systemctl"}
	}
	return remote.ServiceManager{Kind: "command", Command: []string{c.WindowsExe, "-{action}"}, StopStart: true}
}

func (c *Common) versionCommand(m *Member) []string {
	if len(c.VersionCommand) > 0 {
		return c.VersionCommand
	}
	if m.windows() {
		return DefaultWindowsVersionCommand
	}
	return DefaultLinuxVersionCommand
}

func (c *Common) daemonProcess(m *Member) string {
	if c.DaemonProcess != "" {
		return c.DaemonProcess
	}
	if m.windows() {
		return "mmcentral"
	}
	return "mmcentrald"
}

// hostNameOK mirrors steps.HostAnswers' rule for host names.
func hostNameOK(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		alnum := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !alnum && ((i == 0 || i == len(s)-1) || !strings.ContainsRune("._-", r)) {
			return false
		}
	}
	return true
}
