package remote

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/gofrs/flock"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// errUnknownRecorded aborts a handshake whose host key was recorded for the
// batch confirmation.
var errUnknownRecorded = errors.New("host key not known yet (recorded for confirmation)")

// UnknownHostKeyError is returned for a host whose key is not in known_hosts
// and was not accepted.
type UnknownHostKeyError struct {
	Host, Address, KeyType, Fingerprint string
	Refused                             bool // the operator declined it
}

func (e *UnknownHostKeyError) Error() string {
	if e.Refused {
		return fmt.Sprintf("host %s: host key for %s (%s %s) was not accepted", e.Host, e.Address, e.KeyType, e.Fingerprint)
	}
	return fmt.Sprintf("host %s: host key for %s (%s %s) is not in known_hosts", e.Host, e.Address, e.KeyType, e.Fingerprint)
}

func knownHostsName(addr string) string { return knownhosts.Normalize(addr) }

// unknownKey is a recorded unknown key with where it would be written.
type unknownKey struct {
	NewHostKey
	key  ssh.PublicKey
	file string
}

// recorder collects unknown host keys during the first dial round.
type recorder struct {
	mu   sync.Mutex
	keys map[string]*unknownKey // by address + key
	by   map[string][]string    // fleet host name -> recorded key ids
}

func newRecorder() *recorder {
	return &recorder{keys: map[string]*unknownKey{}, by: map[string][]string{}}
}

func (r *recorder) add(owner string, t *target, hostname string, key ssh.PublicKey) {
	id := hostname + " " + string(key.Marshal())
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.keys[id]; !ok {
		file := ""
		if len(t.knownHosts) > 0 {
			file = t.knownHosts[0]
		}
		r.keys[id] = &unknownKey{NewHostKey: NewHostKey{Host: t.display, Address: hostname,
			KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key)}, key: key, file: file}
	}
	r.by[owner] = append(r.by[owner], id)
}

func (r *recorder) list() []NewHostKey {
	out := make([]NewHostKey, 0, len(r.keys))
	for _, k := range r.keys {
		out = append(out, k.NewHostKey)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Host != out[j].Host {
			return out[i].Host < out[j].Host
		}
		return out[i].Address < out[j].Address
	})
	return out
}

func existingFiles(files []string) []string {
	var out []string
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && !st.IsDir() {
			out = append(out, f)
		}
	}
	return out
}

// hostKeyCallback checks t's key against its known_hosts files. Unknown keys
// are recorded (rec != nil) and abort the handshake, or fail with
// *UnknownHostKeyError; a changed key fails with *HostKeyChangedError.
func (f *Fleet) hostKeyCallback(owner string, t *target, rec *recorder) ssh.HostKeyCallback {
	if f.opts.InsecureIgnoreHostKeysForTests {
		return func(string, net.Addr, ssh.PublicKey) error { return nil }
	}
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		if f.acceptedThisRun(hostname, key) {
			return nil // accepted by the operator in this Connect (even if known_hosts is /dev/null)
		}
		err := checkKnown(t.knownHosts, hostname, remote, key)
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) {
			return err
		}
		if len(ke.Want) == 0 {
			if rec != nil {
				rec.add(owner, t, hostname, key)
				return errUnknownRecorded
			}
			return &UnknownHostKeyError{Host: t.display, Address: hostname, KeyType: key.Type(),
				Fingerprint: ssh.FingerprintSHA256(key)}
		}
		w := ke.Want[0]
		for _, k := range ke.Want {
			if k.Key.Type() == key.Type() {
				w = k
			}
		}
		return &HostKeyChangedError{Host: t.display, Address: hostname, KnownHostsFile: w.Filename,
			Line: w.Line, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key)}
	}
}

func checkKnown(files []string, hostname string, remote net.Addr, key ssh.PublicKey) error {
	ex := existingFiles(files)
	if len(ex) == 0 {
		return &knownhosts.KeyError{}
	}
	cb, err := knownhosts.New(ex...)
	if err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	return cb(hostname, remote, key)
}

