package micetro

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Times on a member's clock, as precisely as the host tells them. A
// restart is recognised by comparing when Central's process started with
// when preferences.cfg was last written (and, after a registration, with
// when the operator confirmed it), all on the member's own clock. Each is
// known only within an interval (a span): a comparison says "after" only
// when the spans cannot overlap, so an unclear order means "not restarted
// yet" and a harmless restart, never a skipped one.

// span is an instant known to lie in [lo, hi].
type span struct{ lo, hi time.Time }

func exactly(t time.Time, prec time.Duration) span { return span{t, t.Add(prec)} }

// later is the span of the later of two instants.
func later(a, b span) span {
	if b.lo.After(a.lo) {
		a.lo = b.lo
	}
	if b.hi.After(a.hi) {
		a.hi = b.hi
	}
	return a
}

// surelyAfter: every instant of s is after every instant of t.
func (s span) surelyAfter(t span) bool { return s.lo.After(t.hi) }

// maybeAfter: some instant of s is not before some instant of t.
func (s span) maybeAfter(t span) bool { return !s.hi.Before(t.lo) }

func (s span) String() string {
	if w := s.hi.Sub(s.lo); w >= time.Second {
		return stamp(s.lo.Add(w/2)) + fmt.Sprintf(" (±%v)", (w/2).Round(time.Second))
	}
	return stamp(s.lo)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// parseHostTime parses Unix seconds with an optional fraction ("SECS",
// "SECS.DIGITS" as `date +%s.%N` prints them) and its precision: 1s for
// whole seconds and for a fraction that is not digits (a date without %N
// prints "N" or "%N" there), else 10^-digits s.
func parseHostTime(s string) (time.Time, time.Duration, error) {
	s = strings.TrimSpace(s)
	secs, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || secs == "" || secs[0] == '+' || secs[0] == '-' {
		return time.Time{}, 0, fmt.Errorf("%q is not a time", s)
	}
	if frac == "" || len(frac) > 9 || strings.Trim(frac, "0123456789") != "" {
		return time.Unix(n, 0).UTC(), time.Second, nil
	}
	ns, _ := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	prec := time.Duration(1)
	for range 9 - len(frac) {
		prec *= 10
	}
	return time.Unix(n, ns).UTC(), prec, nil
}

// formatHostTime writes t for parseHostTime (whole seconds when prec is 1s).
func formatHostTime(t time.Time, prec time.Duration) string {
	if prec >= time.Second {
		return strconv.FormatInt(t.Unix(), 10)
	}
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// psUnixTime is a PowerShell expression printing the DateTime in $VAR (UTC)
// as Unix seconds with 7 fraction digits (ticks).
func psUnixTime(v string) string {
	return "'{0}.{1:D7}' -f ([DateTimeOffset]" + v + ").ToUnixTimeSeconds(), (" + v + ".Ticks % 10000000)"
}

// remoteNow returns the host's clock and its precision.
func remoteNow(ctx context.Context, h *remote.Host, m *Member) (time.Time, time.Duration, error) {
	cmd := remote.Cmd{Program: "date", Args: []string{"+%s.%N"}}
	if m.windows() {
		cmd = powershell("$n = [DateTime]::UtcNow; " + psUnixTime("$n"))
	}
	cmd.Timeout = 20 * time.Second
	r, err := h.Run(ctx, cmd)
	if err == nil {
		err = r.ExitError()
	}
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("reading the clock on %s: %w", m.Host.Name, err)
	}
	t, prec, err := parseHostTime(string(r.Stdout))
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("reading the clock on %s: %w", m.Host.Name, err)
	}
	return t, prec, nil
}

// memberClock reads m's clock: the host's clock minus the local clock at
// the midpoint of the read (its offset).
func memberClock(ctx context.Context, h *remote.Host, m *Member) (time.Duration, error) {
	t0 := time.Now()
	now, _, err := remoteNow(ctx, h, m)
	t1 := time.Now()
	if err != nil {
		return 0, err
	}
	return now.Sub(t0.Add(t1.Sub(t0) / 2)), nil
}

