package steps

// The DNS part of a rollback: records a run added (or deleted) with a
// TSIG-signed RFC 2136 UPDATE are taken out (or put back) by one signed
// UPDATE whose prerequisite is that the name holds exactly what the run
// left, then verified on every authoritative server as the run's step
// verified them. A name whose records changed since is left as it is and
// named. The key is read again from where the run read it (the key file
// the journal names), else HAWIZ_TSIG_KEY, else asked for; it is never
// stored.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hawiz/hawiz/dnscheck"
)

// SecretTSIGKey is the TSIG key a rollback signs its DNS undo with when the
// run's key file cannot give it: HAWIZ_TSIG_KEY, or asked for, as
// [ALGORITHM:]NAME:SECRET (nsupdate -y's form).
const SecretTSIGKey = "tsig-key"

const defaultDNSWait = 30 * time.Second

func addrs(list []netip.Addr) string { return fmt.Sprint(list) }

func sameAddrs(a, b []netip.Addr) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.SortFunc(x, func(p, q netip.Addr) int { return p.Compare(q) })
	slices.SortFunc(y, func(p, q netip.Addr) int { return p.Compare(q) })
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// dnsGone are the addresses the undo takes out: added by the run and not
// there before it.
func dnsGone(d *DNSChange) []netip.Addr {
	var out []netip.Addr
	for _, a := range d.Added {
		if !containsAddr(d.Before, a) {
			out = append(out, a)
		}
	}
	return out
}

// dnsQuery asks the run's servers for every address the change touched
// (so AAAA is asked when one of them is IPv6).
func dnsQuery(d *DNSChange) dnscheck.Query {
	var all []netip.Addr
	for _, l := range [][]netip.Addr{d.Before, d.Added, d.Removed} {
		for _, a := range l {
			if !containsAddr(all, a) {
				all = append(all, a)
			}
		}
	}
	return dnscheck.Query{Name: d.Name, Expect: all, Servers: d.Servers, Resolver: d.Resolver}
}

func dnsWhat(c *Change) string {
	d := c.DNS
	var parts []string
	if g := dnsGone(d); len(g) > 0 {
		parts = append(parts, "take out the records the run added "+addrs(g))
	}
	if len(d.Removed) > 0 {
		parts = append(parts, "put back the records it deleted "+addrs(d.Removed))
	}
	return fmt.Sprintf("DNS %s (zone %s): %s, by an RFC 2136 UPDATE to %s signed with key %s, only while the name holds exactly what the run left %s; verified on every authoritative server",
		d.Name, d.Zone, strings.Join(parts, " and "), d.Server, d.KeyName, addrs(d.After()))
}

// dnsPrimary asks every authoritative server and returns the report and
// what the primary holds.
func dnsPrimary(ctx context.Context, d *DNSChange) (dnscheck.Report, []netip.Addr, error) {
	r, err := dnscheck.Verify(ctx, dnsQuery(d))
	if err != nil {
		return r, nil, fmt.Errorf("DNS %s: %w", d.Name, err)
	}
	for _, s := range r.Servers {
		if s.Primary {
			if !s.Answered || !s.AA {
				return r, nil, fmt.Errorf("DNS %s: the primary %s gave no authoritative answer (%s): cannot tell what it holds", d.Name, s.Address, s.Error)
			}
			return r, s.Got, nil
		}
	}
	return r, nil, fmt.Errorf("DNS %s: cannot tell the zone's primary among its servers", d.Name)
}

func dnsLeftText(d *DNSChange, cur string) string {
	return fmt.Sprintf("LEFT AS IT IS: DNS %s holds %s, changed since the run left %s (before the run %s): hawiz did not touch it; take out the run's records %s by hand if they should go",
		d.Name, cur, addrs(d.After()), addrs(d.Before), addrs(dnsGone(d)))
}

// rollbackTSIGKey is the key to sign the undo of d with: from the key file
// the run read it from, else HAWIZ_TSIG_KEY or the operator; it must be the
// key the run used (its name). The secret is registered with the redactor
// and kept only in memory.
func rollbackTSIGKey(e *Env, d *DNSChange) (dnscheck.TSIGKey, error) {
	want := strings.TrimSuffix(strings.ToLower(d.KeyName), ".")
	same := func(k dnscheck.TSIGKey) bool { return strings.TrimSuffix(strings.ToLower(k.Name), ".") == want }
	var why string
	if d.KeyFile != "" {
		k, err := dnscheck.LoadTSIGFile(d.KeyFile)
		switch {
		case err == nil && same(k):
			e.Redactor().Add(k.Secret)
			return k, nil
		case err == nil:
			why = fmt.Sprintf("the key file %s now holds key %s, not %s the run used", d.KeyFile, k.Name, d.KeyName)
		default:
			why = fmt.Sprintf("dns.tsig_key_file %s: %v", d.KeyFile, err)
		}
	}
	v, err := e.Secret(SecretTSIGKey)
	if err != nil {
		if why != "" {
			return dnscheck.TSIGKey{}, fmt.Errorf("TSIG key %s for the DNS undo: %s; %w", d.KeyName, why, err)
		}
		return dnscheck.TSIGKey{}, fmt.Errorf("TSIG key %s for the DNS undo: %w", d.KeyName, err)
	}
	k, err := dnscheck.ParseTSIGKeyLine(v)
	if err != nil {
		return dnscheck.TSIGKey{}, fmt.Errorf("%s: %w", SecretEnvVar(SecretTSIGKey), err)
	}
	if !same(k) {
		return dnscheck.TSIGKey{}, fmt.Errorf("%s: key %s, not %s the run used", SecretEnvVar(SecretTSIGKey), k.Name, d.KeyName)
	}
	e.Redactor().Add(k.Secret)
	return k, nil
}

