package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/hawiz/hawiz/dnscheck"
	"github.com/hawiz/hawiz/steps"
	"github.com/spf13/cobra"
)

// dnsFlags are shared by `dns verify` and `dns apply`.
type dnsFlags struct {
	expect   []string
	servers  []string
	resolver string
	timeout  time.Duration
	port     int
	json     bool
}

func (f *dnsFlags) register(c *cobra.Command) {
	c.Flags().StringSliceVar(&f.expect, "expect", nil, "expected addresses, IP[,IP...] (repeatable; IPv4 and/or IPv6)")
	c.Flags().StringArrayVar(&f.servers, "server", nil, "authoritative server HOST[:PORT] to ask instead of discovering the zone's NS (repeatable; the first is the primary)")
	c.Flags().StringVar(&f.resolver, "resolver", "", "resolver HOST[:PORT] for discovery and for what clients see (default: /etc/resolv.conf)")
	c.Flags().DurationVar(&f.timeout, "timeout", dnscheck.DefaultTimeout, "how long each server gets to answer, in total")
	c.Flags().IntVar(&f.port, "ns-port", 53, "port of the discovered name servers")
	c.Flags().BoolVar(&f.json, "json", false, "print the report as one JSON object")
	_ = c.Flags().MarkHidden("ns-port")
}

// query validates the flags into a dnscheck.Query; errors are usage errors.
func (f *dnsFlags) query(name string) (dnscheck.Query, error) {
	q := dnscheck.Query{Resolver: f.resolver, Timeout: f.timeout, Port: f.port}
	var err error
	if q.Name, err = dnscheck.ParseName(name); err != nil {
		return q, usageErrorf("%v", err)
	}
	if q.Expect, err = dnscheck.ParseAddrs("--expect", f.expect); err != nil {
		return q, usageErrorf("%v", err)
	}
	for _, s := range f.servers {
		p, err := dnscheck.ParseServer("--server", s)
		if err != nil {
			return q, usageErrorf("%v", err)
		}
		q.Servers = append(q.Servers, p)
	}
	if f.resolver != "" {
		if q.Resolver, err = dnscheck.ParseServer("--resolver", f.resolver); err != nil {
			return q, usageErrorf("%v", err)
		}
	}
	if f.timeout <= 0 {
		return q, usageErrorf("--timeout: must be positive")
	}
	return q, nil
}

func newDNSCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "dns",
		Short: "Verify (and repair) a round-robin name on every authoritative server",
		Long: "hawiz dns asks every authoritative server of a name's zone, directly and at\n" +
			"once, whether the name's address records are exactly the expected set, with the\n" +
			"AA bit and the same SOA serial everywhere; `apply` fixes them with a\n" +
			"TSIG-signed RFC 2136 update.\n\n" +
			"Exit codes: 0 verified, 1 records differ, 2 bad input, 4 update refused.",
		Example: "  hawiz dns verify micetro.example.com --expect 10.0.0.11,10.0.0.12\n" +
			"  hawiz dns apply micetro.example.com --expect 10.0.0.11,10.0.0.12 --tsig-file /etc/hawiz/update.key",
		Args: rootArgs,
	}
	c.AddCommand(newDNSVerifyCmd(), newDNSApplyCmd())
	return c
}

func newDNSVerifyCmd() *cobra.Command {
	var f dnsFlags
	c := &cobra.Command{
		Use:   "verify NAME --expect IP[,IP...]",
		Short: "Check that NAME resolves to exactly the expected addresses on every authoritative server",
		Example: "  hawiz dns verify micetro.example.com --expect 10.0.0.11,10.0.0.12\n" +
			"  hawiz dns verify lb.example.com --expect 10.0.0.21 --server ns1.example.com --server 192.0.2.2:53 --json",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := f.query(args[0])
			if err != nil {
				return err
			}
			rep, err := dnscheck.Verify(cmd.Context(), q)
			if err != nil {
				return usageErrorf("%v", err)
			}
			out := cmd.OutOrStdout()
			if f.json {
				writeJSON(out, rep)
			} else {
				printReport(out, rep)
			}
			return reportExit(rep)
		},
	}
	f.register(c)
	return c
}

// tsigKeyEnv holds a TSIG key as [ALGORITHM:]NAME:SECRET (nsupdate -y's
// form) for `dns apply` without --tsig-file: never a flag, since command
// lines are visible to every user of the machine.
const tsigKeyEnv = "HAWIZ_TSIG_KEY"

