//go:build e2e

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// proc is one measured process: wall and CPU time (user+sys of it and its children).
type proc struct {
	code      int
	wall, cpu time.Duration
	stdout    string
	stderr    string
	maxFDs    int
	goroutine int
}

type runOpts struct {
	env      []string
	sampleFD bool
	// quitOn: send SIGQUIT when a --json line contains all these strings (goroutine dump).
	quitOn []string
}

func run(o runOpts, name string, args ...string) proc {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), o.env...)
	var out, errb bytes.Buffer
	cmd.Stderr = &errb
	var pipe *bufio.Scanner
	if len(o.quitOn) > 0 {
		r, err := cmd.StdoutPipe()
		if err != nil {
			die("%v", err)
		}
		pipe = bufio.NewScanner(r)
		pipe.Buffer(make([]byte, 1<<20), 1<<20)
	} else {
		cmd.Stdout = &out
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		die("%s: %v", name, err)
	}
	var p proc
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if o.sampleFD {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid)); err == nil && len(ents) > p.maxFDs {
					p.maxFDs = len(ents)
				}
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
	}
	if pipe != nil {
		quit := false
		for pipe.Scan() {
			out.Write(pipe.Bytes())
			out.WriteByte('\n')
			all := true
			for _, q := range o.quitOn {
				all = all && strings.Contains(pipe.Text(), q)
			}
			if !quit && all {
				cmd.Process.Signal(syscall.SIGQUIT)
				quit = true
			}
		}
	}
	err := cmd.Wait()
	p.wall = time.Since(t0)
	close(stop)
	wg.Wait()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		} else {
			die("%s: %v", name, err)
		}
	}
	p.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	p.stdout, p.stderr = out.String(), errb.String()
	p.goroutine = strings.Count(p.stderr, "\ngoroutine ")
	return p
}