// probeKey is a throwaway key used to list the key types known for a host.
func probeKey() ssh.PublicKey {
	pk, _ := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	return pk
}

// openSSHHostKeyOrder is OpenSSH's default HostKeyAlgorithms preference
// (ssh_config(5), without certificates and the FIDO sk- types): ed25519,
// then ECDSA, then RSA with SHA-2. ssh-rsa (SHA-1) is off, as in OpenSSH 8.8+.
var openSSHHostKeyOrder = [...]string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
}

// knownAlgorithms returns the host key algorithms to negotiate with a host:
// for a known host the types recorded for it, so a server with several host
// keys presents the one we know; for an unknown host OpenSSH's default order,
// so the key the operator is asked to confirm is the one `ssh` would show
// (the server's ed25519 key when it has one; x/crypto's own order would
// pick ECDSA first), as OpenSSH does.
func knownAlgorithms(files []string, hostname string) []string {
	err := checkKnown(files, hostname, &net.TCPAddr{IP: net.IPv4zero}, probeKey())
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return openSSHHostKeyOrder[:]
	}
	var algs []string
	for _, w := range ke.Want {
		switch t := w.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			algs = append(algs, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algs = append(algs, t)
		}
	}
	sort.SliceStable(algs, func(i, j int) bool { return algRank(algs[i]) < algRank(algs[j]) })
	return algs
}

func algRank(a string) int {
	switch a {
	case ssh.KeyAlgoED25519:
		return 0
	case ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return 1
	}
	return 2
}

// appendKnownHosts appends accepted keys to their known_hosts files, under
// an advisory lock, hashed when the file already uses hashed names.
func appendKnownHosts(keys []*unknownKey) error {
	byFile := map[string][]*unknownKey{}
	for _, k := range keys {
		if k.file == "" {
			return fmt.Errorf("no known_hosts file to record %s", k.Address)
		}
		byFile[k.file] = append(byFile[k.file], k)
	}
	for file, ks := range byFile {
		if err := appendToFile(file, ks); err != nil {
			return err
		}
	}
	return nil
}

func appendToFile(file string, ks []*unknownKey) error {
	if file == os.DevNull { // "do not record": accepted for this run only
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	lk := flock.New(file) // advisory lock on the file itself (created 0600 if missing)
	if err := lk.Lock(); err != nil {
		return fmt.Errorf("known_hosts: lock %s: %w", file, err)
	}
	defer lk.Unlock()
	old, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("known_hosts: %w", err)
	}
	hashed := false
	sc := bufio.NewScanner(bytes.NewReader(old))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		if strings.HasPrefix(l, "@") { // @cert-authority / @revoked marker
			if i := strings.IndexByte(l, ' '); i > 0 {
				l = strings.TrimSpace(l[i:])
			}
		}
		if strings.HasPrefix(l, "|1|") {
			hashed = true
			break
		}
	}
	var b strings.Builder
	if len(old) > 0 && old[len(old)-1] != '\n' {
		b.WriteByte('\n')
	}
	for _, k := range ks {
		name := knownhosts.Normalize(k.Address)
		if hashed {
			name = knownhosts.HashHostname(name)
		}
		b.WriteString(name + " " + k.key.Type() + " " + base64.StdEncoding.EncodeToString(k.key.Marshal()) + "\n")
	}
	fh, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	if _, err := fh.WriteString(b.String()); err != nil {
		fh.Close()
		return fmt.Errorf("known_hosts %s: %w", file, err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return fmt.Errorf("known_hosts %s: %w", file, err)
	}
	return fh.Close()
}

func (f *Fleet) acceptedThisRun(hostname string, key ssh.PublicKey) bool {
	f.acceptedMu.Lock()
	defer f.acceptedMu.Unlock()
	return f.accepted[hostname+" "+string(key.Marshal())]
}

func (f *Fleet) acceptForRun(hostname string, key ssh.PublicKey) {
	f.acceptedMu.Lock()
	defer f.acceptedMu.Unlock()
	if f.accepted == nil {
		f.accepted = map[string]bool{}
	}
	f.accepted[hostname+" "+string(key.Marshal())] = true
}
