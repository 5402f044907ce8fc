// Package sshtest is an in-process SSH server built on the server side of
// golang.org/x/crypto/ssh. It runs "exec" requests with the real local shell,
// so `go test` can exercise package remote over the real SSH protocol without
// any external daemon, and `hawiz demo` can stand in for real hosts.
//
// Behaviour, modelled on OpenSSH's sshd:
//   - ed25519 host key, deterministic when Config.HostKeySeed is set, and a
//     host certificate for it when Config.HostCertificate is set;
//   - public-key, password and keyboard-interactive (password) authentication;
//   - "env" and "exec" requests; the command runs as `Shell -c COMMAND` with
//     cwd = Root and HAWIZ_ROOT=Root, in its own process group;
//   - stdin/stdout/stderr, "exit-status", and "exit-signal" when the process was
//     killed by a signal;
//   - "signal" requests kill the whole process group (unless IgnoreSignals);
//   - a client closing a session channel does NOT kill the process (sshd does
//     not either); a connection that dies does, and so does Close;
//   - "direct-tcpip" channels, with AddrMap translating a requested
//     "host:port", PortFunc (dynamic) and PortMap (static) a requested port
//     to a real local address (demo stand-ins for services, names only the
//     host resolves);
//   - KillConnections drops every connection at once, for fault tests.
//
// Commands run as the current user. Tests that need sudo or systemctl put fake
// scripts first in PATH through Config.Env.
package sshtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/crypto/ssh"
)

// ExecRequest is one "exec" request, handed to Config.Exec when set.
type ExecRequest struct {
	User    string
	Command string
	Env     []string // "K=V" pairs sent with "env" requests
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// Signals delivers "signal" requests (name without "SIG", e.g. "KILL").
	Signals <-chan string
}

// Config configures a Server. The zero value (plus some way to authenticate)
// is usable.
type Config struct {
	HostKeySeed    []byte          // deterministic ed25519 host key (nil = random)
	ExtraHostKeys  []ssh.Signer    // more host keys offered besides the ed25519 one (e.g. ECDSA, as a real sshd has)
	AuthorizedKeys []ssh.PublicKey // public-key auth
	Password       string          // password auth when non-empty
	NoClientAuth   bool            // accept any client without authentication
	Root           string          // commands run with cwd=Root, env HAWIZ_ROOT=Root (default: os.TempDir())
	Shell          string          // default "/bin/sh"
	Env            []string        // extra "K=V" for every command (e.g. PATH with fake sudo first)
	PortMap        map[int]string  // direct-tcpip: requested port -> real "127.0.0.1:NNNN"
	IgnoreSignals  bool            // behave like an sshd that does not deliver "signal" requests
	// HostCertificate, when set, is called once by Start with the ed25519
	// host key and returns a certificate for it (signed by the caller's
	// CA). The server then offers the certificate besides the plain key, as
	// sshd with HostCertificate does: a client that asks for
	// ssh-ed25519-cert-v01@openssh.com gets the certificate.
	HostCertificate func(hostKey ssh.PublicKey) (*ssh.Certificate, error)
	// Exec, when set, replaces the local shell. It returns the exit status.
	// ctx is cancelled when the connection dies or the server closes.
	Exec func(ctx context.Context, req ExecRequest) int
	// Addr to listen on; default "127.0.0.1:0".
	Addr string
	// AddrMap, for direct-tcpip: requested "host:port" -> real address,
	// for names only this host can reach (a database on its private
	// network). Looked up before PortMap; other requests dial as asked.
	AddrMap map[string]string
	// PortFunc, for direct-tcpip: consulted after AddrMap and before PortMap
	// on every request, for services whose real port is known only once they
	// run (a stand-in that bound 127.0.0.1:0 and published its port). ok
	// false = not this func's port (PortMap, then dial as asked); ok with
	// addr "" = the service is down: the channel is refused, as a closed
	// port would be.
	PortFunc func(port int) (addr string, ok bool)
	// NoForwarding refuses every direct-tcpip channel as sshd with
	// AllowTcpForwarding no does: "administratively prohibited"
	// (ssh.Prohibited). Forwards counts the attempts either way.
	NoForwarding bool
}

// Server is a running in-process SSH server.
type Server struct {
	cfg     Config
	signer  ssh.Signer
	ln      net.Listener
	sshConf *ssh.ServerConfig

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[*ssh.ServerConn]map[int]struct{} // connection -> process groups it started
	closed bool

	accepted atomic.Int64
	execs    atomic.Int64
	forwards atomic.Int64
}