// preflightDNS checks every DNS undo before anything is written: what each
// name holds now, and the key for every one still to undo.
func preflightDNS(ctx context.Context, e *Env, us []undo) (string, error) {
	var lines []string
	var errs []error
	for _, u := range us {
		if u.kind != undoDNS {
			continue
		}
		d := u.c.DNS
		_, cur, err := dnsPrimary(ctx, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case sameAddrs(cur, d.Before):
			lines = append(lines, fmt.Sprintf("DNS %s: already as before the run %s", d.Name, addrs(cur)))
		case !sameAddrs(cur, d.After()):
			lines = append(lines, fmt.Sprintf("DNS %s: holds %s, changed since the run left %s: will be left as it is", d.Name, addrs(cur), addrs(d.After())))
		default:
			k, err := rollbackTSIGKey(e, d)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			lines = append(lines, fmt.Sprintf("DNS %s: holds what the run left %s: will be undone with %s", d.Name, addrs(cur), k))
		}
	}
	return strings.Join(lines, "\n"), errors.Join(errs...)
}

func dnsUndoStep(s *Step, u undo, pos int) {
	c, d := u.c, u.c.DNS
	gone := dnsGone(d)
	s.Hosts = nil // local: the UPDATE goes from here, as the run's did
	s.Check = func(ctx context.Context, e *Env, _ string) (bool, string, error) {
		if done, why := superseded(e, c, pos); done {
			return true, why, nil
		}
		r, cur, err := dnsPrimary(ctx, d)
		if err != nil {
			return false, "", err
		}
		if left, _ := e.Fact(leftKey(c)); left != "" && left == addrs(cur) {
			return true, dnsLeftText(d, left) + " (an earlier rollback found it so)", nil
		}
		ok, ev := dnscheck.Settled(r, d.Before, gone)
		return ok && sameAddrs(cur, d.Before), ev, nil
	}
	s.Apply = func(ctx context.Context, e *Env, _ string) error {
		_, cur, err := dnsPrimary(ctx, d)
		if err != nil {
			return err
		}
		if !sameAddrs(cur, d.Before) {
			if !sameAddrs(cur, d.After()) {
				e.SetFact(leftKey(c), addrs(cur))
				e.Warn("", "DNS %s holds %s, changed since the run left %s: left as it is", d.Name, addrs(cur), addrs(d.After()))
				return nil
			}
			key, err := rollbackTSIGKey(e, d)
			if err != nil {
				return err
			}
			ttl := d.OldTTL
			if ttl == 0 {
				ttl = d.TTL
			}
			change := dnscheck.Change{Zone: d.Zone, Name: d.Name, Remove: gone, Add: d.Removed, TTL: ttl, Primary: d.Server, Have: d.After()}
			e.SetFact(leftKey(c), "")
			e.SetFact(targetKey(c), fmt.Sprint(pos)) // saved before the update: an earlier undo of the name is superseded from here on
			err = dnscheck.Apply(ctx, d.Server, change, key, change.Have)
			if errors.Is(err, dnscheck.ErrPrerequisite) { // changed between the read and the update
				_, now, rerr := dnsPrimary(ctx, d)
				if rerr != nil {
					return rerr
				}
				e.SetFact(leftKey(c), addrs(now))
				e.Warn("", "DNS %s changed while the rollback read it (now %s): left as it is", d.Name, addrs(now))
				return nil
			}
			if err != nil {
				return fmt.Errorf("DNS update: %w", err)
			}
		}
		wait := d.MaxWait
		if wait <= 0 {
			wait = defaultDNSWait
		}
		_, ok, ev, err := dnscheck.WaitSettled(ctx, dnsQuery(d), d.Before, gone, wait)
		if err == nil && !ok {
			err = fmt.Errorf("after the update: %s", ev)
		}
		return err
	}
	s.Verify = func(ctx context.Context, e *Env, _ string) (string, error) {
		if done, why := superseded(e, c, pos); done {
			return why, nil
		}
		r, cur, err := dnsPrimary(ctx, d)
		if err != nil {
			return "", err
		}
		if left, _ := e.Fact(leftKey(c)); left != "" && left == addrs(cur) {
			return dnsLeftText(d, left), nil
		}
		ok, ev := dnscheck.Settled(r, d.Before, gone)
		if !ok {
			return "", fmt.Errorf("DNS %s: %s", d.Name, ev)
		}
		if !sameAddrs(cur, d.Before) {
			return "", fmt.Errorf("DNS %s: the primary holds %s, not %s as before the run", d.Name, addrs(cur), addrs(d.Before))
		}
		return ev + ", as before the run", nil
	}
}
