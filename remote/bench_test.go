package remote

// Latency of one remote command on a reused connection: hawiz's Run versus a
// bare x/crypto/ssh session (the floor).
//
//	go test -run '^$' -bench 'RunTrue|BareSession' -benchtime 2000x ./remote/
//
// Against a real sshd set HAWIZ_BENCH_ADDR (host:port), HAWIZ_BENCH_USER and
// HAWIZ_BENCH_KEY (private key file); otherwise an in-process sshtest server
// is used. The sudo variants need `sudo -n true` to work for that user (on
// sshtest they run only when a sudo binary is in PATH). Each benchmark
// reports median-ms and p95-ms besides ns/op.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

type benchTarget struct {
	addr, user string
	port       int
	signer     ssh.Signer
	keyFile    string
}

func benchSetup(b *testing.B) benchTarget {
	b.Helper()
	if addr := os.Getenv("HAWIZ_BENCH_ADDR"); addr != "" {
		keyFile := os.Getenv("HAWIZ_BENCH_KEY")
		raw, err := os.ReadFile(keyFile)
		if err != nil {
			b.Fatal(err)
		}
		s, err := ssh.ParsePrivateKey(raw)
		if err != nil {
			b.Fatal(err)
		}
		host, port, err := splitHostPort(addr)
		if err != nil {
			b.Fatal(err)
		}
		return benchTarget{addr: host, port: port, user: os.Getenv("HAWIZ_BENCH_USER"), signer: s, keyFile: keyFile}
	}
	l := newLab(b)
	s := l.server(nil)
	return benchTarget{addr: "127.0.0.1", port: s.Port(), user: "bench", signer: l.key.signer, keyFile: l.key.path}
}

func splitHostPort(a string) (string, int, error) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	return h, n, err
}

// report adds median and p95 latency metrics.
func report(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	b.ReportMetric(ms(d[len(d)/2]), "median-ms")
	b.ReportMetric(ms(d[(len(d)*95)/100]), "p95-ms")
}

func benchHawiz(b *testing.B, sudo bool) {
	tg := benchSetup(b)
	if sudo && os.Getenv("HAWIZ_BENCH_ADDR") == "" {
		if _, err := exec.LookPath("sudo"); err != nil {
			b.Skip("no sudo on this machine")
		}
	}
	red := NewRedactor()
	red.Add("a-registered-secret")
	var actions int
	opts := Options{SSHConfigFile: "none", AgentSocket: "none", InsecureIgnoreHostKeysForTests: true,
		Redactor: red, Transcript: func(Action) { actions++ },
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	f, err := Connect(context.Background(), opts, []HostConfig{{Name: "bench", Address: tg.addr, Port: tg.port, User: tg.user,
		IdentityFiles: []string{tg.keyFile}}})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := f.Host("bench")
	ctx, cancel := context.WithCancel(context.Background()) // as the engine calls it: cancellable
	defer cancel()
	c := Cmd{Program: "true", Sudo: sudo}
	if _, err := h.Run(ctx, c); err != nil { // warm up
		b.Fatal(err)
	}
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		res, err := h.Run(ctx, c)
		d = append(d, time.Since(t0))
		if err != nil || res.ExitStatus != 0 {
			b.Fatal(err, res.ExitStatus, string(res.Stderr))
		}
	}
	b.StopTimer()
	report(b, d)
}

func benchBare(b *testing.B, cmd string) {
	tg := benchSetup(b)
	cl, err := ssh.Dial("tcp", net.JoinHostPort(tg.addr, strconv.Itoa(tg.port)), &ssh.ClientConfig{User: tg.user,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(tg.signer)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	run := func() error {
		s, err := cl.NewSession()
		if err != nil {
			return err
		}
		defer s.Close()
		return s.Run(cmd)
	}
	if err := run(); err != nil {
		b.Skip("floor command fails here: ", err)
	}
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		err := run()
		d = append(d, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report(b, d)
}

func BenchmarkRunTrue(b *testing.B)             { benchHawiz(b, false) }
func BenchmarkBareSessionTrue(b *testing.B)     { benchBare(b, "true") }
func BenchmarkRunSudoTrue(b *testing.B)         { benchHawiz(b, true) }
func BenchmarkBareSessionSudoTrue(b *testing.B) { benchBare(b, "sudo -n true") }
