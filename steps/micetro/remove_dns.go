package micetro

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/hawiz/hawiz/dnscheck"
	"github.com/hawiz/hawiz/steps"
)

// Step remove-from-round-robin-dns of micetro-remove-member: the removed
// member's address leaves the round-robin name. With a TSIG key hawiz
// offers one RFC 2136 UPDATE that deletes only that address record, with
// the prerequisite that the name still holds exactly what the primary
// server answered (so the record still exists and nothing else changed);
// without one it shows the exact record to delete and waits. Done when
// every authoritative server answers authoritatively, with one serial,
// and none holds the address. The documents describe no removal: this is
// the reverse of step 14, "Create a round robin DNS name … each with the
// IP address of the primary and secondary server" [derived].
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html
// (Linux and Windows, step 14, reversed).

type removeDNS struct{ a *RemoveAnswers }

func removeDNSStep(a *RemoveAnswers) *steps.Step {
	s := &removeDNS{a}
	x := a.removed()
	action := fmt.Sprintf("ask every authoritative server of %s; while the primary holds %s's address: ", a.DNS.Name, x.Name)
	if a.DNS.TSIGKeyFile != "" {
		action += "offer an RFC 2136 UPDATE signed with " + a.DNS.TSIGKeyFile + " deleting only that record (prerequisite: the records read), then wait for every server to follow"
	} else {
		action += "show the record to delete and wait (no dns.tsig_key_file: hawiz changes no DNS record itself)"
	}
	return &steps.Step{
		ID:      StepRmDNS,
		Title:   fmt.Sprintf("Remove %s's address from the round-robin DNS name %s", x.Name, a.DNS.Name),
		Why:     "clients reach the cluster through the round-robin name; the documents are silent on removal, so hawiz deletes the record step 14 created for this member [derived]",
		DocRef:  reversed(a, x, hsRoundRobinDNS).String(),
		Mode:    steps.Once,
		Actions: []string{action},
		Check:   s.check,
		Apply:   s.apply,
		Verify:  s.verify,
	}
}

// memberAddr is the address member m has in the round-robin name
// (expectedAddrs: members[].ip, else the host's address).
func memberAddr(ctx context.Context, e *steps.Env, a *HAAnswers, m *Member) (netip.Addr, error) {
	one := *a
	one.Members = []Member{*m}
	addrs, err := expectedAddrs(ctx, e, &one)
	if err != nil {
		return netip.Addr{}, err
	}
	return addrs[0], nil
}

// query asks for the name; Expect is what the primary should hold once the
// address is gone (only for the report's wording: judged by goneEverywhere).
func (s *removeDNS) report(ctx context.Context, e *steps.Env) (dnscheck.Report, netip.Addr, error) {
	a := s.a
	ip, err := memberAddr(ctx, e, &a.HAAnswers, a.removed())
	if err != nil {
		return dnscheck.Report{}, ip, err
	}
	var rest []netip.Addr
	for _, m := range a.remaining() {
		if r, err := memberAddr(ctx, e, &a.HAAnswers, m); err == nil && r != ip {
			rest = append(rest, r)
		}
	}
	if len(rest) == 0 {
		rest = []netip.Addr{ip} // Verify needs one; goneEverywhere judges
	}
	r, err := dnscheck.Verify(ctx, dnsQuery(&a.HAAnswers, rest))
	return r, ip, err
}

// goneEverywhere: every authoritative server answered with the AA bit and
// one serial, and none holds ip (dnscheck.Settled, shared with rollback).
func goneEverywhere(r dnscheck.Report, ip netip.Addr) (bool, string) {
	return dnscheck.Settled(r, nil, []netip.Addr{ip})
}

func (s *removeDNS) check(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
	r, ip, err := s.report(ctx, e)
	if err != nil {
		return false, "", err
	}
	ok, ev := goneEverywhere(r, ip)
	return ok, ev, nil
}

