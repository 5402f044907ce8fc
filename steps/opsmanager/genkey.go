// genkey.go holds the gen.key helpers the key steps share: the hash every
// server's key must have, reading the cluster's key (never shown: registered
// with the redactor) and writing it to a server without ever overwriting a
// different key.

package opsmanager

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// registerKey makes sure the key bytes can never reach any output.
func registerKey(e *steps.Env, b []byte) {
	r := e.Redactor()
	r.Add(string(b))
	r.Add(hex.EncodeToString(b))
	r.Add(base64.StdEncoding.EncodeToString(b))
	r.Add(base64.RawStdEncoding.EncodeToString(b))
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func short(s string) string { return s[:min(16, len(s))] + "…" }

// wantKeySHA is the hash every server's gen.key must have: the recorded
// fact, else the first server's key.
func wantKeySHA(ctx context.Context, e *steps.Env, c *Common) (string, error) {
	if v, ok := e.Fact(factGenKeySHA); ok {
		return v, nil
	}
	first := c.Servers[0].Name
	l, err := resolveLayout(ctx, e, c, first)
	if err != nil {
		return "", err
	}
	h, err := e.Host(first)
	if err != nil {
		return "", err
	}
	fi, err := h.Stat(ctx, l.GenKey, l.Sudo)
	if err != nil {
		return "", err
	}
	if !fi.Exists {
		return "", nil
	}
	return fi.SHA256, nil
}

// keyMatches reports whether host's gen.key is the cluster's, 24 bytes,
// mode 0600 and owned by the service user.
func keyMatches(ctx context.Context, e *steps.Env, c *Common, host string) (bool, string, error) {
	want, err := wantKeySHA(ctx, e, c)
	if err != nil {
		return false, "", err
	}
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return false, "", err
	}
	h, err := e.Host(host)
	if err != nil {
		return false, "", err
	}
	fi, err := h.Stat(ctx, l.GenKey, l.Sudo)
	if err != nil {
		return false, "", err
	}
	if !fi.Exists {
		return false, fmt.Sprintf("%s: no gen.key at %s", host, l.GenKey), nil
	}
	ok := want != "" && fi.SHA256 == want && fi.Size == GenKeySize && fi.Mode.Perm() == 0o600 && fi.Owner == l.User
	return ok, fmt.Sprintf("%s: gen.key %d bytes, %s, %s, sha256 %s", host, fi.Size, fi.Owner, fi.Mode.Perm(), short(fi.SHA256)), nil
}

func keyVerify(ctx context.Context, e *steps.Env, c *Common, host string) (string, error) {
	ok, ev, err := keyMatches(ctx, e, c, host)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("gen.key on %s is not the cluster's key with size 24, mode 0600 and the service user as owner: %s", host, ev)
	}
	return ev, nil
}

// sourceKey returns the cluster's gen.key bytes, registered as a secret:
// from the first server that holds one matching the recorded hash, else
// (own-key modes) the local file or fresh random bytes.
func sourceKey(ctx context.Context, e *steps.Env, c *Common, mode, file string) ([]byte, error) {
	want, _ := e.Fact(factGenKeySHA)
	b, found, err := keyFromServers(ctx, e, c, mode, want)
	if err != nil || found {
		return b, err
	}
	switch mode {
	case GenKeyFile:
		return keyFromFile(e, file, want)
	case GenKeyGenerate:
		return newKey(e)
	}
	return nil, fmt.Errorf("no server holds the gen.key yet: start %s first (M2 step 5)", c.Servers[0].Name)
}

// keyFromServers reads the first server's gen.key whose hash is want. With
// no recorded hash (want "") in first-server mode, the first key found is
// the cluster's and its hash is recorded.
func keyFromServers(ctx context.Context, e *steps.Env, c *Common, mode, want string) ([]byte, bool, error) {
	for _, s := range c.Servers {
		l, err := resolveLayout(ctx, e, c, s.Name)
		if err != nil {
			return nil, false, err
		}
		h, err := e.Host(s.Name)
		if err != nil {
			return nil, false, err
		}
		fi, err := h.Stat(ctx, l.GenKey, l.Sudo)
		if err != nil {
			return nil, false, err
		}
		if !fi.Exists || (want != "" && fi.SHA256 != want) {
			continue
		}
		b, _, err := h.ReadFile(ctx, l.GenKey, l.Sudo)
		if err != nil {
			return nil, false, err
		}
		registerKey(e, b)
		if want == "" && mode == GenKeyFirst {
			want = sha(b)
			e.SetFact(factGenKeySHA, want)
		}
		if sha(b) == want {
			return b, true, nil
		}
	}
	return nil, false, nil
}

// keyFromFile reads gen_key.file (mode file), which must be the recorded
// key when one was recorded earlier in this run.
func keyFromFile(e *steps.Env, file, want string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("gen_key.file: %w", err)
	}
	registerKey(e, b)
	if len(b) != GenKeySize {
		return nil, fmt.Errorf("gen_key.file %s holds %d bytes; gen.key must be exactly %d bytes (M1)", file, len(b), GenKeySize)
	}
	if want != "" && sha(b) != want {
		return nil, &steps.RefusedError{Reason: fmt.Sprintf("gen_key.file %s is not the key recorded earlier in this run (sha256 %s)", file, short(want))}
	}
	e.SetFact(factGenKeySHA, sha(b))
	return b, nil
}

// newKey makes a fresh key (mode generate). It is called only when no
// server holds the key yet (none written, or interrupted before the first
// write): nothing can be encrypted with it, so a new one is safe.
func newKey(e *steps.Env) ([]byte, error) {
	b := make([]byte, GenKeySize)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	registerKey(e, b)
	e.SetFact(factGenKeySHA, sha(b))
	return b, nil
}

// writeKey puts key on host unless a different key is already there
// (overwriting a key that encrypts data would lose that data: refused).
func writeKey(ctx context.Context, e *steps.Env, c *Common, host string, key []byte) error {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return err
	}
	h, err := e.Host(host)
	if err != nil {
		return err
	}
	fi, err := h.Stat(ctx, l.GenKey, l.Sudo)
	if err != nil {
		return err
	}
	if fi.Exists && fi.SHA256 != sha(key) {
		return &steps.RefusedError{Reason: fmt.Sprintf("%s already has a different gen.key at %s (sha256 %s, the cluster's is %s); hawiz will not overwrite a key that may encrypt data. If that server never served this deployment, move the file away yourself and resume",
			host, l.GenKey, short(fi.SHA256), short(sha(key)))}
	}
	if _, err := h.Run(ctx, remote.Cmd{Program: "mkdir", Args: []string{"-p", filepath.Dir(l.GenKey)}, Sudo: l.Sudo, Timeout: time.Minute}); err != nil {
		return err
	}
	cas := "absent"
	if fi.Exists {
		cas = fi.SHA256
	}
	_, err = h.WriteFile(ctx, l.GenKey, key, remote.WriteOptions{Mode: 0o600, Owner: l.User, IfSHA256: cas, Sudo: l.Sudo, Secret: true})
	return err
}