// skewProblem returns the skew between the members' clocks (offs[i] is
// member i's offset, memberClock) and, when it is over max, the problem
// naming the members furthest apart; field names the answer that set max
// ("max_clock_skew "), "" for the default.
func skewProblem(c *Common, offs []time.Duration, max time.Duration, field string) (time.Duration, string) {
	skew, lo, hi := steps.ClockSkew(offs)
	if skew <= max {
		return skew, ""
	}
	return skew, fmt.Sprintf("clocks differ by %v (%s ahead of %s), more than %s%v: Central's failover compares heartbeat times written with each member's clock ("+refTweaks.String()+"); synchronise the clocks (NTP) first",
		skew, c.Members[hi].Host.Name, c.Members[lo].Host.Name, field, max)
}

// memberSkew reads every member's clock at once and returns the skew, and
// the problem when it is over max (skewProblem).
func memberSkew(ctx context.Context, e *steps.Env, c *Common, max time.Duration, field string) (time.Duration, string, error) {
	offs := make([]time.Duration, len(c.Members))
	errs := make([]error, len(c.Members))
	var wg sync.WaitGroup
	for i := range c.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := e.Host(c.Members[i].Host.Name)
			if err == nil {
				offs[i], err = memberClock(ctx, h, &c.Members[i])
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, "", err
	}
	skew, p := skewProblem(c, offs, max, field)
	return skew, p, nil
}

// startedScript dates the start of the oldest process named $1 (Linux)
// [derived]. Coarse, as ps tells it: "now DATE" and each process's elapsed
// whole seconds. Precise where pgrep and /proc are there: /proc/PID/stat
// field 22 is the start in clock ticks since boot, /proc/uptime the time
// since boot, read between two readings of the clock: "clock CLK_TCK DATE1
// UPTIME DATE2" and "ticks N" per process. parseStarted uses the precise
// answer only when it agrees with ps's. ps runs beside pgrep and getconf
// (its lines are out before anything else is printed), after the clock was
// read.
const startedScript = `proc=$1
echo "now $(date +%s.%N)"
ps -o etimes= -C "$proc" &
pids=$(pgrep -x -- "$proc" 2>/dev/null)
tck=$(getconf CLK_TCK 2>/dev/null)
wait
if [ -n "$pids" ] && [ -n "$tck" ] && [ -r /proc/uptime ]; then
	d1=$(date +%s.%N); read -r up _ </proc/uptime; d2=$(date +%s.%N)
	echo "clock $tck $d1 $up $d2"
	for pid in $pids; do
		{ read -r st <"/proc/$pid/stat"; } 2>/dev/null || continue
		set -- ${st##*) }
		if [ $# -ge 20 ]; then echo "ticks ${20}"; fi
	done
fi
exit 0`

// startedAt returns when Central's oldest running process started on m
// (host clock), and false when none runs [derived: /proc or ps on Linux,
// Get-Process on Windows].
func startedAt(ctx context.Context, c *Common, h *remote.Host, m *Member) (span, bool, error) {
	proc := c.daemonProcess(m)
	cmd := remote.Cmd{Program: "sh", Args: []string{"-c", startedScript, "hawiz", proc}, Timeout: 20 * time.Second}
	if m.windows() {
		cmd = powershell("Get-Process -Name " + psQuote(proc) + " -ErrorAction SilentlyContinue | ForEach-Object { $s = $_.StartTime.ToUniversalTime(); 'start ' + (" + psUnixTime("$s") + ") }")
		cmd.Timeout = 20 * time.Second
	}
	r, err := h.Run(ctx, cmd)
	if err == nil {
		err = r.ExitError()
	}
	if err != nil {
		return span{}, false, fmt.Errorf("dating the start of %s on %s: %w", proc, m.Host.Name, err)
	}
	s, ok, err := parseStarted(string(r.Stdout))
	if err != nil {
		return span{}, false, fmt.Errorf("dating the start of %s on %s: %w", proc, m.Host.Name, err)
	}
	return s, ok, nil
}