func (s *removeDNS) apply(ctx context.Context, e *steps.Env, _ string) error {
	a := s.a
	r, ip, err := s.report(ctx, e)
	if err != nil {
		return err
	}
	if ok, _ := goneEverywhere(r, ip); ok {
		return nil
	}
	var primary *dnscheck.ServerReport
	for i := range r.Servers {
		if r.Servers[i].Primary {
			primary = &r.Servers[i]
		}
	}
	if primary == nil || !primary.Answered {
		return fmt.Errorf("the primary server of %s did not answer: cannot tell what it holds", a.DNS.Name)
	}
	if !slices.Contains(primary.Got, ip) { // the primary is done; its secondaries follow
		return s.wait(ctx, e, ip, nil)
	}
	var left []netip.Addr
	for _, g := range primary.Got {
		if g != ip {
			left = append(left, g)
		}
	}
	if len(left) == 0 {
		return &steps.RefusedError{Reason: fmt.Sprintf("%s holds only %s: deleting it leaves the name with no address; nothing was changed", a.DNS.Name, ip)}
	}
	change := dnscheck.Change{Zone: r.Zone, Name: a.DNS.Name, Remove: []netip.Addr{ip}, TTL: primary.TTL, Primary: r.Primary, Have: primary.Got}
	if change.Zone == "" {
		change.Zone = primary.Zone
	}
	if a.DNS.TSIGKeyFile == "" {
		return s.wait(ctx, e, ip, &change)
	}
	key, err := dnscheck.LoadTSIGFile(a.DNS.TSIGKeyFile)
	if err != nil {
		return err
	}
	e.Redactor().Add(key.Secret)
	q := fmt.Sprintf("Send an RFC 2136 UPDATE to %s (zone %s) signed with key %s: delete %s %s %s (prerequisite: it holds exactly %v)?", change.Primary, change.Zone, key.Name, a.DNS.Name, typeOf(ip), ip, change.Have)
	yes, err := e.Operator().Confirm(ctx, q, true)
	if err != nil {
		return err
	}
	if !yes {
		return s.wait(ctx, e, ip, &change)
	}
	err = dnscheck.Apply(ctx, change.Primary, change, key, change.Have)
	if dnscheck.MayHaveChanged(err) { // in the change journal: hawiz rollback puts the record back
		d := steps.DNSChange{Zone: change.Zone, Name: change.Name, Server: change.Primary, Servers: a.DNS.Servers, Resolver: a.DNS.Resolver,
			KeyName: key.Name, KeyFile: a.DNS.TSIGKeyFile, Before: change.Have, Removed: change.Remove,
			TTL: change.TTL, MaxWait: a.DNS.MaxWait}
		if err != nil {
			d.Unconfirmed = err.Error()
		}
		e.JournalDNS(d)
	}
	if err != nil {
		return fmt.Errorf("DNS update: %w", err)
	}
	wr, err := dnscheck.WaitConsistent(ctx, dnsQuery(&a.HAAnswers, left), a.DNS.MaxWait)
	if err != nil {
		return err
	}
	if ok, ev := goneEverywhere(wr, ip); !ok {
		return fmt.Errorf("after the update: %s", ev)
	}
	return nil
}

// wait shows the record to delete (change; nil: the primary has no such
// record any more, the others are to follow) and waits until no server
// holds ip.
func (s *removeDNS) wait(ctx context.Context, e *steps.Env, ip netip.Addr, change *dnscheck.Change) error {
	a := s.a
	name := strings.TrimSuffix(a.DNS.Name, ".") + "."
	msg := fmt.Sprintf("Wait until every authoritative server of %s follows its primary (no server may hold %s).", a.DNS.Name, ip)
	if change != nil {
		msg = fmt.Sprintf("Delete this record (and only this one) on the primary %s, zone %s:\n  %s %d IN %s %s\nAs an nsupdate script:\n  %s",
			change.Primary, change.Zone, name, change.TTL, typeOf(ip), ip, strings.Join(change.Script(), "\n  "))
	}
	return e.Operator().Wait(ctx, msg, func(ctx context.Context) (bool, string, error) {
		r, _, err := s.report(ctx, e)
		if err != nil {
			return false, "", err
		}
		ok, ev := goneEverywhere(r, ip)
		return ok, ev, nil
	})
}

func (s *removeDNS) verify(ctx context.Context, e *steps.Env, _ string) (string, error) {
	r, ip, err := s.report(ctx, e)
	if err != nil {
		return "", err
	}
	ok, ev := goneEverywhere(r, ip)
	if !ok {
		return "", errors.New(ev)
	}
	return ev, nil
}

func typeOf(ip netip.Addr) string {
	if ip.Is6() {
		return "AAAA"
	}
	return "A"
}