func newDNSApplyCmd() *cobra.Command {
	var (
		f        dnsFlags
		tsigFile string
		yes      bool
		ttl      uint32
		wait     time.Duration
	)
	c := &cobra.Command{
		Use:   "apply NAME --expect IP[,IP...] --tsig-file FILE",
		Short: "Add the missing and remove the extra address records with a TSIG-signed update",
		Long: "apply reads the records from every authoritative server, shows the exact\n" +
			"RFC 2136 update (with the prerequisite that the records are still what was\n" +
			"read), asks before sending it to the zone's primary (SOA MNAME, or the first\n" +
			"--server), then waits for the secondaries to catch up and verifies again.",
		Example: "  hawiz dns apply micetro.example.com --expect 10.0.0.11,10.0.0.12 --tsig-file /etc/hawiz/update.key",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := f.query(args[0])
			if err != nil {
				return err
			}
			var key dnscheck.TSIGKey
			switch env := os.Getenv(tsigKeyEnv); {
			case tsigFile != "":
				if key, err = dnscheck.LoadTSIGFile(tsigFile); err != nil {
					return usageErrorf("--%v", err)
				}
			case env != "":
				if key, err = dnscheck.ParseTSIGKeyLine(env); err != nil {
					return usageErrorf("%s: %v", tsigKeyEnv, err)
				}
			default:
				return usageErrorf("--tsig-file: required (a key file in BIND format, as tsig-keygen writes, or one line [ALGORITHM:]NAME:SECRET), or the key in %s", tsigKeyEnv)
			}
			if wait <= 0 {
				return usageErrorf("--wait: must be positive")
			}
			if ttl > math.MaxInt32 { // RFC 2181 8: TTLs are 0 to 2^31-1
				return usageErrorf("--ttl: %d is more than %d (RFC 2181)", ttl, math.MaxInt32)
			}
			q.TTL = ttl
			return runApply(cmd, q, key, ttl, wait, yes, f.json)
		},
	}
	f.register(c)
	c.Flags().StringVar(&tsigFile, "tsig-file", "", "TSIG key file in BIND format (key \"name\" { algorithm hmac-sha256; secret \"...\"; };) or one line [ALGORITHM:]NAME:SECRET; default: the key in $"+tsigKeyEnv)
	c.Flags().BoolVar(&yes, "yes", false, "send the update without asking")
	c.Flags().Uint32Var(&ttl, "ttl", 0, "TTL the records must have; a different existing TTL is changed (default: keep the existing RRset's TTL, else 300)")
	c.Flags().DurationVar(&wait, "wait", 10*time.Second, "how long to wait for the secondaries to catch up")
	return c
}

func runApply(cmd *cobra.Command, q dnscheck.Query, key dnscheck.TSIGKey, ttl uint32, wait time.Duration, yes, asJSON bool) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	rep, err := dnscheck.Verify(ctx, q)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if rep.OK {
		if asJSON {
			writeJSON(out, map[string]any{"change": nil, "report": rep})
		} else {
			printReport(out, rep)
			fmt.Fprintln(out, "nothing to change")
		}
		return nil
	}
	change, err := dnscheck.PlanChange(rep, q.Expect, ttl)
	if err != nil {
		if !asJSON {
			printReport(out, rep)
		}
		return withCode(steps.ExitFailed, fmt.Errorf("cannot plan the update: %w", err))
	}
	if change.Empty() {
		// The primary is right; the others have not caught up (or are broken).
		if !asJSON {
			fmt.Fprintf(out, "the primary %s already has exactly %s; waiting up to %s for the other servers\n", change.Primary, joinAddrs(q.Expect), wait)
		}
		return finishApply(ctx, out, q, wait, nil, asJSON)
	}
	w := out
	if asJSON {
		w = cmd.ErrOrStderr()
	}
	fmt.Fprintf(w, "update for %s in zone %s, sent to the primary %s, signed with %s:\n",
		strings.TrimSuffix(change.Name, "."), strings.TrimSuffix(change.Zone, "."), change.Primary, key)
	for _, l := range change.Script() {
		fmt.Fprintln(w, "  "+l)
	}
	fmt.Fprintln(w, "(the prereq lines: the update applies only if the records are still what was read)")
	if change.OldTTL != 0 {
		fmt.Fprintf(w, "(the TTL changes from %d to %d: an RRset has one TTL, so every record is deleted and added again in this one update)\n", change.OldTTL, change.TTL)
	}
	if !yes {
		ok, err := confirm(cmd, "send this update? [y/N] ")
		if err != nil {
			return err
		}
		if !ok {
			return withCode(steps.ExitStopped, errors.New("not sent: the operator declined"))
		}
	}
	if err := dnscheck.Apply(ctx, change.Primary, change, key, change.Have); err != nil {
		if errors.Is(err, dnscheck.ErrRefused) {
			return withCode(steps.ExitRefused, err)
		}
		var ie *dnscheck.InputError
		if errors.As(err, &ie) {
			return usageErrorf("%v", err)
		}
		return withCode(steps.ExitFailed, err)
	}
	if !asJSON {
		fmt.Fprintf(out, "update accepted by %s; waiting up to %s for every server to agree\n", change.Primary, wait)
	}
	return finishApply(ctx, out, q, wait, &change, asJSON)
}

