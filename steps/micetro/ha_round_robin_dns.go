package micetro

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/hawiz/hawiz/dnscheck"
	"github.com/hawiz/hawiz/steps"
)

// Step round-robin-dns of micetro-central-ha: "Create a round robin DNS name
// for the high availability setup: one A record per Central server, same
// name". hawiz checks the name on every authoritative server and, with a
// TSIG key, offers an RFC 2136 UPDATE; else it shows the records and waits.
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html
// (C1 central_ha.rst, Linux, step 11).

// roundRobinDNS is the step.
type roundRobinDNS struct{ a *HAAnswers }

func dnsStep(a *HAAnswers) *steps.Step {
	s := &roundRobinDNS{a}
	action := fmt.Sprintf("verify that %s has exactly the members' A/AAAA records on every authoritative server", a.DNS.Name)
	if a.DNS.TSIGKeyFile != "" {
		action += "; offer to fix them by RFC 2136 UPDATE signed with " + a.DNS.TSIGKeyFile
	} else {
		action += "; show the records to create and wait for them"
	}
	return &steps.Step{
		ID:      StepRoundRobinDNS,
		Title:   "Create a round robin DNS name for the high availability setup: one A record per Central server, same name",
		Why:     "clients reach the cluster through one name that holds every member's address",
		DocRef:  haRef(a, &a.Members[0], hsRoundRobinDNS).String(),
		Mode:    steps.Once,
		Actions: []string{action},
		Check:   s.check,
		Apply:   s.apply,
		Verify:  s.verify,
	}
}

// report asks every authoritative server for the name; expect is what it
// must hold.
func (s *roundRobinDNS) report(ctx context.Context, e *steps.Env) (dnscheck.Report, []netip.Addr, error) {
	expect, err := expectedAddrs(ctx, e, s.a)
	if err != nil {
		return dnscheck.Report{}, nil, err
	}
	r, err := dnscheck.Verify(ctx, dnsQuery(s.a, expect))
	return r, expect, err
}

func (s *roundRobinDNS) check(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
	r, _, err := s.report(ctx, e)
	if err != nil {
		return false, "", err
	}
	return r.OK, reportText(r), nil
}

func (s *roundRobinDNS) apply(ctx context.Context, e *steps.Env, _ string) error {
	a := s.a
	r, expect, err := s.report(ctx, e)
	if err != nil {
		return err
	}
	if r.OK {
		return nil
	}
	change, err := dnscheck.PlanChange(r, expect, a.DNS.TTL)
	if err != nil {
		return err
	}
	if a.DNS.TSIGKeyFile != "" {
		sent, err := s.offerUpdate(ctx, e, change, expect)
		if sent || err != nil {
			return err
		}
	}
	return s.waitForRecords(ctx, e, change, expect)
}

// offerUpdate asks the operator whether to send change as an RFC 2136
// UPDATE signed with the TSIG key, and sends it on yes, then waits for every
// server to hold it. sent is false when the operator said no.
func (s *roundRobinDNS) offerUpdate(ctx context.Context, e *steps.Env, change dnscheck.Change, expect []netip.Addr) (sent bool, _ error) {
	a := s.a
	key, err := dnscheck.LoadTSIGFile(a.DNS.TSIGKeyFile)
	if err != nil {
		return false, err
	}
	e.Redactor().Add(key.Secret)
	q := fmt.Sprintf("Send an RFC 2136 UPDATE to %s (zone %s) signed with key %s: %s?", change.Primary, change.Zone, key.Name, describeChange(change))
	yes, err := e.Operator().Confirm(ctx, q, true)
	if err != nil || !yes {
		return false, err
	}
	err = dnscheck.Apply(ctx, change.Primary, change, key, change.Have)
	if dnscheck.MayHaveChanged(err) { // in the change journal: hawiz rollback takes it out again
		d := steps.DNSChange{Zone: change.Zone, Name: change.Name, Server: change.Primary, Servers: a.DNS.Servers, Resolver: a.DNS.Resolver,
			KeyName: key.Name, KeyFile: a.DNS.TSIGKeyFile, Before: change.Have, Added: change.Add, Removed: change.Remove,
			TTL: change.TTL, OldTTL: change.OldTTL, MaxWait: a.DNS.MaxWait}
		if err != nil {
			d.Unconfirmed = err.Error()
		}
		e.JournalDNS(d)
	}
	if err != nil {
		return true, fmt.Errorf("DNS update: %w", err)
	}
	wr, err := dnscheck.WaitConsistent(ctx, dnsQuery(a, expect), a.DNS.MaxWait)
	if err != nil {
		return true, err
	}
	if !wr.OK {
		return true, fmt.Errorf("after the update: %s", reportText(wr))
	}
	return true, nil
}

