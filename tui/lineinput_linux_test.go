package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hawiz/hawiz/steps"
)

// pty is a pseudo-terminal: the operator uses Slave as its terminal (In and
// Out), the test types on Master and reads the screen from it.
type pty struct {
	t      *testing.T
	Master *os.File
	Slave  *os.File

	mu   sync.Mutex
	out  []byte
	seen int // expect's position in out
}

func openPTY(t *testing.T) *pty {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	// The master stays non-blocking (no Fd()), so Close ends the screen reader.
	rc, err := m.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n uint32
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr == nil {
			n, ierr = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN)
		}
	}); err != nil || ierr != nil {
		m.Close()
		t.Fatalf("unlockpt/ptsname: %v %v", err, ierr)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	p := &pty{t: t, Master: m, Slave: s}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			n, err := m.Read(b)
			p.mu.Lock()
			p.out = append(p.out, b[:n]...)
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		s.Close()
		m.Close()
		<-done
	})
	return p
}

func (p *pty) screen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.out)
}

// expect waits until s appears on the screen after what earlier expects saw.
func (p *pty) expect(s string) {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		i := strings.Index(string(p.out[p.seen:]), s)
		if i >= 0 {
			p.seen += i + len(s)
		}
		p.mu.Unlock()
		if i >= 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.t.Fatalf("%q not on the screen within 5s; the screen:\n%s", s, p.screen())
}

func (p *pty) typ(s string) {
	p.t.Helper()
	if _, err := p.Master.WriteString(s); err != nil {
		p.t.Fatal(err)
	}
}

func (p *pty) termios() unix.Termios {
	p.t.Helper()
	tio, err := unix.IoctlGetTermios(int(p.Slave.Fd()), unix.TCGETS)
	if err != nil {
		p.t.Fatal(err)
	}
	return *tio
}

func sameMode(a, b unix.Termios) bool {
	return a.Iflag == b.Iflag && a.Oflag == b.Oflag && a.Cflag == b.Cflag && a.Lflag == b.Lflag && a.Cc == b.Cc
}

// TestLineOperatorHostKeysThenSecretsOnPTY is the interactive run's order on a
// terminal: the host-key confirmation, the key passphrase, the sudo password,
// then a plain question. Every answer reaches its prompt, neither secret is
// echoed, echo is off while a secret prompt is up, and the terminal ends in
// the mode it started in.
func TestLineOperatorHostKeysThenSecretsOnPTY(t *testing.T) {
	p := openPTY(t)
	before := p.termios()
	op := NewLineOperator(p.Slave, p.Slave)
	const passphrase, sudoPW = "pass phrase 4 key!", "Sudo-Pw-7391"

	type result struct {
		accepted   map[string]bool
		pass, sudo string
		goOn       bool
		err        error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		ctx := context.Background()
		defer func() { done <- r }()
		if r.accepted, r.err = op.ConfirmHostKeys(ctx, testHostKeys); r.err != nil {
			return
		}
		if r.pass, r.err = op.Secret(ctx, steps.SecretKeyPassphrase, "SSH key passphrase"); r.err != nil {
			return
		}
		if r.sudo, r.err = op.Secret(ctx, steps.SecretSudoPassword, "sudo password"); r.err != nil {
			return
		}
		r.goOn, r.err = op.Confirm(ctx, "Go on?", false)
	}()

	p.expect("Accept and record them all? [y/N] ")
	p.typ("y\r")
	p.expect("SSH key passphrase: ")
	if tio := p.termios(); tio.Lflag&unix.ECHO != 0 {
		t.Error("echo is on while the passphrase prompt is up")
	}
	p.typ(passphrase)
	time.Sleep(50 * time.Millisecond)
	p.typ("\r")
	p.expect("sudo password: ")
	if tio := p.termios(); tio.Lflag&unix.ECHO != 0 {
		t.Error("echo is on while the sudo password prompt is up")
	}
	p.typ(sudoPW + "\r")
	p.expect("Go on? [y/N] ")
	p.typ("yes\r")
	p.expect("yes") // echo is back for plain answers

	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("the prompts did not all get their answers; the screen:\n%s", p.screen())
	}
	if r.err != nil {
		t.Fatalf("error: %v; the screen:\n%s", r.err, p.screen())
	}
	if !r.accepted["web1"] || !r.accepted["web2"] {
		t.Errorf("host keys accepted: %v, want both", r.accepted)
	}
	if r.pass != passphrase {
		t.Errorf("passphrase: %q, want %q", r.pass, passphrase)
	}
	if r.sudo != sudoPW {
		t.Errorf("sudo password: %q, want %q", r.sudo, sudoPW)
	}
	if !r.goOn {
		t.Error("Go on? answered yes, got false")
	}
	scr := p.screen()
	for _, s := range []string{passphrase, sudoPW} {
		if strings.Contains(scr, s) {
			t.Errorf("secret %q echoed; the screen:\n%s", s, scr)
		}
	}
	if after := p.termios(); !sameMode(before, after) {
		t.Errorf("terminal mode not restored:\nbefore %+v\nafter  %+v", before, after)
	}
}

