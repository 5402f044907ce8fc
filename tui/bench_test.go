package tui

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/sys/unix"

	"github.com/hawiz/hawiz/steps"
)

const streamLines = 100_000

// streamRun is an engine that writes n output lines in one step, the way a
// chatty installer does, then ends.
func streamRun(n int) func(ctx context.Context, rc steps.RunConfig) (steps.Outcome, error) {
	return func(ctx context.Context, rc steps.RunConfig) (steps.Outcome, error) {
		r := rc.Renderer
		r.Event(steps.Event{Kind: steps.EventRunStart, Total: 5})
		r.Event(steps.Event{Kind: steps.EventStepStart, Index: 2, Total: 5, Step: "write-config", Title: "Write the cluster configuration"})
		for i := range n {
			line := fmt.Sprintf("%06d unpacking /opt/vendor/lib/module-%d.so (%d bytes) ..... ok", i, i%977, 1000+i)
			r.Event(steps.Event{Kind: steps.EventOutput, Step: "write-config", Host: "central1", Output: []string{line}})
		}
		r.Event(steps.Event{Kind: steps.EventStepDone, Index: 2, Step: "write-config", Elapsed: time.Second})
		return steps.Outcome{Status: steps.StatusDone}, nil
	}
}

// drive runs the model the way the program does (engine goroutine →
// bridge batches → the model) until the run ends, rendering a frame every
// 100 messages (about 1,000 frames for 100k lines), and returns every
// frame's time: the viewport refresh plus View.
//
// cpu holds the same frames' CPU time on the rendering thread (Linux
// CLOCK_THREAD_CPUTIME_ID), which leaves out the time other processes had the core:
// on a loaded 2-core machine wall-clock tails are mostly waiting for a CPU.
func drive(tb testing.TB, m *Model) (wall, cpu []time.Duration) {
	tb.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	wall = make([]time.Duration, 0, 1100)
	cpu = make([]time.Duration, 0, 1100)
	n := 0
	for !m.finished() {
		batch, _ := m.run.bridge.listen()().(batchMsg)
		for _, x := range batch {
			m.engine(x)
			if n++; n%100 == 0 || m.finished() {
				c := threadCPU()
				t := time.Now()
				m.run.refreshOutput()
				_ = m.View()
				wall = append(wall, time.Since(t))
				cpu = append(cpu, threadCPU()-c)
			}
		}
	}
	return wall, cpu
}

func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func newStreamModel(tb testing.TB) *Model {
	m := New(Config{Procedures: []*steps.Procedure{fakeProc()}, StateDir: tb.TempDir(), Run: streamRun(streamLines),
		Now: func() time.Time { return t0 }, NoSpinner: true, Getenv: func(string) string { return "" }})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.proc = fakeProc()
	m.answers = fakeAnswersValid()
	m.startRun(steps.RunConfig{Procedure: m.proc, Answers: m.answers})
	return m
}

func pct(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkRenderWith100kLines streams 100k output lines through the bridge
// into the run screen at 80x24, rendering a frame after every batch, and
// reports the p99 and max frame render time.
func BenchmarkRenderWith100kLines(b *testing.B) {
	var all, cpu []time.Duration
	for b.Loop() {
		m := newStreamModel(b)
		w, c := drive(b, m)
		all, cpu = append(all, w...), append(cpu, c...)
		m.run.bridge.Close()
	}
	b.ReportMetric(float64(pct(all, 0.99).Microseconds())/1000, "p99-ms/frame")
	b.ReportMetric(float64(pct(all, 0.50).Microseconds())/1000, "p50-ms/frame")
	b.ReportMetric(float64(pct(cpu, 0.99).Microseconds())/1000, "p99-cpu-ms/frame")
	b.ReportMetric(float64(len(all))/float64(b.N), "frames/op")
}

// TestPeakRSS100kLines streams 100k lines in a child process (so nothing
// else in the test binary counts) and checks its peak RSS (VmHWM) stays
// under 64 MiB; it logs the figure and the p99 frame time.
func TestPeakRSS100kLines(t *testing.T) {
	if os.Getenv("HAWIZ_RSS_CHILD") == "1" {
		m := newStreamModel(t)
		frames, cpu := drive(t, m)
		fmt.Printf("frames %d p50 %s p99 %s (cpu p99 %s) max %s lines-held %d dropped %d\n", len(frames), pct(frames, 0.5), pct(frames, 0.99), pct(cpu, 0.99), pct(frames, 1), m.run.out.Len(), m.run.out.Dropped())
		fmt.Printf("VmHWM %d\n", vmHWM(t))
		return
	}
	if testing.Short() {
		t.Skip("-short")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPeakRSS100kLines$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HAWIZ_RSS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var kb int
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM "); ok {
			kb, _ = strconv.Atoi(v)
		}
		if strings.HasPrefix(l, "frames ") {
			t.Log(l)
		}
	}
	if kb == 0 {
		t.Fatalf("no VmHWM from the child:\n%s", out)
	}
	t.Logf("peak RSS %.1f MiB with %d lines streamed", float64(kb)/1024, streamLines)
	if kb > 64*1024 {
		t.Errorf("peak RSS %.1f MiB > 64 MiB", float64(kb)/1024)
	}
}

func vmHWM(t *testing.T) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}
