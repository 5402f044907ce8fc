package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/hawiz/hawiz/remote"
)

// Whether a host's sshd allows TCP forwarding (direct-tcpip) is a fact of
// the run: a host with AllowTcpForwarding no answers every forward with
// "administratively prohibited", and its proofs (a port listening, an HTTP
// health URL) then run on the host itself (remote.Host.ProbeTCP,
// ProbeHTTP). Preflight finds it out once per host (CheckForwarding); a
// refusal found later by a dial is recorded too; a resumed run starts from
// the recorded verdict and asks no forward of a host known to refuse them.

// forwardingFact is the fact key of host's verdict: "yes" or "no".
func forwardingFact(host string) string { return "ssh.tcp-forwarding." + host }

// syncForwarding brings h's verdict and the run's fact together: a
// recorded verdict h does not know yet is given to h; a verdict h found
// (CheckForwarding, or a forward refused mid-run) is recorded.
func (e *Env) syncForwarding(h *remote.Host) {
	key := forwardingFact(h.Name())
	works, known := h.Forwarding()
	if !known {
		if v, ok := e.Fact(key); ok && (v == "yes" || v == "no") {
			h.SetForwarding(v == "yes")
		}
		return
	}
	v := "no"
	if works {
		v = "yes"
	}
	e.SetFact(key, v)
}

// CheckForwarding is the preflight check of whether host's sshd allows TCP
// forwarding: the recorded verdict when there is one, else one direct-tcpip
// open to the host's own address (remote.Host.CheckForwarding), recorded.
// The text says which proofs run how. Not an error either way: without
// forwarding, the proofs run on the host.
func CheckForwarding(ctx context.Context, e *Env, host string) (bool, string, error) {
	h, err := e.Host(host)
	if err != nil {
		return false, "", err
	}
	works, known := h.Forwarding()
	if !known {
		if works, err = h.CheckForwarding(ctx); err != nil {
			return false, "", fmt.Errorf("host %s: checking whether sshd allows TCP forwarding: %w", host, err)
		}
		e.syncForwarding(h)
	}
	if works {
		return true, host + ": TCP forwarding allowed (ports and health URLs are checked through the SSH connection)", nil
	}
	return false, host + ": sshd refuses TCP forwarding (AllowTcpForwarding no): ports and health URLs are checked by commands run on the host", nil
}

// CheckHTTPProbe is the preflight check for a host whose proofs include an
// HTTP URL on the host (Ops Manager's /monitor/health): CheckForwarding,
// and where sshd refuses forwarding, that the host has the client the
// on-host probe runs (curl or wget; remote.Host.HTTPProbeClient). A host
// that refuses forwarding and has neither is an error naming the host,
// before anything changes: otherwise a server would be started and then
// could not be proven healthy.
func CheckHTTPProbe(ctx context.Context, e *Env, host string) (bool, string, error) {
	works, ev, err := CheckForwarding(ctx, e, host)
	if err != nil || works {
		return works, ev, err
	}
	h, err := e.Host(host)
	if err != nil {
		return false, "", err
	}
	client, err := h.HTTPProbeClient(ctx)
	if errors.Is(err, remote.ErrNoHTTPClient) {
		return false, "", fmt.Errorf("host %s: sshd refuses TCP forwarding (AllowTcpForwarding no) and %w, so the health URL cannot be checked on the host: install curl or wget on %s, or allow TCP forwarding (AllowTcpForwarding) for this user", host, remote.ErrNoHTTPClient, host)
	}
	if err != nil {
		return false, "", err
	}
	return false, ev + " (HTTP with " + client + ")", nil
}