// Start starts a server listening on cfg.Addr (default 127.0.0.1:0).
func Start(cfg Config) (*Server, error) {
	var priv ed25519.PrivateKey
	if cfg.HostKeySeed != nil {
		seed := sha256.Sum256(cfg.HostKeySeed)
		priv = ed25519.NewKeyFromSeed(seed[:])
	} else {
		var err error
		if _, priv, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, err
		}
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	if cfg.Shell == "" {
		cfg.Shell = "/bin/sh"
	}
	if cfg.Root == "" {
		cfg.Root = os.TempDir()
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s := &Server{cfg: cfg, signer: signer, conns: map[*ssh.ServerConn]map[int]struct{}{}}
	sc := &ssh.ServerConfig{NoClientAuth: cfg.NoClientAuth}
	if len(cfg.AuthorizedKeys) > 0 {
		sc.PublicKeyCallback = func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range cfg.AuthorizedKeys {
				if string(k.Marshal()) == string(key.Marshal()) {
					return &ssh.Permissions{}, nil
				}
			}
			return nil, errors.New("sshtest: key not authorized")
		}
	}
	if cfg.Password != "" {
		sc.PasswordCallback = func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if string(pw) == cfg.Password {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("sshtest: wrong password")
		}
	}
	sc.AuthLogCallback = func(_ ssh.ConnMetadata, method string, err error) {
		if err == nil { // counted before the client learns it succeeded
			s.accepted.Add(1)
		}
	}
	for _, k := range cfg.ExtraHostKeys {
		sc.AddHostKey(k)
	}
	sc.AddHostKey(signer)
	if cfg.HostCertificate != nil {
		cert, err := cfg.HostCertificate(signer.PublicKey())
		if err != nil {
			return nil, fmt.Errorf("sshtest: host certificate: %w", err)
		}
		cs, err := ssh.NewCertSigner(cert, signer)
		if err != nil {
			return nil, fmt.Errorf("sshtest: host certificate: %w", err)
		}
		sc.AddHostKey(cs)
	}
	s.sshConf = sc

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr is the "host:port" the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host is the listening IP address as a string.
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port is the listening TCP port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// HostKey is the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.signer.PublicKey() }

// Root is the directory commands run in.
func (s *Server) Root() string { return s.cfg.Root }

// Accepted is the number of SSH connections that completed authentication.
func (s *Server) Accepted() int { return int(s.accepted.Load()) }

// Execs is the number of exec requests served.
func (s *Server) Execs() int { return int(s.execs.Load()) }

// Forwards returns how many direct-tcpip channels were asked for (refused
// ones included).
func (s *Server) Forwards() int { return int(s.forwards.Load()) }

// KillConnections drops every open connection at once (processes they
// started are killed), as a crashing or restarting sshd would. The server
// keeps accepting new connections.
func (s *Server) KillConnections() {
	s.mu.Lock()
	conns := make([]*ssh.ServerConn, 0, len(s.conns))
	var pgids []int
	for c, m := range s.conns {
		conns = append(conns, c)
		for pgid := range m {
			pgids = append(pgids, pgid)
		}
		delete(s.conns, c) // a process starting from now on is killed at once (track)
	}
	s.mu.Unlock()
	// Connections first, so no exit status reaches a client, as when sshd
	// dies; then the processes, before KillConnections returns.
	for _, c := range conns {
		c.Close()
	}
	for _, pgid := range pgids {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// Close stops the server, drops all connections, kills the processes they
// started and waits for every goroutine to finish.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.ln.Close()
	s.cancel()
	s.KillConnections()
	s.wg.Wait()
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go s.serveConn(nc)
	}
}

func (s *Server) serveConn(nc net.Conn) {
	defer s.wg.Done()
	conn, chans, reqs, err := ssh.NewServerConn(nc, s.sshConf)
	if err != nil {
		nc.Close()
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.conns[conn] = map[int]struct{}{}
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(s.ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ssh.DiscardRequests(reqs)
	}()
	s.wg.Add(1)
	go func() { // a dead connection kills what it started
		defer s.wg.Done()
		conn.Wait()
		cancel()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			ch, creqs, err := nch.Accept()
			if err != nil {
				continue
			}
			s.wg.Add(1)
			go s.session(ctx, conn, ch, creqs)
		case "direct-tcpip":
			s.directTCPIP(ctx, nch)
		default:
			nch.Reject(ssh.UnknownChannelType, "unsupported channel type")
		}
	}
	cancel()
	conn.Close()
}

func (s *Server) portFunc(port int) (string, bool) {
	if s.cfg.PortFunc == nil {
		return "", false
	}
	return s.cfg.PortFunc(port)
}

func (s *Server) directTCPIP(ctx context.Context, nch ssh.NewChannel) {
	s.forwards.Add(1)
	if s.cfg.NoForwarding {
		nch.Reject(ssh.Prohibited, "administratively prohibited")
		return
	}
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad direct-tcpip payload")
		return
	}
	target := net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))
	if m, ok := s.cfg.AddrMap[target]; ok {
		target = m
	} else if m, ok := s.portFunc(int(p.Port)); ok {
		if m == "" {
			nch.Reject(ssh.ConnectionFailed, fmt.Sprintf("connect to port %d: connection refused", p.Port))
			return
		}
		target = m
	} else if m, ok := s.cfg.PortMap[int(p.Port)]; ok {
		target = m
	}
	var d net.Dialer
	tc, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		tc.Close()
		return
	}
	s.wg.Add(3)
	go func() { defer s.wg.Done(); ssh.DiscardRequests(reqs) }()
	var once sync.Once
	closeBoth := func() { once.Do(func() { tc.Close(); ch.Close() }) }
	go func() {
		defer s.wg.Done()
		io.Copy(tc, ch)
		if cw, ok := tc.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}()
	go func() {
		defer s.wg.Done()
		io.Copy(ch, tc)
		ch.CloseWrite()
		closeBoth()
	}()
	s.wg.Add(1)
	go func() { // connection death ends the tunnel
		defer s.wg.Done()
		select {
		case <-ctx.Done():
		case <-s.ctx.Done():
		}
		closeBoth()
	}()
}

