package remote

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

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
		db, err := readKnownHostsDB(t.knownHosts)
		if err != nil {
			return err
		}
		if cas := db.authorities(hostname); len(cas) > 0 {
			// A @cert-authority line covers the host: only a certificate
			// signed by that CA (or a key the operator recorded for the
			// host) is accepted, never a key trusted on first use.
			now := time.Now()
			if err := db.checkCovered(t.display, hostname, cas, key, now); err != nil {
				return err
			}
			if cert, ok := key.(*ssh.Certificate); ok && hostCertProblem(cas, hostname, cert, now) == "" {
				f.verifiedKey(t.display, hostname, key, TrustCertificate,
					cert.SignatureKey.Type()+" "+ssh.FingerprintSHA256(cert.SignatureKey))
			} else {
				f.verifiedKey(t.display, hostname, key, TrustKnownHosts, "")
			}
			return nil
		}
		if f.acceptedThisRun(hostname, key) {
			// accepted by the operator in this Connect (even if known_hosts is /dev/null)
			f.verifiedKey(t.display, hostname, key, TrustAccepted, "")
			return nil
		}
		err = checkKnown(t.knownHosts, hostname, remote, key)
		if err == nil {
			f.verifiedKey(t.display, hostname, key, TrustKnownHosts, "")
			return nil
		}
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
//
// For a host that a @cert-authority line covers, the certificate algorithms
// come first (OpenSSH's order), so a server with a host certificate presents
// it, then the types of keys recorded for the host, then OpenSSH's plain
// defaults, so a server without a certificate shows its plain key and is
// refused by name rather than by a failed algorithm negotiation.
func knownAlgorithms(files []string, hostname string) []string {
	if db, err := readKnownHostsDB(files); err == nil && len(db.authorities(hostname)) > 0 {
		algs := append([]string(nil), certAlgorithms[:]...)
		seen := map[string]bool{}
		for _, a := range algs {
			seen[a] = true
		}
		var plain []string
		for _, k := range db.pinned(hostname) {
			plain = append(plain, algorithmsFor(k.key.Type())...)
		}
		sort.SliceStable(plain, func(i, j int) bool { return algRank(plain[i]) < algRank(plain[j]) })
		for _, a := range append(plain, openSSHHostKeyOrder[:]...) {
			if !seen[a] {
				seen[a] = true
				algs = append(algs, a)
			}
		}
		return algs
	}
	err := checkKnown(files, hostname, &net.TCPAddr{IP: net.IPv4zero}, probeKey())
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return openSSHHostKeyOrder[:]
	}
	var algs []string
	for _, w := range ke.Want {
		algs = append(algs, algorithmsFor(w.Key.Type())...)
	}
	sort.SliceStable(algs, func(i, j int) bool { return algRank(algs[i]) < algRank(algs[j]) })
	return algs
}

