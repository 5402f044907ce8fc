package opsmanager

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// layout is where a server keeps its files and how its service is driven,
// resolved from the install type, mms.conf and the answers' overrides.
type layout struct {
	Name       string
	Install    string
	InstallDir string
	Conf       string
	MMSConf    string
	GenKey     string
	StartupLog string
	AccessLog  string
	User       string
	Service    string
	Manager    string   // service | systemctl | command
	Command    []string // for command
	Sudo       bool
}

func factKey(host, k string) string { return "server." + host + "." + k }

// layoutHost is the opening of most server steps: the server's connected
// host and its resolved layout (resolveLayout).
func layoutHost(ctx context.Context, e *steps.Env, c *Common, name string) (*remote.Host, layout, error) {
	l, err := resolveLayout(ctx, e, c, name)
	if err != nil {
		return nil, layout{}, err
	}
	h, err := e.Host(name)
	if err != nil {
		return nil, layout{}, err
	}
	return h, l, nil
}

// resolveLayout works out a server's layout; values read from the server
// (service user, gen.key path) are cached as facts.
func resolveLayout(ctx context.Context, e *steps.Env, c *Common, name string) (layout, error) {
	s := c.server(name)
	if s == nil {
		return layout{}, fmt.Errorf("%s is not a server of the answers", name)
	}
	l := answersLayout(c, s)
	if l.User != "" && l.GenKey != "" {
		return l, nil
	}
	if v, ok := e.Fact(factKey(name, "user")); ok && l.User == "" {
		l.User = v
	}
	if v, ok := e.Fact(factKey(name, "gen_key")); ok && l.GenKey == "" {
		l.GenKey = v
	}
	if l.User != "" && l.GenKey != "" {
		return l, nil
	}
	h, err := e.Host(name)
	if err != nil {
		return l, err
	}
	mms := map[string]string{}
	if b, _, err := h.ReadFile(ctx, l.MMSConf, l.Sudo); err == nil {
		mms = readShellVars(b)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return l, err
	}
	if l.User == "" {
		l.User = mms["MMS_USER"]
		if l.User == "" {
			return l, fmt.Errorf("%s: no service_user in the answers and no MMS_USER in %s ("+refStartStop.String()+")", name, l.MMSConf)
		}
		e.SetFact(factKey(name, "user"), l.User)
	}
	if l.GenKey == "" {
		if l.GenKey, err = genKeyPath(ctx, h, s, l.User, mms["ENC_KEY_PATH"]); err != nil {
			return l, err
		}
		e.SetFact(factKey(name, "gen_key"), l.GenKey)
	}
	return l, nil
}

// answersLayout is the layout the answers alone give server s: paths from
// the install type and the paths overrides, the service and how it is
// driven; the service user and gen.key path when the answers set them.
func answersLayout(c *Common, s *Server) layout {
	l := layout{Name: s.Name, Install: s.Install, InstallDir: s.InstallDir, Sudo: c.SSH.Sudo != steps.SudoNone}
	p := s.Paths
	l.Conf = or(p.Conf, path.Join(s.InstallDir, ConfRelPath))
	l.MMSConf = or(p.MMSConf, path.Join(s.InstallDir, MMSConfRelPath))
	l.StartupLog = or(p.StartupLog, path.Join(s.InstallDir, StartupLogRelPath))
	l.AccessLog = or(p.AccessLog, path.Join(s.InstallDir, AccessLogRelPath))
	l.Service = or(p.Service, ServiceName)
	l.Manager = p.ServiceManager
	l.Command = p.ServiceCommand
	if l.Manager == "" {
		if s.Install == InstallPackage {
			l.Manager = "service" // `sudo service mongodb-mms start` (M8, M9, M11)
		} else {
			l.Manager = "command" // `<install_dir>/bin/mongodb-mms start` (M10, M11)
			l.Command = []string{path.Join(s.InstallDir, "bin", "mongodb-mms"), "{action}"}
		}
	}
	l.User = s.ServiceUser
	l.GenKey = p.GenKey
	return l
}

