package remote

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keyCache loads identity files once per Fleet and asks for an encrypted
// key's passphrase at most once, and only when a server would accept the key.
type keyCache struct {
	passphrase func(string) ([]byte, error)
	busy       atomic.Int32 // > 0 while a passphrase is asked or a key decrypted
	mu         sync.Mutex
	entries    map[string]*keyEntry
}

type keyEntry struct {
	path    string
	load    sync.Once
	signer  ssh.Signer // nil when missing or not parseable
	loadErr error
	missing bool

	// encrypted keys
	pub      ssh.PublicKey
	raw      []byte
	decrypt  sync.Once
	real     ssh.Signer
	decErr   error
	askedFor func(string) ([]byte, error)
	busy     *atomic.Int32
}

func newKeyCache(p func(string) ([]byte, error)) *keyCache {
	return &keyCache{passphrase: p, entries: map[string]*keyEntry{}}
}

func (k *keyCache) get(path string) *keyEntry {
	k.mu.Lock()
	e, ok := k.entries[path]
	if !ok {
		e = &keyEntry{path: path, askedFor: k.passphrase, busy: &k.busy}
		k.entries[path] = e
	}
	k.mu.Unlock()
	e.load.Do(e.doLoad)
	return e
}

func (e *keyEntry) doLoad() {
	raw, err := os.ReadFile(e.path)
	if err != nil {
		e.missing = os.IsNotExist(err)
		e.loadErr = err
		return
	}
	s, err := ssh.ParsePrivateKey(raw)
	if err == nil {
		e.signer = s
		return
	}
	var pm *ssh.PassphraseMissingError
	if !errors.As(err, &pm) {
		e.loadErr = fmt.Errorf("identity file %s: %w", e.path, err)
		return
	}
	e.raw = raw
	e.pub = pm.PublicKey
	if e.pub == nil { // PEM-encrypted: the public half is only in KEY.pub
		if b, err := os.ReadFile(e.path + ".pub"); err == nil {
			if pk, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil {
				e.pub = pk
			}
		}
	}
	if e.pub == nil { // no way to know the public key: decrypt now
		real, err := e.decrypted()
		if err != nil {
			e.loadErr = err
			return
		}
		e.signer = real
		return
	}
	e.signer = &lazySigner{e: e}
}

// decrypted asks for the passphrase once and caches the outcome.
func (e *keyEntry) decrypted() (ssh.Signer, error) {
	e.busy.Add(1) // waiting for another dial's prompt counts too
	defer e.busy.Add(-1)
	e.decrypt.Do(func() {
		if e.askedFor == nil {
			e.decErr = fmt.Errorf("identity file %s is encrypted and no passphrase source is configured", e.path)
			return
		}
		pw, err := e.askedFor(e.path)
		if err != nil {
			e.decErr = fmt.Errorf("identity file %s: passphrase: %w", e.path, err)
			return
		}
		s, err := ssh.ParsePrivateKeyWithPassphrase(e.raw, pw)
		clear(pw)
		if err != nil {
			e.decErr = fmt.Errorf("identity file %s: %w", e.path, err)
			return
		}
		e.real = s
	})
	return e.real, e.decErr
}

// lazySigner offers an encrypted key's public half; the passphrase is asked
// only when the server accepts the key and a signature is needed (as OpenSSH
// does).
type lazySigner struct{ e *keyEntry }

func (l *lazySigner) PublicKey() ssh.PublicKey { return l.e.pub }

func (l *lazySigner) Sign(r io.Reader, data []byte) (*ssh.Signature, error) {
	s, err := l.e.decrypted()
	if err != nil {
		return nil, err
	}
	return s.Sign(r, data)
}

func (l *lazySigner) SignWithAlgorithm(r io.Reader, data []byte, alg string) (*ssh.Signature, error) {
	s, err := l.e.decrypted()
	if err != nil {
		return nil, err
	}
	as, ok := s.(ssh.AlgorithmSigner)
	if !ok {
		return s.Sign(r, data)
	}
	return as.SignWithAlgorithm(r, data, alg)
}

// authMethods builds the methods for t: agent keys, identity files (deduped
// against the agent), then password and keyboard-interactive when a password
// is set. The returned closer releases the agent connection.
func (f *Fleet) authMethods(t *target) ([]ssh.AuthMethod, func(), error) {
	// Order as OpenSSH: the identity files first (signed by the agent when
	// it holds that key, so an encrypted file needs no passphrase), then
	// the agent's other keys unless IdentitiesOnly.
	var agentSigners []ssh.Signer
	byKey := map[string]ssh.Signer{}
	closer := func() {}
	if sock := f.agentSocket(); sock != "" {
		if c, err := net.Dial("unix", sock); err == nil {
			closer = func() { c.Close() }
			if ss, err := agent.NewClient(c).Signers(); err == nil {
				for _, s := range ss {
					k := string(s.PublicKey().Marshal())
					if _, dup := byKey[k]; !dup {
						byKey[k] = s
						agentSigners = append(agentSigners, s)
					}
				}
			}
		} else {
			f.debug("ssh agent unavailable", "socket", sock, "err", err)
		}
	}
	var signers []ssh.Signer
	seen := map[string]bool{}
	for _, p := range t.idFiles {
		e := f.keys.get(p)
		if e.loadErr != nil {
			if e.missing {
				if t.idExplicit {
					f.debug("identity file missing", "host", t.display, "file", p)
				}
				continue
			}
			closer()
			return nil, func() {}, e.loadErr
		}
		k := string(e.signer.PublicKey().Marshal())
		if seen[k] {
			continue
		}
		seen[k] = true
		if as, ok := byKey[k]; ok {
			signers = append(signers, as)
		} else {
			signers = append(signers, e.signer)
		}
	}
	if !t.identitiesOnly {
		for _, s := range agentSigners {
			k := string(s.PublicKey().Marshal())
			if !seen[k] {
				seen[k] = true
				signers = append(signers, s)
			}
		}
	}
	var methods []ssh.AuthMethod
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if t.password != "" {
		pw := t.password
		methods = append(methods, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, qs []string, echos []bool) ([]string, error) {
				ans := make([]string, len(qs))
				for i := range qs {
					if !echos[i] {
						ans[i] = pw
					}
				}
				return ans, nil
			}))
	}
	if len(methods) == 0 {
		closer()
		return nil, func() {}, fmt.Errorf("no authentication method: no agent key, no identity file, no password")
	}
	return methods, closer, nil
}

func (f *Fleet) agentSocket() string {
	s := f.opts.AgentSocket
	if s == "none" {
		return ""
	}
	if s == "" {
		s = os.Getenv("SSH_AUTH_SOCK")
	}
	return s
}