// algorithmsFor lists the host key algorithms that negotiate a key of type t.
func algorithmsFor(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
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

// How a host key was trusted (VerifiedHostKey.Trust).
const (
	TrustKnownHosts  = "known_hosts" // recorded in known_hosts before this Connect
	TrustAccepted    = "accepted"    // unknown, accepted through Options.ConfirmHostKeys in this Connect
	TrustCertificate = "certificate" // a valid host certificate from a @cert-authority CA
)

// VerifiedHostKey is a host key a connection of the fleet was made with
// (public facts only: no key material beyond its fingerprint).
type VerifiedHostKey struct {
	Host        string // HostConfig.Name, or the ProxyJump hop as written
	Address     string // "host:port" as dialled
	KeyType     string // e.g. "ssh-ed25519", or a *-cert-v01@openssh.com type
	Fingerprint string // "SHA256:..." as OpenSSH prints it (of the certified key for a certificate)
	Trust       string // TrustKnownHosts, TrustAccepted or TrustCertificate
	CA          string // TrustCertificate: the CA key's type and fingerprint
}

// HostKeys lists the host keys the fleet's connections were made with
// (jump hosts included), each once, in the order they were first verified.
// Empty with InsecureIgnoreHostKeysForTests.
func (f *Fleet) HostKeys() []VerifiedHostKey {
	f.acceptedMu.Lock()
	defer f.acceptedMu.Unlock()
	return append([]VerifiedHostKey(nil), f.verified...)
}

func (f *Fleet) verifiedKey(display, hostname string, key ssh.PublicKey, trust, ca string) {
	plain := key
	if cert, ok := key.(*ssh.Certificate); ok {
		plain = cert.Key
	}
	v := VerifiedHostKey{Host: display, Address: hostname, KeyType: key.Type(),
		Fingerprint: ssh.FingerprintSHA256(plain), Trust: trust, CA: ca}
	f.acceptedMu.Lock()
	defer f.acceptedMu.Unlock()
	for _, o := range f.verified {
		if o.Host == v.Host && o.Address == v.Address && o.KeyType == v.KeyType && o.Fingerprint == v.Fingerprint {
			return // a reconnection, or the same jump host for several hosts
		}
	}
	f.verified = append(f.verified, v)
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

// HostCertError is returned for a host that a @cert-authority line in
// known_hosts covers and that did not prove its identity with a valid host
// certificate signed by that CA (nor with a key recorded for it in
// known_hosts). Nothing overrides it: such a host is never trusted on first
// use, --yes or not.
type HostCertError struct {
	Host        string // HostConfig.Name, or the ProxyJump hop as written
	Address     string // "host:port" as dialled
	KeyType     string // what the host presented: a plain key type or a *-cert-v01@openssh.com type
	Fingerprint string // of the (certified) key
	// Authority is the first @cert-authority line that covers the host, as
	// "file:line".
	Authority string
	// Reason is why the certificate was refused; empty when the host
	// presented a plain key.
	Reason string
}

func (e *HostCertError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("host %s: %s presented a plain %s host key (%s) and no certificate signed by its CA (@cert-authority at %s); "+
			"hawiz never trusts such a key on first use: give the host a certificate from that CA (sshd HostCertificate), or record its key in known_hosts yourself",
			e.Host, e.Address, e.KeyType, e.Fingerprint, e.Authority)
	}
	return fmt.Sprintf("host %s: the host certificate %s presented (%s, key %s) is not valid for it: %s (@cert-authority at %s); hawiz will not connect",
		e.Host, e.Address, e.KeyType, e.Fingerprint, e.Reason, e.Authority)
}

// certAlgorithms are OpenSSH's default host certificate algorithms, in its
// order (without the FIDO sk- types).
var certAlgorithms = [...]string{
	ssh.CertAlgoED25519v01,
	ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
	ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
}

// caSignatureAlgorithms is OpenSSH's default CASignatureAlgorithms: a CA
// signature made with ssh-rsa (SHA-1) or DSA is refused.
var caSignatureAlgorithms = map[string]bool{
	ssh.KeyAlgoED25519: true, ssh.KeyAlgoSKED25519: true,
	ssh.KeyAlgoECDSA256: true, ssh.KeyAlgoECDSA384: true, ssh.KeyAlgoECDSA521: true, ssh.KeyAlgoSKECDSA256: true,
	ssh.KeyAlgoRSASHA512: true, ssh.KeyAlgoRSASHA256: true,
}

const (
	markerCA      = "@cert-authority"
	markerRevoked = "@revoked"
)

// khEntry is one line of a known_hosts file.
type khEntry struct {
	marker  string // "", markerCA or markerRevoked
	pattern string // host patterns as written: a comma list, or one |1|salt|hash
	key     ssh.PublicKey
	file    string
	line    int
}

func (e khEntry) where() string { return e.file + ":" + strconv.Itoa(e.line) }

// khDB is the lines of a host's known_hosts files, matched as OpenSSH does
// (ssh(1) hostfile.c, match.c): against "host" or "[host]:port" when the
// port is not 22, lower-cased, with * and ? wildcards, !negation and hashed
// names. x/crypto's knownhosts matches a pattern without a port only on
// port 22 and wildcards only in the host part, so "*" or "[*.lan]:*" would
// not cover a host on another port; that matters for @cert-authority lines,
// which are nearly always wildcards.
type khDB struct{ entries []khEntry }

// readKnownHostsDB parses files (missing ones are skipped). A malformed line
// is an error naming file and line, as knownhosts.New's.
func readKnownHostsDB(files []string) (*khDB, error) {
	db := &khDB{}
	for _, file := range existingFiles(files) {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		for n, raw := range bytes.Split(b, []byte("\n")) {
			e, ok, err := parseKnownHostsLine(string(raw))
			if err != nil {
				return nil, fmt.Errorf("known_hosts: %s:%d: %v", file, n+1, err)
			}
			if ok {
				e.file, e.line = file, n+1
				db.entries = append(db.entries, e)
			}
		}
	}
	return db, nil
}

func parseKnownHostsLine(line string) (khEntry, bool, error) {
	f := strings.Fields(line)
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return khEntry{}, false, nil
	}
	var e khEntry
	if strings.HasPrefix(f[0], "@") {
		if f[0] != markerCA && f[0] != markerRevoked {
			return e, false, fmt.Errorf("unknown marker %q", f[0])
		}
		e.marker, f = f[0], f[1:]
	}
	if len(f) < 3 {
		return e, false, errors.New("want host patterns, key type and key")
	}
	e.pattern = f[0]
	if strings.HasPrefix(e.pattern, "|") {
		if _, _, err := decodeHashedName(e.pattern); err != nil {
			return e, false, err
		}
	}
	blob, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil {
		return e, false, fmt.Errorf("key: %v", err)
	}
	if e.key, err = ssh.ParsePublicKey(blob); err != nil {
		return e, false, fmt.Errorf("key: %v", err)
	}
	if e.key.Type() != f[1] {
		return e, false, fmt.Errorf("key type %s is written %s", e.key.Type(), f[1])
	}
	return e, true, nil
}

