package tui

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

// accessibleConfig is the wizard on the engine's test procedure, with a Run
// that fails the test: the prompts must end the wizard before any run.
func accessibleConfig(t *testing.T) Config {
	return Config{Procedures: []*steps.Procedure{steptest.Procedure()}, StateDir: t.TempDir(), ToolVersion: "test",
		Getenv: func(string) string { return "" },
		Run: func(context.Context, steps.RunConfig) (steps.Outcome, error) {
			t.Error("the run started")
			return steps.Outcome{}, nil
		}}
}

type accessibleResult struct {
	code int
	err  error
}

func runAccessibleAsync(ctx context.Context, cfg Config, in *os.File, out *os.File) chan accessibleResult {
	c := make(chan accessibleResult, 1)
	go func() {
		code, err := RunAccessible(ctx, cfg, in, out)
		c <- accessibleResult{code, err}
	}()
	return c
}

func waitAccessible(t *testing.T, c chan accessibleResult, screen func() string) accessibleResult {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("the accessible wizard did not end; the screen:\n%s", screen())
		return accessibleResult{}
	}
}

// TestAccessibleInputEndsTheWizard: at huh's accessible prompts, the end of
// the input (Ctrl-D at a terminal, a closed pipe) and a cancelled context
// (Ctrl-C) end the wizard with exit 3 and nothing started; before, huh took
// the end of input as "keep the default" and went on (asking again forever or
// failing where there was none), and never saw the context.
func TestAccessibleInputEndsTheWizard(t *testing.T) {
	t.Run("Ctrl-D at the second prompt", func(t *testing.T) {
		p := openPTY(t)
		c := runAccessibleAsync(context.Background(), accessibleConfig(t), p.Slave, p.Slave)
		p.expect("enter the number 1")
		// a line for the first prompt, then VEOF at the start of a line: the
		// next prompt (whichever the form asks) finds the input's end
		p.typ("1\r\x04")
		r := waitAccessible(t, c, p.screen)
		if r.code != steps.ExitStopped || r.err == nil || !strings.Contains(r.err.Error(), "Ctrl-D") {
			t.Fatalf("Ctrl-D: exit %d, %v; want 3 and an error naming Ctrl-D", r.code, r.err)
		}
	})
	t.Run("Ctrl-C at the first select", func(t *testing.T) {
		p := openPTY(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := runAccessibleAsync(ctx, accessibleConfig(t), p.Slave, p.Slave)
		p.expect("enter the number 1")
		cancel() // what SIGINT does to the command's context
		r := waitAccessible(t, c, p.screen)
		if r.code != steps.ExitStopped || r.err == nil || !strings.Contains(r.err.Error(), "Ctrl-C") {
			t.Fatalf("Ctrl-C: exit %d, %v; want 3 and an error naming Ctrl-C", r.code, r.err)
		}
		// no read is left behind: the next line is the test's
		p.typ("mine\r")
		b := make([]byte, 64)
		n, err := p.Slave.Read(b)
		if err != nil || !strings.HasPrefix(string(b[:n]), "mine") {
			t.Fatalf("read after the wizard: %q %v", b[:n], err)
		}
	})
	t.Run("closed pipe", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		out, err := os.CreateTemp(t.TempDir(), "out")
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		if _, err := w.WriteString("1\n"); err != nil {
			t.Fatal(err)
		}
		w.Close()
		c := runAccessibleAsync(context.Background(), accessibleConfig(t), r, out)
		screen := func() string { b, _ := os.ReadFile(out.Name()); return string(b) }
		res := waitAccessible(t, c, screen)
		if res.code != steps.ExitStopped || res.err == nil || !strings.Contains(res.err.Error(), "Ctrl-D") {
			t.Fatalf("end of input: exit %d, %v; want 3 naming Ctrl-D; the output:\n%s", res.code, res.err, screen())
		}
	})
}
