package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Settled reports whether every authoritative server in r answered with the
// AA bit and one serial, and each holds every address of present and none
// of absent, with the evidence (or the problem): what a change of a name's
// records is verified by on every server (a record deleted, the records an
// update added taken out again).
func Settled(r Report, present, absent []netip.Addr) (bool, string) {
	if len(r.Servers) == 0 {
		return false, "no authoritative server answered for " + r.Name
	}
	var held, lacking, bad, per []string
	serials := map[uint32]bool{}
	for _, s := range r.Servers {
		switch {
		case !s.Answered:
			bad = append(bad, fmt.Sprintf("%s: no answer (%s)", s.Address, s.Error))
			continue
		case !s.AA:
			bad = append(bad, s.Address+": answer not authoritative (no AA bit)")
			continue
		}
		if s.HasSerial {
			serials[s.Serial] = true
		}
		for _, ip := range absent {
			if slices.Contains(s.Got, ip) {
				held = append(held, fmt.Sprintf("%s on %s", ip, s.Address))
			}
		}
		for _, ip := range present {
			if !slices.Contains(s.Got, ip) {
				lacking = append(lacking, fmt.Sprintf("%s on %s", ip, s.Address))
			}
		}
		per = append(per, fmt.Sprintf("%s %v serial %d", s.Address, s.Got, s.Serial))
	}
	switch {
	case len(bad) > 0:
		return false, strings.Join(bad, "; ")
	case len(held) > 0:
		return false, fmt.Sprintf("%s still holds %s", r.Name, strings.Join(held, ", "))
	case len(lacking) > 0:
		return false, fmt.Sprintf("%s lacks %s", r.Name, strings.Join(lacking, ", "))
	case len(serials) > 1:
		return false, "the servers differ in serial: " + strings.Join(per, "; ")
	}
	var what []string
	if len(absent) > 0 {
		what = append(what, "no record for "+joinAddrs(absent))
	}
	if len(present) > 0 {
		what = append(what, joinAddrs(present))
	}
	return true, fmt.Sprintf("%s holds %s on every authoritative server (%s)", r.Name, strings.Join(what, " and "), strings.Join(per, "; "))
}

// WaitSettled verifies q until Settled(present, absent) holds or maxWait
// has passed, polling every 150 ms, and returns the last report and
// verdict. The error is only for bad input or a cancelled ctx.
func WaitSettled(ctx context.Context, q Query, present, absent []netip.Addr, maxWait time.Duration) (Report, bool, string, error) {
	deadline := time.Now().Add(maxWait)
	for {
		rep, err := Verify(ctx, q)
		if err != nil {
			return rep, false, "", err
		}
		ok, ev := Settled(rep, present, absent)
		if ok || !time.Now().Add(150*time.Millisecond).Before(deadline) {
			return rep, ok, ev, nil
		}
		select {
		case <-ctx.Done():
			return rep, false, ev, ctx.Err()
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// MayHaveChanged reports whether the zone may have changed after Apply
// returned err: it did (nil), or the reply did not count (not
// authenticated, none: ErrUnverified, a network error). An authenticated
// refusal, a failed prerequisite or bad input changed nothing.
func MayHaveChanged(err error) bool {
	if err == nil {
		return true
	}
	var ue *UpdateError
	if errors.As(err, &ue) {
		return ue.Unverified != ""
	}
	var ie *InputError
	return !errors.As(err, &ie)
}