// lookupName is what known_hosts patterns are matched against for
// "host:port": "host", or "[host]:port" when the port is not 22, lower-case.
func lookupName(hostport string) string { return strings.ToLower(knownhosts.Normalize(hostport)) }

func (db *khDB) matching(marker, hostport string) []khEntry {
	name := lookupName(hostport)
	var out []khEntry
	for _, e := range db.entries {
		if e.marker == marker && matchHostPatterns(e.pattern, name) {
			out = append(out, e)
		}
	}
	return out
}

// authorities returns the @cert-authority lines that cover hostport.
func (db *khDB) authorities(hostport string) []khEntry { return db.matching(markerCA, hostport) }

// pinned returns the plain key lines recorded for hostport.
func (db *khDB) pinned(hostport string) []khEntry { return db.matching("", hostport) }

// revoked returns the @revoked line that lists key, if any. Revocation is
// applied whatever the line's host patterns (stricter than OpenSSH, which
// reads @revoked lines for the host only; the same as x/crypto's knownhosts).
func (db *khDB) revoked(key ssh.PublicKey) (khEntry, bool) {
	for _, e := range db.entries {
		if e.marker == markerRevoked && keyEqual(e.key, key) {
			return e, true
		}
	}
	return khEntry{}, false
}

func keyEqual(a, b ssh.PublicKey) bool { return bytes.Equal(a.Marshal(), b.Marshal()) }

// checkCovered decides about key, presented by hostport, which the CA lines
// cas cover. It returns nil only for a valid host certificate signed by one
// of those CAs, or for a key recorded for the host in known_hosts (as
// OpenSSH, which also falls back from a refused certificate to its plain key
// — but then asks to trust it on first use, which hawiz never does here).
func (db *khDB) checkCovered(display, hostport string, cas []khEntry, key ssh.PublicKey, now time.Time) error {
	plain := key
	cert, isCert := key.(*ssh.Certificate)
	if isCert {
		plain = cert.Key
	}
	e := &HostCertError{Host: display, Address: hostport, KeyType: key.Type(),
		Fingerprint: ssh.FingerprintSHA256(plain), Authority: cas[0].where()}
	if r, ok := db.revoked(plain); ok {
		if !isCert {
			return fmt.Errorf("host %s: the host key %s presented (%s %s) is marked @revoked at %s; hawiz will not connect",
				display, hostport, key.Type(), e.Fingerprint, r.where())
		}
		e.Reason = "its key is marked @revoked at " + r.where()
		return e
	}
	if isCert {
		if r, ok := db.revoked(cert.SignatureKey); ok {
			e.Reason = "its CA key is marked @revoked at " + r.where()
			return e
		}
		reason := hostCertProblem(cas, hostport, cert, now)
		if reason == "" {
			return nil
		}
		e.Reason = reason
	}
	for _, p := range db.pinned(hostport) {
		if keyEqual(p.key, plain) {
			return nil // recorded by the operator: not trust on first use
		}
	}
	return e
}