// TestLineOperatorCancelledPromptsOnPTY: a cancelled plain prompt leaves no
// reader behind (the next secret gets the next line), a line typed with echo
// on before a secret prompt is not taken as the secret, and a secret prompt
// cancelled while being typed restores the terminal and hands none of the
// half-typed secret to the next prompt.
func TestLineOperatorCancelledPromptsOnPTY(t *testing.T) {
	p := openPTY(t)
	before := p.termios()
	op := NewLineOperator(p.Slave, p.Slave)
	bg := context.Background()

	type answer struct {
		s   string
		err error
	}
	async := func(f func() (string, error)) chan answer {
		c := make(chan answer, 1)
		go func() {
			s, err := f()
			c <- answer{s, err}
		}()
		return c
	}
	wait := func(what string, c chan answer) answer {
		t.Helper()
		select {
		case a := <-c:
			return a
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no answer within 5s; the screen:\n%s", what, p.screen())
			return answer{}
		}
	}

	ctx1, cancel1 := context.WithCancel(bg)
	c := async(func() (string, error) { return op.Ask(ctx1, "Name? ") })
	p.expect("Name? ")
	cancel1()
	if a := wait("cancelled Ask", c); !errors.Is(a.err, context.Canceled) {
		t.Fatalf("cancelled Ask: %q %v", a.s, a.err)
	}

	// Typed while no prompt is up, with echo on: never a secret.
	p.typ("stale\r")
	p.expect("stale")
	c = async(func() (string, error) { return op.Secret(bg, steps.SecretSudoPassword, "sudo password") })
	p.expect("sudo password: ")
	p.typ("s3cret-one\r")
	if a := wait("Secret after the cancelled Ask", c); a.err != nil || a.s != "s3cret-one" {
		t.Fatalf("Secret after a cancelled Ask and a stale line: %q %v, want the line typed at its prompt", a.s, a.err)
	}

	ctx2, cancel2 := context.WithCancel(bg)
	c = async(func() (string, error) { return op.Secret(ctx2, steps.SecretKeyPassphrase, "SSH key passphrase") })
	p.expect("SSH key passphrase: ")
	p.typ("half-typed")
	time.Sleep(50 * time.Millisecond)
	cancel2()
	if a := wait("cancelled Secret", c); !errors.Is(a.err, context.Canceled) {
		t.Fatalf("cancelled Secret: %q %v", a.s, a.err)
	}
	if after := p.termios(); !sameMode(before, after) {
		t.Errorf("terminal mode not restored after the cancelled secret:\nbefore %+v\nafter  %+v", before, after)
	}

	c = async(func() (string, error) { return op.Ask(bg, "Colour? ") })
	p.expect("Colour? ")
	p.typ("blue\r")
	if a := wait("Ask after the cancelled Secret", c); a.err != nil || a.s != "blue" {
		t.Fatalf("Ask after the cancelled Secret: %q %v, want blue", a.s, a.err)
	}
	p.expect("blue")
	scr := p.screen()
	for _, s := range []string{"s3cret-one", "half-typed"} {
		if strings.Contains(scr, s) {
			t.Errorf("secret %q echoed; the screen:\n%s", s, scr)
		}
	}
}