// waitForRecords shows the records to create (and to remove) and waits
// until every authoritative server holds exactly the members' addresses.
func (s *roundRobinDNS) waitForRecords(ctx context.Context, e *steps.Env, change dnscheck.Change, expect []netip.Addr) error {
	a := s.a
	msg := "Create these records (a round-robin name: one record per member, same name):\n  " + strings.Join(zoneLines(a, expect), "\n  ")
	if len(change.Remove) > 0 {
		msg += fmt.Sprintf("\nand remove the %s records for %v", a.DNS.Name, change.Remove)
	}
	msg += "\nAs an nsupdate script:\n  " + strings.Join(change.Script(), "\n  ")
	return e.Operator().Wait(ctx, msg, func(ctx context.Context) (bool, string, error) {
		r, err := dnscheck.Verify(ctx, dnsQuery(a, expect))
		if err != nil {
			return false, "", err
		}
		return r.OK, reportText(r), nil
	})
}

func (s *roundRobinDNS) verify(ctx context.Context, e *steps.Env, _ string) (string, error) {
	r, _, err := s.report(ctx, e)
	if err != nil {
		return "", err
	}
	if !r.OK {
		return "", errors.New(reportText(r))
	}
	return reportText(r), nil
}

// expectedAddrs are the addresses the round-robin name must hold.
func expectedAddrs(ctx context.Context, e *steps.Env, a *HAAnswers) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, m := range a.Members {
		cands := []string{m.IP, m.Host.Address}
		if h, err := e.Host(m.Host.Name); err == nil {
			cands = append(cands, h.Address())
		}
		var addr netip.Addr
		for _, c := range cands {
			if c == "" {
				continue
			}
			if ap, err := netip.ParseAddrPort(c); err == nil {
				c = ap.Addr().String()
			}
			if ip, err := netip.ParseAddr(c); err == nil {
				addr = ip.Unmap()
				break
			}
		}
		if !addr.IsValid() {
			name := m.Host.Address
			if name == "" {
				name = m.Host.Name
			}
			ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
			if err != nil || len(ips) == 0 {
				return nil, fmt.Errorf("members: cannot tell the IP address of %s for the DNS records (set members[].ip): %v", m.Host.Name, err)
			}
			addr = ips[0].Unmap()
		}
		out = append(out, addr)
	}
	return out, nil
}

func dnsQuery(a *HAAnswers, expect []netip.Addr) dnscheck.Query {
	return dnscheck.Query{Name: a.DNS.Name, Expect: expect, Servers: a.DNS.Servers, Resolver: a.DNS.Resolver}
}

func reportText(r dnscheck.Report) string {
	if r.OK {
		var got []string
		for _, s := range r.Servers {
			got = append(got, s.Address)
		}
		return fmt.Sprintf("%s holds exactly %v on every authoritative server (%s)", r.Name, r.Expect, strings.Join(got, ", "))
	}
	return strings.Join(r.Problems, "; ")
}

func describeChange(c dnscheck.Change) string {
	var parts []string
	if len(c.Add) > 0 {
		parts = append(parts, fmt.Sprintf("add %v", c.Add))
	}
	if len(c.Remove) > 0 {
		parts = append(parts, fmt.Sprintf("remove %v", c.Remove))
	}
	return fmt.Sprintf("%s %s (TTL %d)", c.Name, strings.Join(parts, ", "), c.TTL)
}

func zoneLines(a *HAAnswers, expect []netip.Addr) []string {
	name := strings.TrimSuffix(a.DNS.Name, ".") + "."
	var out []string
	for _, ip := range expect {
		t := "A"
		if ip.Is6() {
			t = "AAAA"
		}
		out = append(out, fmt.Sprintf("%s %d IN %s %s", name, a.DNS.TTL, t, ip))
	}
	return out
}
