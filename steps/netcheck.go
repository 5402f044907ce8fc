package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hawiz/hawiz/remote"
)

// The network and host preflight (issue 19 item 3): before the first
// change, each host proves it reaches what its service will need (a
// database, the other members, the load balancer), that its time service
// says its clock is synchronised, and that there is room where an upgrade
// stages its files. Every probe runs from the host itself.

// ReachTimeout bounds one TCP connection attempt of the preflight.
const ReachTimeout = 5 * time.Second

// Target is an address and port a host must reach, and what it is.
type Target struct {
	Addr string
	Port int
	What string // e.g. "the database server", "App DB member db1:27017"
}

func (t Target) String() string {
	return net.JoinHostPort(t.Addr, strconv.Itoa(t.Port)) + " (" + t.What + ")"
}

// ParseTarget reads "host:port" (an IPv6 address in brackets) into a
// Target, checked with remote.ValidTarget; defPort is used when the port
// is left out (0: the port is required).
func ParseTarget(s string, defPort int, what string) (Target, error) {
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	n := defPort
	if port != "" {
		v, err := strconv.Atoi(port)
		if err != nil {
			return Target{}, fmt.Errorf("%q: the port %q is not a number", s, port)
		}
		n = v
	} else if defPort == 0 {
		return Target{}, fmt.Errorf("%q: want host:port", s)
	}
	if err := remote.ValidTarget(host, n); err != nil {
		return Target{}, fmt.Errorf("%q: %w", s, err)
	}
	return Target{Addr: host, Port: n, What: what}, nil
}

// ReachFrom reports whether host opens a TCP connection to t. The
// connection is made on the host: by its sshd (a direct-tcpip channel,
// opened from the host's own network stack) where it allows forwarding,
// else by a command run there (remote.Host.ReachTCP). The string says how
// and, on failure, why.
func ReachFrom(ctx context.Context, e *Env, host string, t Target) (bool, string, error) {
	h, err := e.Host(host)
	if err != nil {
		return false, "", err
	}
	if err := remote.ValidTarget(t.Addr, t.Port); err != nil {
		return false, "", fmt.Errorf("host %s: %s: %w", host, t, err)
	}
	if works, known := h.Forwarding(); !known || works {
		dctx, cancel := context.WithTimeout(ctx, ReachTimeout)
		c, err := h.DialTCPAddr(dctx, net.JoinHostPort(t.Addr, strconv.Itoa(t.Port)))
		cancel()
		if err == nil {
			c.Close()
			return true, "connected (by sshd on " + host + ")", nil
		}
		if !errors.Is(err, remote.ErrForwardingProhibited) {
			if ctx.Err() != nil {
				return false, "", ctx.Err()
			}
			return false, "no connection (by sshd on " + host + "): " + lastWords(err), nil
		}
		e.syncForwarding(h)
	}
	r, err := h.ReachTCP(ctx, t.Addr, t.Port, ReachTimeout)
	if err != nil {
		return false, "", err
	}
	if r.OK {
		return true, "connected (" + r.Tool + " on " + host + ")", nil
	}
	return false, "no connection (" + r.Tool + " on " + host + "): " + r.Detail, nil
}

func lastWords(err error) string {
	s := strings.TrimRight(err.Error(), "\")")
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		return s[i+2:]
	}
	return s
}