type envReq struct{ Name, Value string }

var signalNames = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE,
	"HUP": syscall.SIGHUP, "ILL": syscall.SIGILL, "INT": syscall.SIGINT,
	"KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE, "QUIT": syscall.SIGQUIT,
	"SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

func (s *Server) session(ctx context.Context, conn *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer s.wg.Done()
	var env []string
	sigs := make(chan string, 4)
	started := false
	done := make(chan struct{})
	for {
		var req *ssh.Request
		var ok bool
		select {
		case req, ok = <-reqs:
		case <-done:
			// process finished and channel closed; drain remaining requests
			for range reqs {
			}
			return
		}
		if !ok {
			if !started {
				ch.Close()
			} else {
				<-done
			}
			return
		}
		switch req.Type {
		case "env":
			var e envReq
			if ssh.Unmarshal(req.Payload, &e) == nil {
				env = append(env, e.Name+"="+e.Value)
				req.Reply(true, nil)
			} else {
				req.Reply(false, nil)
			}
		case "exec":
			var p struct{ Command string }
			if started || ssh.Unmarshal(req.Payload, &p) != nil {
				req.Reply(false, nil)
				continue
			}
			started = true
			req.Reply(true, nil)
			s.execs.Add(1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer close(done)
				s.runExec(ctx, conn, p.Command, env, ch, sigs)
			}()
		case "signal":
			var p struct{ Signal string }
			if ssh.Unmarshal(req.Payload, &p) == nil && started && !s.cfg.IgnoreSignals {
				select {
				case sigs <- p.Signal:
				default:
				}
			}
			if req.WantReply {
				req.Reply(false, nil) // OpenSSH never replies true
			}
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
}

func (s *Server) runExec(ctx context.Context, conn *ssh.ServerConn, command string, env []string, ch ssh.Channel, sigs chan string) {
	user := conn.User()
	defer ch.Close()
	if s.cfg.Exec != nil {
		ectx, cancel := context.WithCancel(ctx)
		defer cancel()
		code := s.cfg.Exec(ectx, ExecRequest{User: user, Command: command, Env: env,
			Stdin: ch, Stdout: ch, Stderr: ch.Stderr(), Signals: sigs})
		sendExitStatus(ch, code)
		return
	}
	cmd := exec.Command(s.cfg.Shell, "-c", command)
	cmd.Dir = s.cfg.Root
	cmd.Env = append(append(append(os.Environ(), "HAWIZ_ROOT="+s.cfg.Root), s.cfg.Env...), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "sshtest: %v\n", err)
		sendExitStatus(ch, 127)
		return
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(ch.Stderr(), "sshtest: %v\n", err)
		sendExitStatus(ch, 127)
		return
	}
	pgid := cmd.Process.Pid
	s.track(conn, pgid, true)
	defer s.track(conn, pgid, false)
	s.wg.Add(1)
	go func() { // ends when the channel or the pipe closes
		defer s.wg.Done()
		io.Copy(stdin, ch)
		stdin.Close()
	}()
	waitDone := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case name := <-sigs:
				if sig, ok := signalNames[name]; ok {
					syscall.Kill(-pgid, sig)
				}
			case <-ctx.Done(): // connection died or server closing
				syscall.Kill(-pgid, syscall.SIGKILL)
				return
			case <-waitDone:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(waitDone)
	stdin.Close()
	var ee *exec.ExitError
	switch {
	case err == nil:
		sendExitStatus(ch, 0)
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			name := "KILL"
			for n, v := range signalNames {
				if v == ws.Signal() {
					name = n
				}
			}
			ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
				Signal     string
				CoreDumped bool
				Msg, Lang  string
			}{name, false, "", ""}))
			return
		}
		sendExitStatus(ch, ee.ExitCode())
	default:
		fmt.Fprintf(ch.Stderr(), "sshtest: %v\n", err)
		sendExitStatus(ch, 255)
	}
}

func sendExitStatus(ch ssh.Channel, code int) {
	ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
}

func (s *Server) track(conn *ssh.ServerConn, pgid int, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.conns[conn]
	if !ok {
		if add { // the connection is already gone
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
		return
	}
	if add {
		m[pgid] = struct{}{}
	} else {
		delete(m, pgid)
	}
}
