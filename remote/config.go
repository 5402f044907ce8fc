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

// sshConfig is the decoded ssh_config as OpenSSH reads it: its sections in
// file order (an included file's sections in place of its Include line),
// each with the Host lines that must all match for its keywords to apply
// (a section of an included file also needs the Host line the Include
// stood under). The first value of a keyword wins. nil sections = no file.
type sshConfig struct {
	file     string // as loaded, for messages ("" = none)
	sections []cfgSection
}

// cfgSection is a run of keywords under one set of Host lines.
type cfgSection struct {
	conds [][]hostPattern // each a Host (or Match host) line; all must match
	kvs   []cfgKV
}

type cfgKV struct{ key, value string } // key lower case

// hostPattern is one pattern of a Host line: OpenSSH's `*` (any run of
// characters) and `?` (exactly one), matched case-insensitively; negated
// with a leading `!`.
type hostPattern struct {
	glob    string // lower case
	negated bool
}

// maxIncludeDepth is OpenSSH's READCONF_MAX_DEPTH.
const maxIncludeDepth = 16

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
	c, err := decodeSSHConfig(file)
	if err != nil {
		if os.IsNotExist(err) && !explicit {
			return sshConfig{}, nil
		}
		return sshConfig{}, fmt.Errorf("ssh config: %w", err)
	}
	s := sshConfig{file: file}
	if err := s.add(c, nil, 0); err != nil {
		return sshConfig{}, fmt.Errorf("ssh config %s: %w", file, err)
	}
	return s, nil
}

func decodeSSHConfig(file string) (*ssh_config.Config, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := ssh_config.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return c, nil
}

// add appends c's sections, each also under the Host lines outer.
func (s *sshConfig) add(c *ssh_config.Config, outer [][]hostPattern, depth int) error {
	for _, h := range c.Hosts {
		var line []hostPattern
		for _, p := range h.Patterns {
			str := strings.ToLower(p.String())
			neg := strings.HasPrefix(str, "!")
			// A Match host line is a comma-separated pattern list; a
			// host name never holds a comma, so Host lines lose nothing.
			for _, g := range strings.Split(strings.TrimPrefix(str, "!"), ",") {
				if g != "" {
					line = append(line, hostPattern{glob: g, negated: neg})
				}
			}
		}
		conds := append(append([][]hostPattern(nil), outer...), line)
		cur := cfgSection{conds: conds}
		for _, n := range h.Nodes {
			switch n := n.(type) {
			case *ssh_config.KV:
				cur.kvs = append(cur.kvs, cfgKV{key: strings.ToLower(n.Key), value: strings.TrimSpace(n.Value)})
			case *ssh_config.Include:
				s.sections = append(s.sections, cur)
				cur = cfgSection{conds: conds}
				if depth+1 > maxIncludeDepth {
					return fmt.Errorf("Include nested more than %d deep", maxIncludeDepth)
				}
				for _, file := range includeFiles(n) {
					ic, err := decodeSSHConfig(file)
					if err != nil {
						return err
					}
					if err := s.add(ic, conds, depth+1); err != nil {
						return err
					}
				}
			}
		}
		s.sections = append(s.sections, cur)
	}
	return nil
}