// genKeyPath is where server s keeps gen.key when the answers do not say:
// mms.conf's ENC_KEY_PATH (enc) unless it is relative to ${HOME}; for a
// package install then /etc/mongodb-mms/gen.key, else under the service
// user's home.
func genKeyPath(ctx context.Context, h *remote.Host, s *Server, user, enc string) (string, error) {
	usesHome := strings.Contains(enc, "$HOME") || strings.Contains(enc, "${HOME}")
	switch {
	case s.Install == InstallPackage && (enc == "" || usesHome):
		// The docs put a package install's key in /etc/mongodb-mms/ (M1,
		// M9); a ${HOME}-relative ENC_KEY_PATH (the default mms.conf, M25)
		// is not trusted over them. paths.gen_key overrides.
		return PackageGenKeyPath, nil
	case enc != "" && !usesHome:
		return enc, nil
	}
	home, err := userHome(ctx, h, user)
	if err != nil {
		return "", err
	}
	if enc == "" {
		enc = "${HOME}/" + TarGenKeyRelPath // M1, M10
	}
	return strings.NewReplacer("${HOME}", home, "$HOME", home).Replace(enc), nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// readShellVars reads KEY=value lines of mms.conf.
func readShellVars(b []byte) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "export "))
		if l == "" || l[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok {
			out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return out
}

func userHome(ctx context.Context, h *remote.Host, user string) (string, error) {
	res, err := h.Run(ctx, remote.Cmd{Program: "getent", Args: []string{"passwd", user}, Timeout: 30 * time.Second})
	if err != nil {
		return "", err
	}
	if res.ExitStatus != 0 {
		return "", fmt.Errorf("%s: service user %q does not exist (getent passwd: exit %d)", h.Name(), user, res.ExitStatus)
	}
	f := strings.Split(strings.TrimSpace(string(res.Stdout)), ":")
	if len(f) < 6 || f[5] == "" {
		return "", fmt.Errorf("%s: no home directory for %q", h.Name(), user)
	}
	return f[5], nil
}

// serviceArgv renders a service action for l.
func (l layout) serviceArgv(action string) []string {
	switch l.Manager {
	case "systemctl":
		if action == "status" {
			return []string{"systemctl", "is-active", "--quiet", l.Service}
		}
		return []string{"systemctl", action, l.Service}
	case "command":
		out := make([]string, len(l.Command))
		for i, a := range l.Command {
			out[i] = strings.ReplaceAll(strings.ReplaceAll(a, "{action}", action), "{service}", l.Service)
		}
		return out
	default:
		return []string{"service", l.Service, action}
	}
}

func (l layout) describe(action string) string { return strings.Join(l.serviceArgv(action), " ") }

// service runs start|stop|status; status reports running (exit 0). A
// start or stop goes through RunService, so the run's change journal
// records it (the state before and after, and how to act on the service
// again) and a rollback can return it to its earlier state.
func service(ctx context.Context, e *steps.Env, h *remote.Host, l layout, action string, timeout time.Duration) (remote.Result, error) {
	argv := l.serviceArgv(action)
	c := remote.Cmd{Program: argv[0], Args: argv[1:], Sudo: l.Sudo, Timeout: timeout}
	if action == "status" {
		return h.Run(ctx, c)
	}
	c.OnLine = func(_, line string) { e.Output(h.Name(), line) }
	return h.RunService(ctx, l.remoteManager(), l.Service, remote.ServiceAction(action), l.Sudo, c)
}

// remoteManager is l's service manager as remote.Host.Service takes it:
// the same commands as serviceArgv, the state from "status" (LSB: 0
// running).
func (l layout) remoteManager() remote.ServiceManager {
	switch l.Manager {
	case "systemctl":
		return remote.ServiceManager{Kind: "systemctl"}
	case "command":
		st := make([]string, len(l.Command))
		for i, a := range l.Command {
			st[i] = strings.ReplaceAll(a, "{action}", "status")
		}
		return remote.ServiceManager{Kind: "command", Command: l.Command, IsActive: st}
	default:
		return remote.ServiceManager{Kind: "service"}
	}
}

// running asks the service manager (LSB: status 0 running, 3 not running).
// Any other answer (a control script without "status") falls back to
// whether /monitor/health answers at all.
func running(ctx context.Context, e *steps.Env, h *remote.Host, l layout, c *Common) (bool, error) {
	res, err := service(ctx, e, h, l, "status", time.Minute)
	if err != nil {
		return false, err
	}
	switch res.ExitStatus {
	case 0:
		return true, nil
	case 3:
		return false, nil
	}
	st, herr := health(ctx, h, c)
	return herr == nil && st != 0, nil
}

// health asks /monitor/health on the server itself (M2): plain HTTP, or
// with https: true TLS without certificate verification (the request goes
// to the server's own address and carries no credentials; only the status
// code is used). Through SSH forwarding, or on a host whose sshd refuses
// it, by curl/wget/Invoke-WebRequest on the host (remote.Host.HTTPStatus).
func health(ctx context.Context, h *remote.Host, c *Common) (int, error) {
	return h.HTTPStatus(ctx, c.Port, HealthPath, c.HTTPS)
}

// logSince returns the startup log's content after offset (all of it when
// the log is now shorter: rotated or truncated).
func logSince(ctx context.Context, h *remote.Host, l layout, offset int64) (string, error) {
	fi, err := h.Stat(ctx, l.StartupLog, l.Sudo)
	if err != nil || !fi.Exists {
		return "", err
	}
	if fi.Size < offset {
		offset = 0
	}
	res, err := h.Run(ctx, remote.Cmd{Program: "tail", Args: []string{"-c", "+" + strconv.FormatInt(offset+1, 10), l.StartupLog}, Sudo: l.Sudo, Timeout: time.Minute})
	if err != nil {
		return "", err
	}
	return string(res.Stdout), nil
}

func logTail(ctx context.Context, h *remote.Host, l layout, n int) string {
	res, err := h.Run(ctx, remote.Cmd{Program: "tail", Args: []string{"-n", strconv.Itoa(n), l.StartupLog}, Sudo: l.Sudo, Timeout: time.Minute})
	if err != nil || res.ExitStatus != 0 {
		return "(no startup log at " + l.StartupLog + ")"
	}
	return strings.TrimRight(string(res.Stdout), "\n")
}

func logSize(ctx context.Context, h *remote.Host, l layout) int64 {
	fi, err := h.Stat(ctx, l.StartupLog, l.Sudo)
	if err != nil || !fi.Exists {
		return 0
	}
	return fi.Size
}

// startServer starts l's Ops Manager and waits for /monitor/health = 200 and
// "Started in" in the startup log written by this start (M2 step 5, M11).
func startServer(ctx context.Context, e *steps.Env, c *Common, h *remote.Host, l layout) (string, error) {
	off := logSize(ctx, h, l)
	t0 := time.Now()
	res, err := service(ctx, e, h, l, "start", c.StartTimeout)
	if err != nil {
		return "", err
	}
	if res.ExitStatus != 0 {
		return "", fmt.Errorf("%s failed (exit %d): %s\nlast lines of %s:\n%s", l.describe("start"), res.ExitStatus,
			strings.TrimSpace(string(res.Stderr)), l.StartupLog, logTail(ctx, h, l, 20))
	}
	deadline := time.Now().Add(c.StartTimeout)
	var last string
	for {
		st, herr := health(ctx, h, c)
		log, lerr := logSince(ctx, h, l, off)
		if herr == nil && st == 200 && lerr == nil {
			if line := findLine(log, StartedMarker); line != "" {
				return fmt.Sprintf("%s: /monitor/health 200 after %s; startup log: %s", h.Name(), time.Since(t0).Round(time.Millisecond), strings.TrimSpace(line)), nil
			}
		}
		last = fmt.Sprintf("health %d %v", st, herr)
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s did not come up within %s (%s); last lines of %s:\n%s", h.Name(), c.StartTimeout, last, l.StartupLog, logTail(ctx, h, l, 20))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func findLine(s, marker string) string {
	var last string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, marker) {
			last = l
		}
	}
	return last
}

