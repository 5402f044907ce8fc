package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// maxSessions bounds the sessions open at once on one connection: OpenSSH's
// sshd refuses more than MaxSessions (default 10) channels per connection.
const maxSessions = 10

// Fleet is the set of connected hosts of one run.
type Fleet struct {
	opts   Options
	red    *Redactor
	log    *slog.Logger
	sshcfg sshConfig
	keys   *keyCache
	hosts  []*Host
	byName map[string]*Host

	acceptedMu sync.Mutex
	accepted   map[string]bool   // host keys the operator accepted during this run
	verified   []VerifiedHostKey // the host keys connections were made with (HostKeys), under acceptedMu
}

// Host is one connected host. Its methods are safe for concurrent use.
type Host struct {
	f   *Fleet
	cfg HostConfig
	t   *target
	sem chan struct{}

	mu     sync.Mutex
	conn   *conn
	closed bool
	shells shellSlots // resident shells (shell.go), under mu

	fwd atomic.Int32 // TCP forwarding: 0 unknown, 1 works, 2 refused (probe.go)

	onChange atomic.Pointer[func(Change)] // change.go
}

// conn is one live SSH connection (plus the jump connections under it).
type conn struct {
	client *ssh.Client
	hops   []*ssh.Client
	dead   chan struct{} // closed when the connection ends
}

func (c *conn) close() {
	c.client.Close()
	for i := len(c.hops) - 1; i >= 0; i-- {
		c.hops[i].Close()
	}
}

