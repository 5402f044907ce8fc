package tui

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

var testHostKeys = []remote.NewHostKey{
	{Host: "web1", Address: "10.0.0.1:22", KeyType: "ssh-ed25519", Fingerprint: "SHA256:one"},
	{Host: "web2", Address: "10.0.0.2:22", KeyType: "ssh-ed25519", Fingerprint: "SHA256:two"},
}

// TestLineOperatorPipe: without a terminal the LineOperator reads answers as
// lines from the pipe, takes no secret from it (ErrWaitingForOperator naming
// the variable, nothing consumed), and a cancelled prompt leaves nothing
// reading the pipe.
func TestLineOperatorPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var out bytes.Buffer
	op := NewLineOperator(r, &out)
	ctx := context.Background()

	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := op.Ask(cctx, "Name? "); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ask with an ended context: %v, want %v", err, context.DeadlineExceeded)
	}
	// Nothing of the operator's reads the pipe now: the next bytes are ours.
	if _, err := w.WriteString("direct\n"); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 64)
		n, _ := r.Read(b)
		got <- string(b[:n])
	}()
	select {
	case s := <-got:
		if s != "direct\n" {
			t.Fatalf("read after the cancelled prompt: %q", s)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a reader left behind by the cancelled prompt took the pipe's input")
	}

	if _, err := w.WriteString("y\n  n \nlast"); err != nil {
		t.Fatal(err)
	}
	acc, err := op.ConfirmHostKeys(ctx, testHostKeys)
	if err != nil || !acc["web1"] || !acc["web2"] {
		t.Fatalf("ConfirmHostKeys: %v %v", acc, err)
	}
	if _, err := op.Secret(ctx, steps.SecretKeyPassphrase, "SSH key passphrase"); !errors.Is(err, steps.ErrWaitingForOperator) || !strings.Contains(err.Error(), "HAWIZ_KEY_PASSPHRASE") {
		t.Fatalf("Secret without a terminal: %v", err)
	}
	if ok, err := op.Confirm(ctx, "Go on?", true); err != nil || ok {
		t.Fatalf("Confirm after the refused secret: %v %v, want the pipe's next line (n)", ok, err)
	}
	w.Close()
	if s, err := op.Ask(ctx, "Last? "); err != nil || s != "last" {
		t.Fatalf("Ask at the end of input: %q %v, want the unterminated last line", s, err)
	}
	if _, err := op.Ask(ctx, "More? "); !errors.Is(err, steps.ErrWaitingForOperator) {
		t.Fatalf("Ask after the end of input: %v", err)
	}
	for _, p := range []string{"Accept and record them all? [y/N] ", "Go on? [Y/n] ", "Last? ", "More? "} {
		if !strings.Contains(out.String(), p) {
			t.Errorf("prompt %q not written; out:\n%s", p, out.String())
		}
	}
}