// serverUp is the read-only check that a server runs and is healthy.
func serverUp(ctx context.Context, e *steps.Env, c *Common, h *remote.Host, l layout) (bool, string, error) {
	up, err := running(ctx, e, h, l, c)
	if err != nil {
		return false, "", err
	}
	if !up {
		return false, fmt.Sprintf("%s: not running (%s)", h.Name(), l.describe("status")), nil
	}
	st, err := health(ctx, h, c)
	if err != nil || st != 200 {
		return false, fmt.Sprintf("%s: running but /monitor/health = %d %v", h.Name(), st, err), nil
	}
	log, _ := logSince(ctx, h, l, 0)
	line := findLine(log, StartedMarker)
	if line == "" {
		return false, fmt.Sprintf("%s: /monitor/health 200 but no %q in %s", h.Name(), StartedMarker, l.StartupLog), nil
	}
	return true, fmt.Sprintf("%s: running, /monitor/health 200, %s", h.Name(), strings.TrimSpace(line)), nil
}

var tarVersionRE = regexp.MustCompile(`mongodb-mms-([0-9][0-9A-Za-z.+~_-]*?)(\.(x86_64|aarch64|ppc64le|s390x|amd64|arm64))?$`)

// installedVersion reads the Ops Manager version: the package database for
// package installs, the archive's directory name for tar installs [derived].
func installedVersion(ctx context.Context, h *remote.Host, l layout) (string, error) {
	if l.Install == InstallPackage {
		res, err := h.Run(ctx, remote.Cmd{Program: "dpkg-query", Args: []string{"-W", "-f=${Version}", "mongodb-mms"}, Timeout: time.Minute})
		if err != nil {
			return "", err
		}
		if res.ExitStatus == 0 && len(bytes.TrimSpace(res.Stdout)) > 0 {
			return strings.TrimSpace(string(res.Stdout)), nil
		}
		res2, err := h.Run(ctx, remote.Cmd{Program: "rpm", Args: []string{"-q", "--qf", "%{VERSION}", "mongodb-mms"}, Timeout: time.Minute})
		if err != nil {
			return "", err
		}
		if res2.ExitStatus == 0 {
			return strings.TrimSpace(string(res2.Stdout)), nil
		}
		return "", fmt.Errorf("%s: install: package, but neither dpkg-query nor rpm knows the mongodb-mms package ("+refInstallRPM.String()+")", h.Name())
	}
	res, err := h.Run(ctx, remote.Cmd{Program: "readlink", Args: []string{"-f", l.InstallDir}, Timeout: time.Minute})
	if err != nil {
		return "", err
	}
	real := strings.TrimSpace(string(res.Stdout))
	if m := tarVersionRE.FindStringSubmatch(path.Base(real)); m != nil {
		return m[1], nil
	}
	return "unknown (" + real + ")", nil
}

// versionMatches: installed "7.0.1-1" or "7.0.1.500.20240101T0000Z" matches target "7.0.1".
func versionMatches(installed, target string) bool {
	if installed == target {
		return true
	}
	if strings.HasPrefix(installed, target) {
		c := installed[len(target)]
		return c == '-' || c == '.' || c == '+' || c == '~'
	}
	return false
}

// packageComplete reports, for a package install on a dpkg system, whether
// mongodb-mms is fully installed ("install ok installed"); an install
// interrupted mid-way leaves it half-installed or half-configured. Other
// systems and tar installs report true.
func packageComplete(ctx context.Context, h *remote.Host, l layout) (bool, string, error) {
	if l.Install != InstallPackage {
		return true, "", nil
	}
	res, err := h.Run(ctx, remote.Cmd{Program: "dpkg-query", Args: []string{"-W", "-f=${Status}", "mongodb-mms"}, Timeout: time.Minute})
	if err != nil {
		return false, "", err
	}
	if res.ExitStatus != 0 {
		return true, "", nil // not a dpkg system (rpm)
	}
	st := strings.TrimSpace(string(res.Stdout))
	return st == "install ok installed", st, nil
}