func (c *conn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

// Connect dials every host in parallel, collects every unknown host key,
// asks Options.ConfirmHostKeys once with all of them, appends the accepted
// keys to known_hosts and finishes authentication. Errors name the host; a
// changed key is a *HostKeyChangedError that nothing overrides. On error no
// connection is left open.
func Connect(ctx context.Context, opts Options, hosts []HostConfig) (*Fleet, error) {
	f, err := newFleet(opts, hosts)
	if err != nil {
		return nil, err
	}
	if err := f.connectAll(ctx); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// newFleet reads ssh_config and resolves every host (its user, address and
// ProxyJump chain) without connecting anything.
func newFleet(opts Options, hosts []HostConfig) (*Fleet, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	f := &Fleet{opts: opts, red: opts.Redactor, log: opts.Logger, byName: map[string]*Host{}}
	if f.red == nil {
		f.red = NewRedactor()
	}
	f.keys = newKeyCache(opts.Passphrase)
	sc, err := loadSSHConfig(opts.SSHConfigFile)
	if err != nil {
		return nil, err
	}
	f.sshcfg = sc
	var errs []error
	for _, hc := range hosts {
		if hc.Name == "" {
			return nil, errors.New("a host has no name")
		}
		if _, dup := f.byName[hc.Name]; dup {
			return nil, fmt.Errorf("host %s listed twice", hc.Name)
		}
		if err := checkPasswords(hc); err != nil {
			return nil, fmt.Errorf("host %s: %w", hc.Name, err)
		}
		f.red.Add(hc.Password)
		f.red.Add(hc.SudoPassword)
		t, err := f.resolveHost(hc)
		var nu *NoUserError
		switch {
		case errors.As(err, &nu):
			errs = append(errs, err) // its text names the host
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("host %s: %w", hc.Name, err))
			continue
		}
		n := opts.MaxSessions
		if n <= 0 {
			n = maxSessions
		}
		h := &Host{f: f, cfg: hc, t: t, sem: make(chan struct{}, n)}
		f.hosts = append(f.hosts, h)
		f.byName[hc.Name] = h
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f, nil
}

// Route is how Connect would reach a host: the user and address of the
// last connection and the ProxyJump hops before it.
type Route struct {
	Host    string   // HostConfig.Name
	User    string   // the remote user
	Address string   // host:port of the host itself, as dialled (through the last hop when Via is set)
	Via     []string // the jump hosts in the order they are dialled, each as written in its ProxyJump
}

// Routes resolves every host as Connect would (ssh_config, users, ProxyJump
// chains) and connects nothing: a host without a user (*NoUserError), a bad
// ProxyJump or ProxyCommand, a loop of jumps or an unreadable ssh_config is
// reported, every host's problem joined, before any host is dialled.
func Routes(opts Options, hosts []HostConfig) ([]Route, error) {
	f, err := newFleet(opts, hosts)
	if err != nil {
		return nil, err
	}
	out := make([]Route, len(f.hosts))
	for i, h := range f.hosts {
		out[i] = Route{Host: h.cfg.Name, User: h.t.user, Address: h.t.hostport(), Via: h.Via()}
	}
	return out, nil
}

func (f *Fleet) connectAll(ctx context.Context) error {
	pending := append([]*Host(nil), f.hosts...)
	var errs []error
	// Round 1 reaches every host whose path is known; a host behind a jump
	// host with an unknown key can only be reached in a later round.
	for round := 0; len(pending) > 0; round++ {
		rec := newRecorder()
		type res struct {
			h   *Host
			c   *conn
			err error
		}
		out := make([]res, len(pending))
		var wg sync.WaitGroup
		for i, h := range pending {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				c, err := f.dial(ctx, h.cfg.Name, h.t, rec)
				out[i] = res{h, c, err}
				if !errors.Is(err, errUnknownRecorded) {
					detail := "connect " + h.t.user + "@" + h.t.hostport()
					if via := h.Via(); len(via) > 0 {
						detail += " via ProxyJump " + strings.Join(via, " → ")
					}
					f.record(Action{Time: start, Host: h.cfg.Name, Kind: "dial", Detail: detail,
						Duration: time.Since(start), Err: f.errString(err)})
				}
			}()
		}
		wg.Wait()
		var again []*Host
		for _, r := range out {
			switch {
			case r.err == nil:
				r.h.conn = r.c
			case errors.Is(r.err, errUnknownRecorded):
				again = append(again, r.h)
			default:
				errs = append(errs, r.err)
			}
		}
		if len(again) == 0 {
			break
		}
		if round >= 8 {
			for _, h := range again {
				errs = append(errs, fmt.Errorf("host %s: too many ProxyJump hops with unknown keys", h.cfg.Name))
			}
			break
		}
		accepted := map[string]bool{}
		if f.opts.ConfirmHostKeys != nil {
			a, err := f.opts.ConfirmHostKeys(ctx, rec.list())
			if err != nil {
				errs = append(errs, fmt.Errorf("confirming host keys: %w", err))
				break
			}
			accepted = a
		}
		var toWrite []*unknownKey
		for _, k := range rec.keys {
			if accepted[k.Host] {
				toWrite = append(toWrite, k)
				f.acceptForRun(k.Address, k.key)
			}
		}
		sort.Slice(toWrite, func(i, j int) bool {
			if toWrite[i].Host != toWrite[j].Host {
				return toWrite[i].Host < toWrite[j].Host
			}
			return toWrite[i].Address < toWrite[j].Address
		})
		if err := appendKnownHosts(toWrite); err != nil {
			errs = append(errs, err)
			break
		}
		pending = pending[:0]
		for _, h := range again {
			ok := true
			for _, id := range rec.by[h.cfg.Name] {
				k := rec.keys[id]
				if !accepted[k.Host] {
					ok = false
					e := &UnknownHostKeyError{Host: h.cfg.Name, Address: k.Address, KeyType: k.KeyType,
						Fingerprint: k.Fingerprint, Refused: true}
					if f.opts.ConfirmHostKeys == nil {
						e.Refused = false
					}
					if k.Host != h.cfg.Name {
						errs = append(errs, fmt.Errorf("host %s: via ProxyJump %s: %w", h.cfg.Name, k.Host, e))
					} else {
						errs = append(errs, e)
					}
					break
				}
			}
			if ok {
				pending = append(pending, h)
			}
		}
	}
	return errors.Join(errs...)
}

// dial connects to t through its ProxyJump chain. rec != nil records unknown
// keys (aborting those handshakes) instead of failing on them.
func (f *Fleet) dial(ctx context.Context, owner string, t *target, rec *recorder) (*conn, error) {
	c := &conn{dead: make(chan struct{})}
	var via *ssh.Client
	for _, hop := range t.jumps {
		hc, err := f.dialOne(ctx, owner, hop, via, rec)
		if err != nil {
			for i := len(c.hops) - 1; i >= 0; i-- {
				c.hops[i].Close()
			}
			if errors.Is(err, errUnknownRecorded) {
				return nil, err
			}
			var hk *HostKeyChangedError
			var uk *UnknownHostKeyError
			var ce *HostCertError
			if errors.As(err, &hk) || errors.As(err, &uk) || errors.As(err, &ce) {
				return nil, fmt.Errorf("host %s: via ProxyJump %s: %w", t.display, hop.display, err)
			}
			return nil, fmt.Errorf("host %s: via ProxyJump %s: %w", t.display, hop.display, err)
		}
		c.hops = append(c.hops, hc)
		via = hc
	}
	cl, err := f.dialOne(ctx, owner, t, via, rec)
	if err != nil {
		for i := len(c.hops) - 1; i >= 0; i-- {
			c.hops[i].Close()
		}
		if errors.Is(err, errUnknownRecorded) {
			return nil, err
		}
		var hk *HostKeyChangedError
		var uk *UnknownHostKeyError
		var ce *HostCertError
		if errors.As(err, &hk) || errors.As(err, &uk) || errors.As(err, &ce) {
			return nil, err // their text already names the host
		}
		return nil, fmt.Errorf("host %s: %w", t.display, err)
	}
	c.client = cl
	go func() {
		cl.Wait()
		close(c.dead)
	}()
	return c, nil
}

// dialOne makes one SSH connection to t, directly or through via.
func (f *Fleet) dialOne(ctx context.Context, owner string, t *target, via *ssh.Client, rec *recorder) (*ssh.Client, error) {
	methods, release, err := f.authMethods(t)
	if err != nil {
		return nil, err
	}
	defer release()
	hp := t.hostport()
	cfg := &ssh.ClientConfig{
		User:            t.user,
		Auth:            methods,
		HostKeyCallback: f.hostKeyCallback(owner, t, rec),
		Timeout:         f.opts.DialTimeout,
	}
	if !f.opts.InsecureIgnoreHostKeysForTests {
		cfg.HostKeyAlgorithms = knownAlgorithms(t.knownHosts, hp)
	}
	dctx, cancel := context.WithTimeout(ctx, f.opts.DialTimeout)
	defer cancel()
	var nc net.Conn
	if via == nil {
		var d net.Dialer
		nc, err = d.DialContext(dctx, "tcp", hp)
	} else {
		nc, err = via.DialContext(dctx, "tcp", hp)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", hp, err)
	}
	// The handshake is not context-aware: a watchdog closes the connection
	// on cancellation or after DialTimeout — a timeout that does not run
	// while a passphrase is being asked for (or a key decrypted).
	done := make(chan struct{})
	var timedOut atomic.Bool
	go func() {
		t := time.NewTimer(f.opts.DialTimeout)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				nc.Close()
				return
			case <-t.C:
				if f.keys.busy.Load() > 0 {
					t.Reset(f.opts.DialTimeout)
					continue
				}
				timedOut.Store(true)
				nc.Close()
				return
			case <-done:
				return
			}
		}
	}()
	sc, chans, reqs, err := ssh.NewClientConn(nc, hp, cfg)
	close(done)
	if err != nil {
		nc.Close()
		if errors.Is(err, errUnknownRecorded) {
			return nil, errUnknownRecorded
		}
		var hk *HostKeyChangedError
		if errors.As(err, &hk) {
			return nil, hk
		}
		var uk *UnknownHostKeyError
		if errors.As(err, &uk) {
			return nil, uk
		}
		var ce *HostCertError
		if errors.As(err, &ce) {
			return nil, ce
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect %s@%s: %w", t.user, hp, ctx.Err())
		}
		if timedOut.Load() {
			return nil, fmt.Errorf("connect %s@%s: handshake timed out after %s", t.user, hp, f.opts.DialTimeout)
		}
		return nil, fmt.Errorf("connect %s@%s: %w", t.user, hp, err)
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

// Host returns the host named name, or nil.
func (f *Fleet) Host(name string) *Host { return f.byName[name] }

// Hosts returns every host in the order given to Connect.
func (f *Fleet) Hosts() []*Host { return append([]*Host(nil), f.hosts...) }

// Redactor is the fleet's redactor (Options.Redactor or the one created).
func (f *Fleet) Redactor() *Redactor { return f.red }

// Close closes every connection.
func (f *Fleet) Close() error {
	f.closeShells()
	for _, h := range f.hosts {
		h.mu.Lock()
		h.closed = true
		if h.conn != nil {
			h.conn.close()
			h.conn = nil
		}
		h.mu.Unlock()
	}
	return nil
}

// Name is the operator's name for the host.
func (h *Host) Name() string { return h.cfg.Name }

// OS is the host's command flavour.
func (h *Host) OS() OS { return h.cfg.OS }

// Address is the address dialled (ssh_config HostName or HostConfig.Address).
func (h *Host) Address() string { return h.t.addr }

// User is the remote user logged in as.
func (h *Host) User() string { return h.t.user }

// Via lists the ProxyJump hops the connection goes through, in the order
// they are dialled, each as written in its ProxyJump (nil: a direct
// connection).
func (h *Host) Via() []string {
	var out []string
	for _, j := range h.t.jumps {
		out = append(out, j.display)
	}
	return out
}

func (f *Fleet) record(a Action) {
	if f.opts.Transcript == nil {
		return
	}
	a.Detail = f.red.Redact(a.Detail)
	a.Output = f.red.Redact(a.Output)
	a.Err = f.red.Redact(a.Err)
	f.opts.Transcript(a)
}

func (f *Fleet) errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (f *Fleet) debug(msg string, args ...any) {
	if f.log != nil {
		f.log.Debug(msg, args...)
	}
}