func (p proc) must(want int, what string) proc {
	if p.code != want {
		die("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, p.code, want, tail(p.stdout, 3000), tail(p.stderr, 3000))
	}
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

var stepIDRE = regexp.MustCompile(`\[([a-z0-9-]+)\]\s*$`)

// planSteps lists a procedure's step IDs and the manual ones (hawiz plan).
func planSteps(hawiz, proc, answers string) (ids, manual []string) {
	p := run(runOpts{}, hawiz, "plan", proc, "-a", answers).must(0, "hawiz plan")
	cur := ""
	for _, l := range strings.Split(p.stdout, "\n") {
		if m := stepIDRE.FindStringSubmatch(l); m != nil && strings.Contains(l, ". ") {
			cur = m[1]
			ids = append(ids, cur)
			continue
		}
		if cur != "" && strings.Contains(l, "manual (operator confirms)") && !slices.Contains(manual, cur) {
			manual = append(manual, cur)
		}
	}
	return ids, manual
}

// ---- the floor of P3: replay hawiz's remote actions over bare x/crypto/ssh ----

type action struct {
	Time     time.Time `json:"time"`
	Host     string    `json:"host"`
	Action   string    `json:"action"`
	Detail   string    `json:"detail"`
	Duration float64   `json:"duration_ms"`
	start    time.Time
	end      time.Time
	cmd      string
	stdin    []byte
}

var writeRE = regexp.MustCompile(`^write (\S+) \((\d+) bytes`)

// floorCommand is the shell command a bare client runs for one of hawiz's
// actions: the same kind of work (sudo, stat+cat, stat+sha256, an atomic
// write of the same size to a scratch file, systemctl/service).
func floorCommand(a *action) (string, []byte) {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	switch a.Action {
	case "run", "service":
		c := a.Detail
		if rest, ok := strings.CutPrefix(c, "sudo "); ok {
			c = "sudo -n " + rest
		}
		return c, nil
	case "read":
		p := strings.TrimPrefix(a.Detail, "read ")
		return "sudo -n sh -c 'stat -L -c \"%s %f %Y %U %G\" -- \"$1\" >&2 && cat -- \"$1\"' floor " + q(p), nil
	case "stat":
		p := strings.TrimPrefix(a.Detail, "stat ")
		return "sudo -n sh -c '[ -e \"$1\" ] || exit 0; stat -L -c \"%s %f %Y %U %G\" -- \"$1\"; sha256sum < \"$1\"' floor " + q(p), nil
	case "write":
		n := 0
		if m := writeRE.FindStringSubmatch(a.Detail); m != nil {
			fmt.Sscan(m[2], &n)
		}
		return "sudo -n sh -c 'umask 077; t=$(mktemp /tmp/.proof-floor.XXXXXX) && dd of=\"$t\" bs=65536 conv=fsync 2>/dev/null && sha256sum < \"$t\" >/dev/null && mv -f \"$t\" /tmp/proof-floor-write'", bytes.Repeat([]byte("x"), n)
	}
	return "", nil
}

func loadTranscript(file string) []*action {
	f, err := os.Open(file)
	if err != nil {
		die("%v", err)
	}
	defer f.Close()
	var out []*action
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var a action
		if json.Unmarshal(sc.Bytes(), &a) != nil || a.Host == "" {
			continue
		}
		if a.Action != "run" && a.Action != "read" && a.Action != "stat" && a.Action != "write" && a.Action != "service" {
			continue
		}
		a.start = a.Time
		a.end = a.Time.Add(time.Duration(a.Duration * float64(time.Millisecond)))
		a.cmd, a.stdin = floorCommand(&a)
		out = append(out, &a)
	}
	return out
}

// replay runs the actions over one bare x/crypto/ssh connection per host
// (dialled in parallel, counted), keeping hawiz's ordering: an action starts
// once every action that had ended before it started in hawiz's run is done.
func replay(l *lab, acts []*action) time.Duration {
	idx := map[string]int{}
	for i, n := range l.names {
		idx[n] = i
	}
	byEnd := make([]*action, len(acts))
	copy(byEnd, acts)
	sort.Slice(byEnd, func(i, j int) bool { return byEnd[i].end.Before(byEnd[j].end) })
	pos := map[*action]int{}
	for i, a := range byEnd {
		pos[a] = i
	}
	need := make([]int, len(acts)) // prefix of byEnd that must be done first
	for i, a := range acts {
		need[i] = sort.Search(len(byEnd), func(k int) bool { return byEnd[k].end.After(a.start) })
	}
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	done := make([]bool, len(byEnd))
	prefix := 0
	hosts := map[string]bool{}
	for _, a := range acts {
		hosts[a.Host] = true
	}
	t0 := time.Now()
	clients := map[string]*ssh.Client{}
	var cmu sync.Mutex
	var wg sync.WaitGroup
	for h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := l.dial(idx[h])
			if err != nil {
				die("floor dial %s: %v", h, err)
			}
			cmu.Lock()
			clients[h] = c
			cmu.Unlock()
		}()
	}
	wg.Wait()
	// sshd refuses more than MaxSessions (10) sessions on one connection
	// ("open failed"); hawiz's own actions wait for a slot the same way.
	slots := map[string]chan struct{}{}
	for h := range hosts {
		slots[h] = make(chan struct{}, 10)
	}
	for i, a := range acts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			for prefix < need[i] {
				cond.Wait()
			}
			mu.Unlock()
			slots[a.Host] <- struct{}{}
			defer func() { <-slots[a.Host] }()
			s, err := clients[a.Host].NewSession()
			// A session closed a moment ago may still count on sshd's side:
			// back off and try again, as hawiz does (remote/run.go).
			for try := 0; try < 200 && isMaxSessions(err); try++ {
				time.Sleep(5 * time.Millisecond)
				s, err = clients[a.Host].NewSession()
			}
			if err != nil {
				die("floor session %s: %v", a.Host, err)
			}
			if a.stdin != nil {
				s.Stdin = bytes.NewReader(a.stdin)
			}
			var o, e bytes.Buffer
			s.Stdout, s.Stderr = &o, &e
			_ = s.Run(a.cmd) // exit status is the command's business, as in hawiz
			s.Close()
			mu.Lock()
			done[pos[a]] = true
			for prefix < len(done) && done[prefix] {
				prefix++
			}
			cond.Broadcast()
			mu.Unlock()
		}()
	}
	wg.Wait()
	d := time.Since(t0)
	for _, c := range clients {
		c.Close()
	}
	return d
}