// hostCertProblem checks cert as OpenSSH's check_host_cert does for a host
// dialled as hostport, and returns why it is not valid ("" when it is): a
// host certificate, signed by a CA key of one of cas with an algorithm
// OpenSSH accepts by default, listing the host name (the name dialled,
// lower-case; not its address) among its principals, valid now, without
// critical options. Stricter than OpenSSH: a certificate without principals
// (valid for any host to OpenSSH) is refused.
func hostCertProblem(cas []khEntry, hostport string, cert *ssh.Certificate, now time.Time) string {
	if cert.CertType != ssh.HostCert {
		return "it is a user certificate, not a host certificate"
	}
	signedBy := false
	for _, ca := range cas {
		if keyEqual(ca.key, cert.SignatureKey) {
			signedBy = true
		}
	}
	if !signedBy {
		return fmt.Sprintf("it is signed by %s CA %s, which no @cert-authority line for this host lists",
			cert.SignatureKey.Type(), ssh.FingerprintSHA256(cert.SignatureKey))
	}
	if cert.Signature == nil || !caSignatureAlgorithms[cert.Signature.Format] {
		f := "no"
		if cert.Signature != nil {
			f = cert.Signature.Format
		}
		return fmt.Sprintf("its CA signature uses %s, which OpenSSH refuses by default (CASignatureAlgorithms)", f)
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.ToLower(host)
	if len(cert.ValidPrincipals) == 0 {
		return "it lists no principals (hawiz wants the host name " + strconv.Quote(host) + " listed)"
	}
	if !slices.Contains(cert.ValidPrincipals, host) {
		return fmt.Sprintf("its principals %q do not include the host name %q", cert.ValidPrincipals, host)
	}
	const layout = "2006-01-02 15:04:05Z07:00"
	if after := int64(cert.ValidAfter); after < 0 || now.Unix() < after {
		return "it is not valid before " + time.Unix(int64(cert.ValidAfter), 0).UTC().Format(layout)
	}
	if cert.ValidBefore != ssh.CertTimeInfinity {
		if before := int64(cert.ValidBefore); before < 0 || now.Unix() >= before {
			return "it expired at " + time.Unix(int64(cert.ValidBefore), 0).UTC().Format(layout)
		}
	}
	// The rest (critical options, the CA's signature) as x/crypto checks it.
	cc := ssh.CertChecker{Clock: func() time.Time { return now }}
	if err := cc.CheckCert(host, cert); err != nil {
		return strings.TrimPrefix(err.Error(), "ssh: ")
	}
	return ""
}

// matchHostPatterns reports whether name (see lookupName) matches a
// known_hosts host field, as OpenSSH's match_hostname: a comma list of
// patterns with * and ?, case-insensitive; a matching !pattern excludes the
// host whatever else matches. A hashed field matches its one name exactly.
func matchHostPatterns(field, name string) bool {
	if strings.HasPrefix(field, "|") {
		salt, hash, err := decodeHashedName(field)
		if err != nil {
			return false
		}
		mac := hmac.New(sha1.New, salt)
		mac.Write([]byte(name))
		return hmac.Equal(mac.Sum(nil), hash)
	}
	matched := false
	for _, p := range strings.Split(field, ",") {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if wildcardMatch(strings.ToLower(p), name) {
			if neg {
				return false
			}
			matched = true
		}
	}
	return matched
}

// decodeHashedName decodes a hashed known_hosts name, |1|salt|hash.
func decodeHashedName(field string) (salt, hash []byte, err error) {
	parts := strings.Split(field, "|")
	if len(parts) != 4 || parts[0] != "" || parts[1] != "1" {
		return nil, nil, fmt.Errorf("bad hashed host name %q", field)
	}
	if salt, err = base64.StdEncoding.DecodeString(parts[2]); err != nil {
		return nil, nil, fmt.Errorf("bad hashed host name %q: %v", field, err)
	}
	if hash, err = base64.StdEncoding.DecodeString(parts[3]); err != nil {
		return nil, nil, fmt.Errorf("bad hashed host name %q: %v", field, err)
	}
	return salt, hash, nil
}

// wildcardMatch matches s against pattern, where * is any run of bytes and ?
// any one byte (OpenSSH's match_pattern), in linear time.
func wildcardMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
