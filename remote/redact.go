package remote

import (
	"encoding/base64"
	"encoding/hex"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Redacted replaces every registered secret.
const Redacted = "[REDACTED]"

// Redactor replaces registered secrets, and their base64 and hex encodings,
// with [REDACTED]. It is safe for concurrent use; a nil *Redactor redacts
// nothing.
type Redactor struct {
	mu      sync.Mutex
	secrets map[string]struct{}
	r       atomic.Pointer[strings.Replacer]
}

// NewRedactor returns an empty Redactor.
func NewRedactor() *Redactor { return &Redactor{secrets: map[string]struct{}{}} }

// Add registers a secret (empty strings are ignored).
func (r *Redactor) Add(secret string) {
	if r == nil || secret == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secrets == nil {
		r.secrets = map[string]struct{}{}
	}
	forms := []string{
		secret,
		base64.StdEncoding.EncodeToString([]byte(secret)),
		base64.RawStdEncoding.EncodeToString([]byte(secret)),
		base64.URLEncoding.EncodeToString([]byte(secret)),
		base64.RawURLEncoding.EncodeToString([]byte(secret)),
		hex.EncodeToString([]byte(secret)),
		strings.ToUpper(hex.EncodeToString([]byte(secret))),
	}
	changed := false
	for _, f := range forms {
		if _, ok := r.secrets[f]; !ok {
			r.secrets[f] = struct{}{}
			changed = true
		}
	}
	if !changed {
		return
	}
	all := make([]string, 0, len(r.secrets))
	for s := range r.secrets {
		all = append(all, s)
	}
	// Longest first, so a secret containing another is replaced whole.
	sort.Slice(all, func(i, j int) bool {
		if len(all[i]) != len(all[j]) {
			return len(all[i]) > len(all[j])
		}
		return all[i] < all[j]
	})
	pairs := make([]string, 0, 2*len(all))
	for _, s := range all {
		pairs = append(pairs, s, Redacted)
	}
	r.r.Store(strings.NewReplacer(pairs...))
}

// Redact returns s with every registered secret replaced.
func (r *Redactor) Redact(s string) string {
	if r == nil || s == "" {
		return s
	}
	rep := r.r.Load()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// Empty reports whether no secret is registered.
func (r *Redactor) Empty() bool { return r == nil || r.r.Load() == nil }
