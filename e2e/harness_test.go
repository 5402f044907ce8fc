//go:build e2e

package e2e

// The harness every e2e test that runs the hawiz binary shares: goBuild
// builds a package once per test binary; runHawiz runs hawiz and returns its
// combined output; hawizJSON runs it with --json and parses its events.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// goBuilt is one package built by goBuild.
type goBuilt struct {
	once sync.Once
	bin  string
	err  error
}

var goBuilds struct {
	mu sync.Mutex
	m  map[string]*goBuilt
}

// goBuild builds pkg (an import path) once per test binary, with env added
// to the environment, into a new temporary directory, and returns the
// binary's path. A failed build fails t (and every later caller).
func goBuild(t testing.TB, pkg string, env ...string) string {
	t.Helper()
	key := pkg + "\x00" + strings.Join(env, "\x00")
	goBuilds.mu.Lock()
	if goBuilds.m == nil {
		goBuilds.m = map[string]*goBuilt{}
	}
	b := goBuilds.m[key]
	if b == nil {
		b = &goBuilt{}
		goBuilds.m[key] = b
	}
	goBuilds.mu.Unlock()
	b.once.Do(func() {
		name := path.Base(pkg)
		dir, err := os.MkdirTemp("", "hawiz-e2e-"+name+"-")
		if err != nil {
			b.err = err
			return
		}
		b.bin = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", b.bin, pkg)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}

// buildHawiz is the hawiz binary, built once.
func buildHawiz(t testing.TB) string {
	t.Helper()
	return goBuild(t, "github.com/hawiz/hawiz/cmd/hawiz")
}

// runHawiz runs hawiz with args and stdin /dev/null (not a terminal), and
// returns its exit code and combined output.
func runHawiz(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(buildHawiz(t), args...)
	cmd.Stdin = nil // /dev/null: not a terminal
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// event is one line of hawiz --json (the fields the tests read; see
// steps.Event).
type event struct {
	Kind     string   `json:"kind"`
	Step     string   `json:"step"`
	Host     string   `json:"host"`
	Message  string   `json:"message"`
	Evidence string   `json:"evidence"`
	Output   []string `json:"output"`
	Status   string   `json:"status"`
}

// hawizJSON runs hawiz with args and --json, env added to the environment,
// and returns its exit code, its events (lines that are not JSON are
// skipped) and its stderr. onEvent (optional) sees every event and may
// return true to SIGKILL hawiz at once; a non-zero deadline SIGKILLs it at
// that instant (at once when it has passed). code is -9 when hawiz died of
// a SIGKILL.
func hawizJSON(t *testing.T, env []string, onEvent func(event) bool, deadline time.Time, args ...string) (int, []event, string) {
	t.Helper()
	cmd := exec.Command(buildHawiz(t), append(args, "--json")...)
	cmd.Env = append(os.Environ(), env...)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !deadline.IsZero() {
		timer := time.AfterFunc(time.Until(deadline), func() { cmd.Process.Signal(syscall.SIGKILL) })
		defer timer.Stop()
	}
	var evs []event
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	asked := false
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		evs = append(evs, e)
		if !asked && onEvent != nil && onEvent(e) {
			cmd.Process.Signal(syscall.SIGKILL)
			asked = true
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return -9, evs, errb.String()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), evs, errb.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, evs, errb.String()
}