func finishApply(ctx context.Context, out io.Writer, q dnscheck.Query, wait time.Duration, change *dnscheck.Change, asJSON bool) error {
	rep, err := dnscheck.WaitConsistent(ctx, q, wait)
	if err != nil && !errors.Is(err, context.Canceled) {
		return withCode(steps.ExitFailed, err)
	}
	if asJSON {
		writeJSON(out, map[string]any{"change": change, "report": rep})
	} else {
		printReport(out, rep)
	}
	if err != nil {
		return withCode(steps.ExitStopped, err)
	}
	return reportExit(rep)
}

// confirm asks on a terminal; without one it refuses to guess.
func confirm(cmd *cobra.Command, prompt string) (bool, error) {
	in := cmd.InOrStdin()
	f, isFile := in.(*os.File)
	if !isFile {
		return false, usageErrorf("stdin is not a terminal: use --yes to send the update")
	}
	if !term.IsTerminal(f.Fd()) { // /dev/null is a character device, not a terminal
		return false, usageErrorf("stdin is not a terminal: use --yes to send the update")
	}
	fmt.Fprint(cmd.ErrOrStderr(), prompt)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

func reportExit(rep dnscheck.Report) error {
	if rep.OK {
		return nil
	}
	n := len(rep.Problems)
	return withCode(steps.ExitFailed, fmt.Errorf("DNS records of %s differ: %d problem(s)", strings.TrimSuffix(rep.Name, "."), n))
}

func exactArgs(name string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErrorf("expected one argument, %s; got %d", name, len(args))
		}
		return nil
	}
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func joinAddrs(a []netip.Addr) string {
	if len(a) == 0 {
		return "-"
	}
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = x.String()
	}
	return strings.Join(s, ", ")
}

// printReport writes the human report: one row per server, the problems,
// and what clients see.
func printReport(w io.Writer, r dnscheck.Report) {
	zone := strings.TrimSuffix(r.Zone, ".")
	if zone == "" {
		zone = "?"
	}
	fmt.Fprintf(w, "%s (zone %s), expected %s\n\n", strings.TrimSuffix(r.Name, "."), zone, joinAddrs(r.Expect))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(r.Servers) == 0 {
		fmt.Fprintln(w, "no authoritative server was asked")
	} else {
		fmt.Fprintln(tw, "SERVER\tADDRESS\tAA\tGOT\tMISSING\tEXTRA\tTTL\tSERIAL\tMS\t")
	}
	for _, s := range r.Servers {
		name := s.Name
		if s.Primary {
			name += " (primary)"
		}
		if !s.Answered {
			what := "no answer"
			if s.Address == "" {
				what = "not asked"
			}
			fmt.Fprintf(tw, "%s\t%s\t-\t%s\t-\t-\t-\t-\t%.1f\t\n", name, orDash(s.Address), what, s.LatencyMS)
			continue
		}
		serial := "-"
		if s.HasSerial {
			serial = fmt.Sprint(s.Serial)
		}
		aa := "no"
		if s.AA {
			aa = "yes"
		}
		got := joinAddrs(s.Got)
		if s.TCP {
			got += " (tcp)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%.1f\t\n", name, s.Address, aa, got, joinAddrs(s.Missing), joinAddrs(s.Extra), s.TTL, serial, s.LatencyMS)
	}
	tw.Flush()
	if len(r.Problems) > 0 {
		fmt.Fprintln(w, "\nproblems:")
		for _, p := range r.Problems {
			fmt.Fprintln(w, "  - "+p)
		}
	}
	fmt.Fprintln(w)
	if res := r.Resolver; res != nil {
		switch {
		case res.Answered:
			fmt.Fprintf(w, "clients see (resolver %s): %s", res.Address, joinAddrs(res.Got))
			if res.Rcode != "NOERROR" {
				fmt.Fprintf(w, " (%s)", res.Rcode)
			} else if !res.OK {
				fmt.Fprintf(w, " [missing %s, extra %s]", joinAddrs(res.Missing), joinAddrs(res.Extra))
			}
			fmt.Fprintln(w)
		default:
			fmt.Fprintf(w, "clients see: resolver %s: %s\n", orDash(res.Address), res.Error)
		}
	}
	if r.OK {
		serial := ""
		if len(r.Servers) > 0 && r.Servers[0].HasSerial {
			serial = fmt.Sprintf(", serial %d", r.Servers[0].Serial)
		}
		fmt.Fprintf(w, "verified: %d authoritative server(s) answer exactly %s%s\n", len(r.Servers), joinAddrs(r.Expect), serial)
	} else {
		fmt.Fprintf(w, "NOT verified: %d problem(s)\n", len(r.Problems))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
