package remote

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// target is one SSH endpoint with its settings resolved (a host or a hop).
type target struct {
	alias      string // name used for ssh_config lookups and messages
	display    string // name used in messages (HostConfig.Name or the hop as written)
	addr       string // host name or IP dialled
	port       int
	user       string
	idFiles    []string
	idExplicit bool // identity files configured (not OpenSSH's defaults)
	// identitiesOnly: ssh_config IdentitiesOnly yes — offer only the
	// identity files' keys, not every key in the agent.
	identitiesOnly bool
	knownHosts     []string
	password       string
	jumps          []*target
}

func (t *target) hostport() string { return net.JoinHostPort(t.addr, strconv.Itoa(t.port)) }

// sshConfig wraps the decoded ssh_config (nil = none).
type sshConfig struct{ c *ssh_config.Config }

func loadSSHConfig(file string) (sshConfig, error) {
	if file == "none" {
		return sshConfig{}, nil
	}
	explicit := file != ""
	if !explicit {
		home, err := os.UserHomeDir()
		if err != nil {
			return sshConfig{}, nil
		}
		file = filepath.Join(home, ".ssh", "config")
	}
	f, err := os.Open(file)
	if err != nil {
		if os.IsNotExist(err) && !explicit {
			return sshConfig{}, nil
		}
		return sshConfig{}, fmt.Errorf("ssh config: %w", err)
	}
	defer f.Close()
	c, err := ssh_config.Decode(f)
	if err != nil {
		return sshConfig{}, fmt.Errorf("ssh config %s: %w", file, err)
	}
	return sshConfig{c}, nil
}

func (s sshConfig) get(alias, key string) string {
	if s.c == nil {
		return ""
	}
	v, err := s.c.Get(alias, key)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(v)
}

func (s sshConfig) getAll(alias, key string) []string {
	if s.c == nil {
		return nil
	}
	v, err := s.c.GetAll(alias, key)
	if err != nil {
		return nil
	}
	return v
}

func localUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "root"
}

// expandPath expands ~ and the ssh_config tokens %d %u %h %r %%.
func expandPath(p, host, ruser string) string {
	home, _ := os.UserHomeDir()
	if p == "~" {
		p = home
	} else if strings.HasPrefix(p, "~/") {
		p = filepath.Join(home, p[2:])
	}
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+1 == len(p) {
			b.WriteByte(p[i])
			continue
		}
		i++
		switch p[i] {
		case 'd':
			b.WriteString(home)
		case 'u':
			b.WriteString(localUser())
		case 'h':
			b.WriteString(host)
		case 'r':
			b.WriteString(ruser)
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(p[i])
		}
	}
	return b.String()
}

// resolve builds the target for alias: explicit overrides first, then
// ssh_config, then OpenSSH's defaults.
func (f *Fleet) resolve(alias, display string, o HostConfig, withJumps bool) (*target, error) {
	sc := f.sshcfg
	t := &target{alias: alias, display: display, password: o.Password}
	t.addr = o.Address
	if t.addr == "" {
		t.addr = sc.get(alias, "HostName")
		if t.addr != "" {
			t.addr = strings.ReplaceAll(t.addr, "%h", alias)
		}
	}
	if t.addr == "" {
		t.addr = alias
	}
	t.port = o.Port
	if t.port == 0 {
		if p := sc.get(alias, "Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return nil, fmt.Errorf("ssh config: bad Port %q for %s", p, alias)
			}
			t.port = n
		}
	}
	if t.port == 0 {
		t.port = 22
	}
	t.user = o.User
	if t.user == "" {
		t.user = sc.get(alias, "User")
	}
	if t.user == "" {
		t.user = localUser()
	}
	t.identitiesOnly = strings.EqualFold(sc.get(alias, "IdentitiesOnly"), "yes")
	ids := o.IdentityFiles
	if len(ids) == 0 {
		ids = sc.getAll(alias, "IdentityFile")
	}
	if len(ids) > 0 {
		t.idExplicit = true
		for _, id := range ids {
			t.idFiles = append(t.idFiles, expandPath(id, t.addr, t.user))
		}
	} else if home, err := os.UserHomeDir(); err == nil {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			t.idFiles = append(t.idFiles, filepath.Join(home, ".ssh", n))
		}
	}
	if f.opts.KnownHostsFile != "" {
		t.knownHosts = []string{f.opts.KnownHostsFile}
	} else if v := sc.get(alias, "UserKnownHostsFile"); v != "" {
		for _, p := range strings.Fields(v) {
			t.knownHosts = append(t.knownHosts, expandPath(p, t.addr, t.user))
		}
	} else if home, err := os.UserHomeDir(); err == nil {
		t.knownHosts = []string{filepath.Join(home, ".ssh", "known_hosts")}
	}
	if !withJumps {
		return t, nil
	}
	pj := o.ProxyJump
	if pj == "" {
		pj = sc.get(alias, "ProxyJump")
	}
	if pj == "" || strings.EqualFold(pj, "none") {
		return t, nil
	}
	for _, spec := range strings.Split(pj, ",") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		hu, hh, hp, err := parseJump(spec)
		if err != nil {
			return nil, err
		}
		hop, err := f.resolve(hh, spec, HostConfig{User: hu, Port: hp}, false)
		if err != nil {
			return nil, err
		}
		if !hop.idExplicit && len(o.IdentityFiles) > 0 {
			// A hop without its own IdentityFile also offers the identity
			// files the caller gave for the host (after OpenSSH's defaults).
			for _, id := range o.IdentityFiles {
				hop.idFiles = append(hop.idFiles, expandPath(id, hop.addr, hop.user))
			}
		}
		t.jumps = append(t.jumps, hop)
	}
	return t, nil
}

// parseJump parses a ProxyJump element: [user@]host[:port] or
// ssh://[user@]host[:port].
func parseJump(spec string) (user, host string, port int, err error) {
	s := spec
	if strings.HasPrefix(s, "ssh://") {
		u, perr := url.Parse(s)
		if perr != nil {
			return "", "", 0, fmt.Errorf("bad ProxyJump %q: %v", spec, perr)
		}
		if u.User != nil {
			user = u.User.Username()
		}
		host = u.Hostname()
		if p := u.Port(); p != "" {
			port, _ = strconv.Atoi(p)
		}
		return user, host, port, nil
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		user, s = s[:i], s[i+1:]
	}
	host = s
	if h, p, e := net.SplitHostPort(s); e == nil {
		host = h
		port, err = strconv.Atoi(p)
		if err != nil || port <= 0 || port > 65535 {
			return "", "", 0, fmt.Errorf("bad ProxyJump port in %q", spec)
		}
	}
	if host == "" {
		return "", "", 0, fmt.Errorf("bad ProxyJump %q", spec)
	}
	return user, host, port, nil
}