func scratch(dir, name string) string {
	p := filepath.Join(dir, name)
	os.RemoveAll(p)
	if err := os.MkdirAll(p, 0o700); err != nil {
		die("%v", err)
	}
	return p
}

// ---- where a run's wall time goes (P2's breakdown row) ----

// breakdown splits the first run recorded in a transcript (run-start to
// run-end) into: the stand-in's service actions (start/stop/restart: time
// the service manager takes, which any tool pays), connecting (dial and the
// sudo check before the first step), the other remote actions, and local
// time (no remote action in flight: the engine, state writes, the process).
// Overlapping actions share the instant.
func breakdown(file string) (wall time.Duration, parts map[string]time.Duration) {
	b, err := os.ReadFile(file)
	if err != nil {
		die("%v", err)
	}
	type iv struct {
		s, e time.Time
		k    string
	}
	var ivs []iv
	var t0, t1, firstStep time.Time
	for _, l := range strings.Split(string(b), "\n") {
		var a struct {
			Time     time.Time `json:"time"`
			Action   string    `json:"action"`
			Detail   string    `json:"detail"`
			Duration float64   `json:"duration_ms"`
		}
		if json.Unmarshal([]byte(l), &a) != nil {
			continue
		}
		switch {
		case a.Action == "event:run-start":
			if !t0.IsZero() {
				continue
			}
			t0 = a.Time
		case t0.IsZero() || !t1.IsZero():
			continue
		case a.Action == "event:run-end":
			t1 = a.Time
		case a.Action == "event:step-start" && firstStep.IsZero():
			firstStep = a.Time
		case !strings.HasPrefix(a.Action, "event:"):
			k := "other remote actions"
			switch {
			case firstStep.IsZero():
				k = "connect + sudo check"
			case a.Action == "service" && (strings.Contains(a.Detail, "'restart'") || strings.Contains(a.Detail, "'stop'") || strings.Contains(a.Detail, "'start'")):
				k = "service start/stop/restart"
			}
			ivs = append(ivs, iv{a.Time, a.Time.Add(time.Duration(a.Duration * float64(time.Millisecond))), k})
		}
	}
	if t1.IsZero() {
		die("breakdown: no finished run in %s", file)
	}
	pts := []time.Time{t0, t1}
	for _, v := range ivs {
		pts = append(pts, v.s, v.e)
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].Before(pts[j]) })
	parts = map[string]time.Duration{}
	for i := 1; i < len(pts); i++ {
		a, z := pts[i-1], pts[i]
		if !a.Before(z) || a.Before(t0) || z.After(t1) {
			continue
		}
		var in []string
		for _, v := range ivs {
			if !v.s.After(a) && !v.e.Before(z) {
				in = append(in, v.k)
			}
		}
		if len(in) == 0 {
			parts["local (engine, state, process)"] += z.Sub(a)
			continue
		}
		for _, k := range in {
			parts[k] += z.Sub(a) / time.Duration(len(in))
		}
	}
	return t1.Sub(t0), parts
}

// isMaxSessions: sshd refused a session channel because the connection has
// MaxSessions open ("open failed").
func isMaxSessions(err error) bool {
	var oe *ssh.OpenChannelError
	return errors.As(err, &oe) && oe.Reason == ssh.ConnectionFailed
}
