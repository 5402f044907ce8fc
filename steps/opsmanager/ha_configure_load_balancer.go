// ha_configure_load_balancer.go: step configure-load-balancer of
// opsmanager-ha: the LB itself is the operator's; hawiz says how to set it
// up and checks its DNS name on every authoritative server
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// step 1, M2; caching off, idle timeout 180 s, HAProxy 10m timeouts,
// X-Forwarded-For, M1).

package opsmanager

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/hawiz/hawiz/dnscheck"
	"github.com/hawiz/hawiz/steps"
)

func haConfigureLoadBalancer(a *Answers) *steps.Step {
	return &steps.Step{
		ID:     StepLB,
		Title:  "Configure a load balancer with the pool of Application hosts",
		Why:    "the LB health-checks /monitor/health on every server and must not cache (checked through the LB once the servers run)",
		DocRef: docRefs(haProcStep("1", "configure a load balancer with the pool of Application hosts"), refLBSettings),
		Undo:   lbUndo(a),
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			return checkLBName(ctx, e, &a.LoadBalancer)
		},
	}
}

// lbUndo is how to undo configure-load-balancer in a rollback: the load
// balancer is the operator's, so is taking its pool (and any DNS name made
// for it) back; the documents describe no removal [derived: step 1
// reversed].
func lbUndo(a *Answers) *steps.Manual {
	servers := strings.Join(a.serverNames(), ", ")
	return &steps.Manual{
		Instructions: []string{
			fmt.Sprintf("hawiz did not configure the load balancer: you did, for step %s of the run (%s). Undo that work on the load balancer itself: take the Ops Manager Application servers (%s) out of the pool you made for %s, with its health check on %s, or remove that pool if it serves nothing else.",
				StepLB, haProcStep("1", "configure a load balancer with the pool of Application hosts"), servers, a.LoadBalancer.URL, HealthPath),
			fmt.Sprintf("If you created or changed a DNS name for %s for this run, put it back as it was: hawiz only read it.", a.LoadBalancer.URL),
			"Users reach Ops Manager through the load balancer's URL until it is gone: give them the URL they used before the run.",
		},
		Values: []steps.KV{{Label: "Load balancer", Value: a.LoadBalancer.URL}, {Label: "Pool", Value: servers}},
	}
}

// checkLBName says how to configure the LB and checks that its name holds
// the expected addresses on every authoritative server.
func checkLBName(ctx context.Context, e *steps.Env, lb *LoadBalancer) (string, error) {
	u, err := url.Parse(lb.URL)
	if err != nil {
		return "", err
	}
	host := u.Hostname()
	info := fmt.Sprintf("LB %s: configure its health check on http://<server>:<port>%s (200 healthy, 500 not), caching off, HTTP idle timeout 180 s (HAProxy: timeout client/server 10m), Layer 7 or X-Forwarded-For/Proxy Protocol", lb.URL, HealthPath)
	if _, err := netip.ParseAddr(host); err == nil {
		return info + "\nLB URL names an IP address: no DNS name to verify", nil
	}
	exp, source, err := lbExpected(ctx, lb, host)
	if err != nil {
		return "", err
	}
	r, err := dnscheck.Verify(ctx, dnscheck.Query{Name: host, Expect: exp, Servers: lb.DNSServers, Resolver: lb.DNSResolver})
	if err != nil {
		return "", fmt.Errorf("load_balancer: %w", err)
	}
	if !r.OK {
		return "", fmt.Errorf("DNS for the LB name %s does not hold %v (from %s) on every authoritative server: %s", host, exp, source, strings.Join(r.Problems, "; "))
	}
	return fmt.Sprintf("%s\nDNS: %s = %v (from %s) on every authoritative server of %s (%d servers)", info, host, exp, source, r.Zone, len(r.Servers)), nil
}

// lbExpected returns the addresses the LB name must hold and where they
// come from: load_balancer.expect, else what this machine resolves (every
// authoritative server must then say the same).
func lbExpected(ctx context.Context, lb *LoadBalancer, host string) ([]netip.Addr, string, error) {
	var exp []netip.Addr
	for _, a := range lb.Expect {
		exp = append(exp, netip.MustParseAddr(a))
	}
	if len(exp) > 0 {
		return exp, "load_balancer.expect", nil
	}
	var res net.Resolver
	addrs, err := res.LookupHost(ctx, host)
	if err != nil {
		return nil, "", fmt.Errorf("the LB name %s does not resolve from this machine: %w (give load_balancer.expect and dns_servers to check the authoritative servers)", host, err)
	}
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err == nil {
			exp = append(exp, ip)
		}
	}
	return exp, "this machine's resolver", nil
}