// CheckReach proves from every host that it reaches each of its targets
// (all at once). The evidence lists every probe; any failure is an error
// naming each host and target that failed, so the run stops before its
// first change.
func CheckReach(ctx context.Context, e *Env, targets map[string][]Target) ([]string, error) {
	type result struct {
		host string
		t    Target
		ok   bool
		how  string
		err  error
	}
	var (
		mu  sync.Mutex
		out []result
		wg  sync.WaitGroup
	)
	for host, ts := range targets {
		for _, t := range ts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, how, err := ReachFrom(ctx, e, host, t)
				mu.Lock()
				out = append(out, result{host, t, ok, how, err})
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	sortResults := func(i, j int) bool {
		if out[i].host != out[j].host {
			return out[i].host < out[j].host
		}
		return out[i].t.String() < out[j].t.String()
	}
	for i := range out { // insertion sort: a handful of results
		for j := i; j > 0 && sortResults(j, j-1); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	var ev []string
	var errs []error
	for _, r := range out {
		switch {
		case r.err != nil:
			errs = append(errs, r.err)
		case r.ok:
			ev = append(ev, fmt.Sprintf("%s → %s: %s", r.host, r.t, r.how))
		default:
			errs = append(errs, fmt.Errorf("%s cannot reach %s: %s; open the path (firewall, routing, name resolution) before running again; nothing was changed", r.host, r.t, r.how))
		}
	}
	return ev, errors.Join(errs...)
}

// CheckTimeSync asks every host's time service whether its clock is
// synchronised (remote.Host.TimeSync). A service that says no is an error
// naming the host; a host where none answered is a warning with what was
// tried, never a silent pass.
func CheckTimeSync(ctx context.Context, e *Env, hosts []string) ([]string, error) {
	res := make([]remote.TimeSync, len(hosts))
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, name := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := e.Host(name)
			if err != nil {
				errs[i] = err
				return
			}
			res[i], errs[i] = h.TimeSync(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var ev []string
	var bad []error
	for i, name := range hosts {
		ts := res[i]
		switch ts.State {
		case remote.TimeSynced:
			ev = append(ev, fmt.Sprintf("%s: clock synchronised (%s: %s)", name, ts.Source, ts.Evidence))
		case remote.TimeNotSynced:
			bad = append(bad, fmt.Errorf("%s: the time service says the clock is not synchronised (%s: %s): synchronise it (NTP) before running again; nothing was changed", name, ts.Source, ts.Evidence))
		default:
			e.Warn(name, "clock synchronisation unknown: %s; only the skew between hosts was measured", ts.Evidence)
			ev = append(ev, fmt.Sprintf("%s: clock synchronisation unknown (%s)", name, ts.Evidence))
		}
	}
	return ev, errors.Join(bad...)
}

// CheckFreeDisk proves that dir on host (its nearest existing parent) has
// at least need bytes available. The evidence gives both figures.
func CheckFreeDisk(ctx context.Context, e *Env, host, dir string, need int64, sudo bool, why string) (string, error) {
	h, err := e.Host(host)
	if err != nil {
		return "", err
	}
	d, err := h.FreeDisk(ctx, dir, sudo)
	if err != nil {
		return "", err
	}
	if d.Avail < need {
		return "", fmt.Errorf("%s: %s has %s free (file system %s), %s needs %s: free space there, or choose another directory, before running again; nothing was changed",
			host, d.Path, Bytes(d.Avail), d.Mount, why, Bytes(need))
	}
	return fmt.Sprintf("%s: %s has %s free (file system %s), %s needs %s", host, d.Path, Bytes(d.Avail), d.Mount, why, Bytes(need)), nil
}

// Bytes writes n in binary units (KiB, MiB, GiB) with one decimal.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// HostClock reads a Linux host's clock (date +%s.%N) and returns it minus
// the local clock at the midpoint of the read: its offset.
func HostClock(ctx context.Context, e *Env, host string) (time.Duration, error) {
	h, err := e.Host(host)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	r, err := h.Run(ctx, remote.Cmd{Program: "date", Args: []string{"+%s.%N"}, Timeout: 20 * time.Second})
	t1 := time.Now()
	if err == nil {
		err = r.ExitError()
	}
	if err != nil {
		return 0, fmt.Errorf("reading the clock on %s: %w", host, err)
	}
	secs, frac, _ := strings.Cut(strings.TrimSpace(string(r.Stdout)), ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading the clock on %s: %q is not a time", host, r.Stdout)
	}
	ns := int64(0)
	if len(frac) == 9 && strings.Trim(frac, "0123456789") == "" {
		ns, _ = strconv.ParseInt(frac, 10, 64)
	}
	return time.Unix(s, ns).Sub(t0.Add(t1.Sub(t0) / 2)), nil
}

// ClockSkew is the spread of clock offsets (HostClock's, one per host),
// rounded to the millisecond, and the indexes of the hosts furthest behind
// (lo) and ahead (hi).
func ClockSkew(offs []time.Duration) (skew time.Duration, lo, hi int) {
	for i := range offs {
		if offs[i] < offs[lo] {
			lo = i
		}
		if offs[i] > offs[hi] {
			hi = i
		}
	}
	return (offs[hi] - offs[lo]).Round(time.Millisecond), lo, hi
}

// CheckClockSkew reads every (Linux) host's clock at once and fails when
// two differ by more than max.
func CheckClockSkew(ctx context.Context, e *Env, hosts []string, max time.Duration, why string) (string, error) {
	offs := make([]time.Duration, len(hosts))
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, name := range hosts {
		wg.Add(1)
		go func() { defer wg.Done(); offs[i], errs[i] = HostClock(ctx, e, name) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	skew, lo, hi := ClockSkew(offs)
	if skew > max {
		return "", fmt.Errorf("clocks differ by %v (%s ahead of %s), more than %v: %s; synchronise the clocks (NTP) first; nothing was changed", skew, hosts[hi], hosts[lo], max, why)
	}
	return fmt.Sprintf("clock skew between %s: %v (≤ %v)", strings.Join(hosts, ", "), skew, max), nil
}