// includeFiles are the files an Include line names, found as the ssh_config
// package found them when it parsed them (it keeps them to itself): each
// glob, relative to ~/.ssh unless absolute or ~/, its matches sorted.
func includeFiles(inc *ssh_config.Include) []string {
	line := strings.TrimSpace(inc.String())
	if inc.Comment != "" {
		line = strings.TrimSpace(strings.TrimSuffix(line, "#"+inc.Comment))
	}
	line = strings.TrimSpace(line[len("Include"):])
	line = strings.TrimPrefix(line, "=")
	home := configHome()
	var out []string
	seen := map[string]bool{}
	for _, d := range strings.Fields(line) {
		switch {
		case filepath.IsAbs(d):
		case strings.HasPrefix(d, "~/"):
			d = filepath.Join(home, d[2:])
		default:
			d = filepath.Join(home, ".ssh", d)
		}
		m, _ := filepath.Glob(d)
		for _, p := range m {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// configHome is the home directory the ssh_config package resolves
// Include paths against.
func configHome() string {
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return os.Getenv("HOME")
}

// matches reports whether every Host line of conds applies to a host known
// by names (its name, and its address when the answers give one).
func matches(conds [][]hostPattern, names []string) bool {
	for _, line := range conds {
		if !lineMatches(line, names) {
			return false
		}
	}
	return true
}

// lineMatches is OpenSSH's rule for one Host line, over every name of the
// host: it applies when a pattern matches one of the names and no negated
// pattern matches any of them.
func lineMatches(line []hostPattern, names []string) bool {
	found := false
	for _, p := range line {
		for _, n := range names {
			if !globMatch(p.glob, strings.ToLower(n)) {
				continue
			}
			if p.negated {
				return false
			}
			found = true
		}
	}
	return found
}

// globMatch is OpenSSH's match_pattern: `*` matches any run of characters
// (also none), `?` exactly one; everything else itself.
func globMatch(pat, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pat) && (pat[px] == '?' || pat[px] == s[sx]):
			px++
			sx++
		case px < len(pat) && pat[px] == '*':
			starP, starS = px, sx
			px++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(pat) && pat[px] == '*' {
		px++
	}
	return px == len(pat)
}

// first returns the first value of any of keys (lower case) for a host
// known by names, and which key gave it: OpenSSH takes the first value
// obtained, and ProxyJump and ProxyCommand exclude each other that way.
func (s sshConfig) first(names []string, keys ...string) (key, value string) {
	for _, sec := range s.sections {
		if !matches(sec.conds, names) {
			continue
		}
		for _, kv := range sec.kvs {
			for _, k := range keys {
				if kv.key == k {
					return k, kv.value
				}
			}
		}
	}
	return "", ""
}

func (s sshConfig) get(names []string, key string) string {
	_, v := s.first(names, strings.ToLower(key))
	return v
}

func (s sshConfig) getAll(names []string, key string) []string {
	key = strings.ToLower(key)
	var out []string
	for _, sec := range s.sections {
		if !matches(sec.conds, names) {
			continue
		}
		for _, kv := range sec.kvs {
			if kv.key == key {
				out = append(out, kv.value)
			}
		}
	}
	return out
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

// maxJumpHops bounds a ProxyJump chain (the hops before one host).
const maxJumpHops = 16

// NoUserError is a host for which neither its HostConfig nor ssh_config
// (a User line whose Host patterns match its name or address) names the
// remote user. hawiz never falls back to the local user for a host.
type NoUserError struct {
	Host       string
	Names      []string // what the Host patterns were matched against
	ConfigFile string   // the ssh_config read ("" = none)
}

func (e *NoUserError) Error() string {
	where := "no ssh_config is read"
	if e.ConfigFile != "" {
		where = e.ConfigFile + " has no User for " + strings.Join(e.Names, " or ")
	}
	return fmt.Sprintf("host %s: no SSH user: none is given and %s (the local user is never assumed)", e.Host, where)
}

// hostNames are the names a host's Host patterns are matched against: its
// name and, when given, its address (OpenSSH matches what `ssh X` is given;
// hawiz knows the host by both, so a block for either applies).
func hostNames(o HostConfig) []string {
	names := []string{o.Name}
	if o.Address != "" && !strings.EqualFold(o.Address, o.Name) {
		names = append(names, o.Address)
	}
	return names
}

// resolveHost builds the target for the host o: its fields first, then
// ssh_config matched against its name and address, then OpenSSH's
// defaults; the remote user must come from o or ssh_config. Its ProxyJump
// chain is resolved as OpenSSH chains jumps.
func (f *Fleet) resolveHost(o HostConfig) (*target, error) {
	names := hostNames(o)
	t, err := f.endpoint(names, o.Name, o)
	if err != nil {
		return nil, err
	}
	if t.user == "" {
		return nil, &NoUserError{Host: o.Name, Names: names, ConfigFile: f.sshcfg.file}
	}
	spec := o.ProxyJump
	if spec == "" {
		if spec, err = f.configJump(names, o.Name); err != nil {
			return nil, err
		}
	}
	if t.jumps, err = f.jumpChain(spec, o.IdentityFiles, nil); err != nil {
		return nil, err
	}
	return t, nil
}

// configJump is ssh_config's ProxyJump for a host known by names ("" or
// "none": none). A ProxyCommand that comes first is refused: hawiz cannot
// run it, and dialling directly would bypass the path it sets.
func (f *Fleet) configJump(names []string, display string) (string, error) {
	k, v := f.sshcfg.first(names, "proxyjump", "proxycommand")
	if k == "proxycommand" && !strings.EqualFold(v, "none") {
		return "", fmt.Errorf("%s sets ProxyCommand for %s; hawiz follows ProxyJump only (use ProxyJump there, or ssh.proxy_jump in the answers)", f.sshcfg.file, display)
	}
	if k == "proxycommand" {
		return "", nil
	}
	return v, nil
}

// jumpChain resolves a ProxyJump value (h1,…,hn) as OpenSSH does: ssh
// reaches hn with `-J h1,…,h(n-1)`, and so on down to h1, which is reached
// as `ssh h1` would reach it: with h1's own ProxyJump from ssh_config,
// recursively. So the first hop's ProxyJump is followed and the later
// hops' are not (the -J given for them wins). following holds the hops
// whose own ProxyJump is being followed (a hop met again is a loop). ids
// are the host's identity files, offered to hops that have none of their
// own.
func (f *Fleet) jumpChain(spec string, ids []string, following []string) ([]*target, error) {
	if spec == "" || strings.EqualFold(spec, "none") {
		return nil, nil
	}
	var out []*target
	first := true
	for _, sp := range strings.Split(spec, ",") {
		sp = strings.TrimSpace(sp)
		if sp == "" {
			continue
		}
		hu, hh, hp, err := parseJump(sp)
		if err != nil {
			return nil, err
		}
		if first {
			first = false
			own, err := f.configJump([]string{hh}, hh)
			if err != nil {
				return nil, err
			}
			if own != "" && !strings.EqualFold(own, "none") {
				for _, n := range following {
					if strings.EqualFold(n, hh) {
						return nil, fmt.Errorf("ProxyJump loop: %s → %s", strings.Join(following, " → "), hh)
					}
				}
				if len(following) >= maxJumpHops {
					return nil, fmt.Errorf("ProxyJump chain longer than %d hops", maxJumpHops)
				}
				pre, err := f.jumpChain(own, ids, append(append([]string(nil), following...), hh))
				if err != nil {
					return nil, err
				}
				out = append(out, pre...)
			}
		}
		hop, err := f.endpoint([]string{hh}, sp, HostConfig{User: hu, Port: hp})
		if err != nil {
			return nil, err
		}
		if hop.user == "" {
			hop.user = localUser() // as ssh does for a jump host without a User
		}
		if !hop.idExplicit && len(ids) > 0 {
			// A hop without its own IdentityFile also offers the identity
			// files the caller gave for the host (after OpenSSH's defaults).
			for _, id := range ids {
				hop.idFiles = append(hop.idFiles, expandPath(id, hop.addr, hop.user))
			}
		}
		out = append(out, hop)
		if len(out) > maxJumpHops {
			return nil, fmt.Errorf("ProxyJump chain longer than %d hops", maxJumpHops)
		}
	}
	return out, nil
}

// endpoint builds one SSH endpoint known by names (Host patterns are
// matched against them; names[0] fills %h): explicit fields of o first, then
// ssh_config, then OpenSSH's defaults. The user stays "" when neither gives
// one.
func (f *Fleet) endpoint(names []string, display string, o HostConfig) (*target, error) {
	sc := f.sshcfg
	alias := names[0]
	t := &target{alias: alias, display: display, password: o.Password}
	t.addr = o.Address
	if t.addr == "" {
		t.addr = sc.get(names, "HostName")
		if t.addr != "" {
			t.addr = strings.ReplaceAll(t.addr, "%h", alias)
		}
	}
	if t.addr == "" {
		t.addr = alias
	}
	t.port = o.Port
	if t.port == 0 {
		if p := sc.get(names, "Port"); p != "" {
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
		t.user = sc.get(names, "User")
	}
	t.identitiesOnly = strings.EqualFold(sc.get(names, "IdentitiesOnly"), "yes")
	ids := o.IdentityFiles
	if len(ids) == 0 {
		ids = sc.getAll(names, "IdentityFile")
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
	} else if v := sc.get(names, "UserKnownHostsFile"); v != "" {
		for _, p := range strings.Fields(v) {
			t.knownHosts = append(t.knownHosts, expandPath(p, t.addr, t.user))
		}
	} else if home, err := os.UserHomeDir(); err == nil {
		t.knownHosts = []string{filepath.Join(home, ".ssh", "known_hosts")}
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