// parseStarted reads startedScript's output (or Windows' "start T" lines)
// into the span holding the oldest process's start.
func parseStarted(out string) (span, bool, error) {
	o, err := scanStarted(out)
	if err != nil {
		return span{}, false, err
	}
	if o.found { // Windows
		return o.oldest, true, nil
	}
	coarse, err := o.coarseStart()
	if err != nil {
		return span{}, false, err
	}
	precise, err := o.preciseStart()
	if err != nil {
		return span{}, false, err
	}
	switch {
	case precise != nil && (coarse == nil || precise.maybeAfter(*coarse) && coarse.maybeAfter(*precise)):
		return *precise, true, nil
	case coarse != nil: // pgrep saw other processes than ps (a stand-in ps), or none
		return *coarse, true, nil
	}
	return span{}, false, nil
}

// startedOutput is startedScript's output (or Windows' "start T" lines), as
// read by scanStarted.
type startedOutput struct {
	found     bool     // Windows "start T" lines were read
	oldest    span     // the oldest of them
	minTicks  int64    // the least "ticks N" (a start since boot); -1 none
	maxElapse int64    // the greatest ps etimes; -1 none
	clock     []string // "clock CLK_TCK DATE UPTIME DATE" after its tag
	now       string   // "now T"
}

func errUnexpected(l string) error { return fmt.Errorf("unexpected output %q", l) }

func scanStarted(out string) (startedOutput, error) {
	o := startedOutput{minTicks: -1, maxElapse: -1}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 0:
		case f[0] == "start" && len(f) == 2: // Windows: StartTime
			t, prec, err := parseHostTime(f[1])
			if err != nil {
				return o, errUnexpected(l)
			}
			if s := exactly(t, prec); !o.found || s.lo.Before(o.oldest.lo) {
				o.oldest, o.found = s, true
			}
		case f[0] == "clock" && len(f) == 5:
			o.clock = f[1:]
		case f[0] == "ticks" && len(f) == 2:
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || n < 0 {
				return o, errUnexpected(l)
			}
			if o.minTicks < 0 || n < o.minTicks {
				o.minTicks = n
			}
		case f[0] == "now" && len(f) == 2:
			o.now = f[1]
		case len(f) == 1: // ps -o etimes=
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil || n < 0 {
				return o, errUnexpected(l)
			}
			if n > o.maxElapse {
				o.maxElapse = n
			}
		default:
			return o, errUnexpected(l)
		}
	}
	return o, nil
}

// coarseStart is the start from ps's elapsed seconds and the clock read
// with them (nil without them).
func (o startedOutput) coarseStart() (*span, error) {
	if o.now == "" || o.maxElapse < 0 {
		return nil, nil
	}
	t, prec, err := parseHostTime(o.now)
	if err != nil {
		return nil, errUnexpected("now " + o.now)
	}
	// ps counts whole elapsed seconds (truncated, from uptime and the
	// start in ticks) a moment after the clock was read: the start lies
	// within a second of now-elapsed, with a little slack either side.
	start := t.Add(-time.Duration(o.maxElapse) * time.Second)
	const slack = 50 * time.Millisecond
	return &span{start.Add(-time.Second - slack), start.Add(prec + time.Second + slack)}, nil
}

// preciseStart is the start from /proc's ticks since boot and the clock
// and uptime read around them (nil without them).
func (o startedOutput) preciseStart() (*span, error) {
	if o.clock == nil || o.minTicks < 0 {
		return nil, nil
	}
	clock := o.clock
	tck, err := strconv.ParseInt(clock[0], 10, 64)
	if err != nil || tck <= 0 {
		return nil, errUnexpected("clock " + strings.Join(clock, " "))
	}
	d1, p1, err1 := parseHostTime(clock[1])
	up, pu, err2 := parseHostTime(clock[2])
	d2, p2, err3 := parseHostTime(clock[3])
	if err1 != nil || err2 != nil || err3 != nil || d2.Before(d1) {
		return nil, errUnexpected("clock " + strings.Join(clock, " "))
	}
	// The host clock at the uptime reading lies within [d1, d2+p2);
	// uptime is truncated (pu); the start lies within one tick after
	// ticks/CLK_TCK.
	tick := time.Second / time.Duration(tck)
	upD := time.Duration(up.Unix())*time.Second + time.Duration(up.Nanosecond())
	startSinceBoot := time.Duration(o.minTicks) * tick
	boot := span{d1.Add(-upD - pu), d2.Add(max(p1, p2) - upD)} // host clock at boot
	return &span{boot.lo.Add(startSinceBoot), boot.hi.Add(startSinceBoot + tick)}, nil
}
