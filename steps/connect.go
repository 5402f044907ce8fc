package steps

// Connecting: the up-front secrets, the SSH connections to every host of
// the answers, and the sudo check, before the first step.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
)

func (r *runner) sshAnswers() *SSHAnswers { return sshAnswersOf(r.answers) }

// connect asks the up-front secrets and connects every host.
func (r *runner) connect(ctx context.Context, e *Env) (*remote.Fleet, error) {
	hosts := HostConfigs(r.answers)
	if len(hosts) == 0 {
		return nil, nil
	}
	if err := r.checkHosts(); err != nil {
		return nil, err // before any secret is asked
	}
	sa := r.sshAnswers()
	var sshPW, sudoPW string
	var err error
	if sa.Password {
		if sshPW, err = e.Secret(SecretSSHPassword); err != nil {
			return nil, err
		}
	}
	if sa.Sudo == SudoPassword {
		if sudoPW, err = e.Secret(SecretSudoPassword); err != nil {
			return nil, err
		}
	}
	for i := range hosts {
		if hosts[i].Password == "" {
			hosts[i].Password = sshPW
		}
		if hosts[i].SudoPassword == "" {
			hosts[i].SudoPassword = sudoPW
		}
	}
	opts := r.sshOptions()
	opts.Redactor = r.redactor
	opts.Logger = r.logger
	opts.Transcript = r.onAction
	opts.ConfirmHostKeys = r.op.ConfirmHostKeys
	opts.Passphrase = func(string) ([]byte, error) {
		s, err := e.Secret(SecretKeyPassphrase)
		return []byte(s), err
	}
	start := time.Now()
	fleet, err := remote.Connect(ctx, opts, hosts)
	if err != nil {
		return nil, err
	}
	for _, h := range fleet.Hosts() {
		msg := "connected to " + h.Address()
		if via := h.Via(); len(via) > 0 {
			msg += " via ProxyJump " + strings.Join(via, " → ")
		}
		r.emit(Event{Kind: EventConnect, Host: h.Name(), Message: msg})
	}
	if sa.Sudo != SudoNone {
		if err := fleet.CheckSudo(ctx); err != nil {
			fleet.Close()
			return nil, fmt.Errorf("sudo check: %w", err)
		}
		e.mu.Lock()
		e.sudoChecked = true
		e.mu.Unlock()
	}
	r.recordHostKeys(fleet)
	r.emit(Event{Kind: EventConnect, Message: fmt.Sprintf("connected to %d host(s)", len(fleet.Hosts())), Elapsed: time.Since(start)})
	return fleet, nil
}

// classify turns an error before the steps into the right exit code.
func classifyConnect(err error) error {
	var hk *remote.HostKeyChangedError
	var ce *remote.HostCertError
	if errors.As(err, &hk) || errors.As(err, &ce) {
		return &RefusedError{Reason: "refused", Err: err}
	}
	return err
}
