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
	"strings"
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
	h, l, err := layoutHost(ctx, e, c, first)
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
	h, l, err := layoutHost(ctx, e, c, host)
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
	group, err := serviceGroup(ctx, e, h, l)
	if err != nil {
		return false, "", err
	}
	ok := want != "" && fi.SHA256 == want && fi.Size == GenKeySize && fi.Mode.Perm() == 0o600 && fi.Owner == l.User && fi.Group == group
	return ok, fmt.Sprintf("%s: gen.key %d bytes, %s:%s, %s, sha256 %s", host, fi.Size, fi.Owner, fi.Group, fi.Mode.Perm(), short(fi.SHA256)), nil
}

// serviceGroup is the service user's primary group: the group Ops Manager
// gives the gen.key it creates (the package's mongodb-mms:mongodb-mms, M9,
// M24), so the one a key hawiz copies gets. Cached as a fact.
func serviceGroup(ctx context.Context, e *steps.Env, h *remote.Host, l layout) (string, error) {
	if v, ok := e.Fact(factKey(l.Name, "group")); ok && v != "" {
		return v, nil
	}
	res, err := h.Run(ctx, remote.Cmd{Program: "id", Args: []string{"-gn", "--", l.User}, Timeout: 30 * time.Second})
	if err != nil {
		return "", err
	}
	g := strings.TrimSpace(string(res.Stdout))
	if res.ExitStatus != 0 || g == "" || strings.ContainsAny(g, " \t\n:") {
		return "", fmt.Errorf("%s: no primary group for the service user %q (id -gn: exit %d %s)", h.Name(), l.User, res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
	}
	e.SetFact(factKey(l.Name, "group"), g)
	return g, nil
}

// serverKey is what a server holds at its gen.key path (never the bytes).
type serverKey struct {
	name, path string
	fi         remote.FileInfo
}

// scanKeys stats every server's gen.key at once: size and SHA-256 (the
// hash is computed on the server; the bytes never travel).
func scanKeys(ctx context.Context, e *steps.Env, c *Common) ([]serverKey, error) {
	names := c.serverNames()
	keys := make([]serverKey, len(names))
	_, err := forEachServer(ctx, names, func(ctx context.Context, name string) (string, error) {
		h, l, err := layoutHost(ctx, e, c, name)
		if err != nil {
			return "", err
		}
		fi, err := h.Stat(ctx, l.GenKey, l.Sudo)
		if err != nil {
			return "", err
		}
		keys[indexOf(names, name)] = serverKey{name: name, path: l.GenKey, fi: fi}
		return "", nil
	})
	return keys, err
}

// deploymentKey is the hash of the key the deployment already uses: the
// one every server that holds a gen.key holds (and the one recorded earlier
// in this run, if any), whatever gen_key.mode says; "" when no server holds
// one and none is recorded. Two different keys, or a key that is not 24
// bytes, are refused, naming the servers: hawiz never picks one of two keys
// that may each encrypt data. The hash found is recorded.
func deploymentKey(ctx context.Context, e *steps.Env, c *Common) (string, []serverKey, error) {
	keys, err := scanKeys(ctx, e, c)
	if err != nil {
		return "", nil, err
	}
	want, _ := e.Fact(factGenKeySHA)
	byHash := map[string][]string{}
	var order []string
	for _, k := range keys {
		if !k.fi.Exists {
			continue
		}
		if k.fi.Size != GenKeySize {
			return "", keys, &steps.RefusedError{Reason: fmt.Sprintf("%s: gen.key at %s is %d bytes, not %d ("+refGenKey.String()+"); hawiz will not start or copy around a key Ops Manager cannot use: fix it on that server and run again", k.name, k.path, k.fi.Size, GenKeySize)}
		}
		if _, ok := byHash[k.fi.SHA256]; !ok {
			order = append(order, k.fi.SHA256)
		}
		byHash[k.fi.SHA256] = append(byHash[k.fi.SHA256], k.name)
	}
	if len(order) > 1 {
		var parts []string
		for _, h := range order {
			parts = append(parts, fmt.Sprintf("%s (sha256 %s)", strings.Join(byHash[h], ", "), short(h)))
		}
		return "", keys, &steps.RefusedError{Reason: fmt.Sprintf("the servers hold different gen.key files: %s; every server must hold the same key ("+refGenKey.String()+"), and each may encrypt data: hawiz will not choose. Keep the deployment's key, move the other away yourself, and run again; nothing was changed", strings.Join(parts, "; "))}
	}
	if len(order) == 1 {
		if want != "" && want != order[0] {
			return "", keys, &steps.RefusedError{Reason: fmt.Sprintf("%s hold(s) a gen.key (sha256 %s) that is not the key recorded earlier in this run (sha256 %s); hawiz will not go on with two keys", strings.Join(byHash[order[0]], ", "), short(order[0]), short(want))}
		}
		want = order[0]
		e.SetFact(factGenKeySHA, want)
	}
	return want, keys, nil
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
	return nil, fmt.Errorf("no server holds the gen.key yet: start %s first ("+refStartFirstStep.String()+")", c.Servers[0].Name)
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
		return nil, fmt.Errorf("gen_key.file %s holds %d bytes; gen.key must be exactly %d bytes ("+refGenKey.String()+")", file, len(b), GenKeySize)
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
// (overwriting a key that encrypts data would lose that data: refused):
// mode 0600, owned by the service user and its primary group, as Ops
// Manager owns the key it creates (M1, M9, M24).
func writeKey(ctx context.Context, e *steps.Env, c *Common, host string, key []byte) error {
	h, l, err := layoutHost(ctx, e, c, host)
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
	group, err := serviceGroup(ctx, e, h, l)
	if err != nil {
		return err
	}
	_, err = h.WriteFile(ctx, l.GenKey, key, remote.WriteOptions{Mode: 0o600, Owner: l.User, Group: group, IfSHA256: cas, Sudo: l.Sudo, Secret: true})
	return err
}
