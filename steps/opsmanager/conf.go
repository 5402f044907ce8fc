// conf.go holds the conf-mms.properties edits the configuration steps share:
// whether a server's file holds the answers' values, setting them in place,
// and comparing the keys across servers; and maskURI, which keeps App DB
// credentials out of what they show.

package opsmanager

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// kv is one conf-mms.properties key and the value the answers give it.
type kv struct{ k, v string }

func confHas(ctx context.Context, e *steps.Env, c *Common, host string, want []kv) (bool, string, error) {
	h, l, err := layoutHost(ctx, e, c, host)
	if err != nil {
		return false, "", err
	}
	b, _, err := h.ReadFile(ctx, l.Conf, l.Sudo)
	if err != nil {
		return false, "", err
	}
	p := ParseProps(b)
	var ev []string
	done := true
	for _, w := range want {
		v, ok := p.Get(w.k)
		switch {
		case ok && v == w.v:
			ev = append(ev, w.k+" already set")
		case ok && sameValue(w.k, v, w.v):
			ev = append(ev, fmt.Sprintf("%s means %s already (written %q): not rewritten", w.k, w.v, v))
		default:
			done = false
			ev = append(ev, fmt.Sprintf("%s is %q", w.k, maskURI(e, v)))
		}
	}
	return done, host + ": " + strings.Join(ev, "; "), nil
}

// confSet sets want in host's conf-mms.properties in place (backup kept),
// each key only where the file's value does not already mean the answers'
// (sameValue); a server running with the old values is marked for a
// restart (step restart-changed-servers).
func confSet(ctx context.Context, e *steps.Env, c *Common, host string, want []kv) error {
	return confEdit(ctx, e, c, host, func(p *Props) error {
		for _, w := range want {
			if v, ok := p.Get(w.k); !ok || !sameValue(w.k, v, w.v) {
				p.Set(w.k, w.v)
			}
		}
		return nil
	})
}

// sameValue reports whether a file's value of key k means the answers'
// value: mms.centralUrl the same URL (confValue: scheme and host in any
// case, the scheme's default port written or not, an empty path or "/",
// RFC 3986 §6.2.2–6.2.3); mms.remoteIp.header the same header name (HTTP
// field names are case-insensitive, RFC 9110 §5.1); any other key byte for
// byte.
func sameValue(k, have, want string) bool {
	return have == want || confValue(k, have) == confValue(k, want)
}

// confValue is v in the form sameValue compares for key k.
func confValue(k, v string) string {
	v = strings.TrimSpace(v)
	switch k {
	case KeyRemoteIP:
		return strings.ToLower(v)
	case KeyCentralURL:
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
			return v
		}
		u.Scheme = strings.ToLower(u.Scheme)
		host, port := strings.ToLower(u.Hostname()), u.Port()
		if port == map[string]string{"http": "80", "https": "443"}[u.Scheme] {
			port = ""
		}
		u.Host = host
		if strings.Contains(host, ":") {
			u.Host = "[" + host + "]"
		}
		if port != "" {
			u.Host += ":" + port
		}
		if u.Path == "/" && u.RawQuery == "" && u.Fragment == "" {
			u.Path, u.RawPath = "", ""
		}
		return u.String()
	}
	return v
}

// confEdit reads host's conf-mms.properties, lets edit change it and
// writes it back only when the bytes changed and only over the very file
// edit saw (compare-and-swap on its SHA-256; backup kept); a server running
// with the old values is marked for a restart (restart-changed-servers).
func confEdit(ctx context.Context, e *steps.Env, c *Common, host string, edit func(p *Props) error) error {
	h, l, err := layoutHost(ctx, e, c, host)
	if err != nil {
		return err
	}
	b, fi, err := h.ReadFile(ctx, l.Conf, l.Sudo)
	if err != nil {
		return err
	}
	p := ParseProps(b)
	if err := edit(p); err != nil {
		return err
	}
	out := p.Bytes()
	if bytes.Equal(out, b) {
		return nil
	}
	wasRunning, _ := running(ctx, e, h, l, c)
	res, err := h.WriteFile(ctx, l.Conf, out, remote.WriteOptions{IfSHA256: fi.SHA256, Backup: true, Sudo: l.Sudo, Secret: true})
	if err != nil {
		return err
	}
	if res.Backup != "" {
		e.Output(host, "backup of the previous conf-mms.properties: "+res.Backup)
	}
	if wasRunning {
		e.SetFact(factKey(host, "restart"), "1")
		e.Warn(host, "Ops Manager is running with the old settings: hawiz restarts it in step "+StepRestartChanged+", once every server runs and is healthy, one server at a time")
	}
	return nil
}

// confVerify checks host's conf-mms.properties: the step's own keys (want)
// mean the values the answers give (sameValue), so every server verified
// holds the same ones. On the last server in order it also reads every other server once
// and checks that all keys' lines are equal everywhere: one cross-server
// comparison per step (n reads), not one per server (n² reads).
func confVerify(ctx context.Context, e *steps.Env, c *Common, host string, want []kv, keys []string) (string, error) {
	return confVerifyRule(ctx, e, c, host, confRule{keys: keys, check: func(p *Props) error {
		for _, w := range want {
			if v, _ := p.Get(w.k); !sameValue(w.k, v, w.v) {
				return fmt.Errorf("%s: %s is %q, not the value the answers give (%q)", host, w.k, maskURI(e, v), maskURI(e, w.v))
			}
		}
		return nil
	}, value: confValue})
}

// confRule is what confVerifyRule checks: the host's own file (check) and
// keys compared across servers, each value in the form value gives (nil:
// as written).
type confRule struct {
	keys  []string
	check func(p *Props) error
	value func(k, v string) string
}

func confVerifyRule(ctx context.Context, e *steps.Env, c *Common, host string, r confRule) (string, error) {
	names := c.serverNames()
	last := names[len(names)-1] == host
	var others []string
	var errOthers error
	var wg sync.WaitGroup
	if last {
		wg.Add(1)
		go func() {
			defer wg.Done()
			others, errOthers = forEachServer(ctx, names[:len(names)-1], func(ctx context.Context, name string) (string, error) {
				l, _, err := confLines(ctx, e, c, name, r.keys, r.value)
				return l, err
			})
		}()
	}
	own, ownProps, errOwn := confLines(ctx, e, c, host, r.keys, r.value)
	wg.Wait()
	if errOwn != nil {
		return "", errOwn
	}
	if err := r.check(ownProps); err != nil {
		return "", err
	}
	shown := maskURI(e, strings.ReplaceAll(own, "\n", "; "))
	if !last {
		return fmt.Sprintf("%s: %s (the answers' values; all %d servers are compared once %s is done)", host, shown, len(names), names[len(names)-1]), nil
	}
	if errOthers != nil {
		return "", errOthers
	}
	for i, s := range others {
		if s != own {
			return "", fmt.Errorf("%s differs between %s and %s: %s / %s", strings.Join(r.keys, ", "), host, names[i],
				shown, maskURI(e, strings.ReplaceAll(s, "\n", "; ")))
		}
	}
	return fmt.Sprintf("%s: %s (equal on all %d servers)", host, shown, len(names)), nil
}

// confLines reads name's conf-mms.properties and returns keys' values as
// "key=value" lines in keys' order (each value as value gives it, when
// set), and the parsed file.
func confLines(ctx context.Context, e *steps.Env, c *Common, name string, keys []string, value func(k, v string) string) (string, *Props, error) {
	h, l, err := layoutHost(ctx, e, c, name)
	if err != nil {
		return "", nil, err
	}
	b, _, err := h.ReadFile(ctx, l.Conf, l.Sudo)
	if err != nil {
		return "", nil, err
	}
	p := ParseProps(b)
	var vals []string
	for _, k := range keys {
		v, _ := p.Get(k)
		if k == KeyMongoURI {
			registerURICreds(e, v)
		}
		if value != nil {
			v = value(k, v)
		}
		vals = append(vals, k+"="+v)
	}
	return strings.Join(vals, "\n"), p, nil
}

// maskURI hides credentials in mongodb:// URIs (also ones hawiz did not
// write, whose password the redactor does not know).
func maskURI(e *steps.Env, s string) string {
	s = uriCredRE.ReplaceAllString(s, "${1}[REDACTED]@")
	return e.Redactor().Redact(s)
}

var uriCredRE = regexp.MustCompile(`(mongodb(?:\+srv)?://)[^@/\s]*@`)

// Keys next to mongo.mongoUri that say how Ops Manager reaches the App DB
// (M4, M2 step 3): hawiz never writes them, and a URI it writes keeps the
// file's credentials when these say they are encrypted.
const (
	KeyEncryptedCredentials = "mongo.encryptedCredentials" // M4, M21
	KeyMongoSSL             = "mongo.ssl"                  // M2 step 3, M4
)

// mongoURI is a mongodb:// connection string read for its meaning: the
// hosts as a set, the database, the options and whether it holds
// credentials. Raw parts are kept so that what hawiz keeps from a file is
// written back byte for byte.
type mongoURI struct {
	userinfo string   // raw "user:password" (plain or credentialstool output); "" none
	hosts    []string // raw, as written
	hostSet  []string // lowercase host:port (port 27017 when absent), sorted
	db       string   // raw path after '/', before '?'
	opts     []uriOpt // in order
}

// uriOpt is one option: raw "k=v", the key lowercased (ssl is tls: the
// URI format treats them as one option) and the value percent-decoded.
type uriOpt struct{ raw, key, val string }

func (u *mongoURI) creds() bool { return u.userinfo != "" }

func (u *mongoURI) opt(key string) (uriOpt, bool) {
	for _, o := range u.opts {
		if o.key == key {
			return o, true
		}
	}
	return uriOpt{}, false
}

// parseMongoURI reads s. A value with an '@' that is not a user:password@
// part hawiz can read is an error saying so: it may hold credentials.
func parseMongoURI(s string) (*mongoURI, error) {
	if strings.HasPrefix(s, "mongodb+srv://") {
		return nil, fmt.Errorf("is a mongodb+srv:// URI (its hosts, TLS and options come from DNS); hawiz rewrites only the mongodb:// form listing every member (%s)", refMongoURI)
	}
	rest, ok := strings.CutPrefix(s, "mongodb://")
	if !ok {
		return nil, fmt.Errorf("is not a mongodb:// URI")
	}
	u := &mongoURI{}
	auth, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		auth, tail = rest[:i], rest[i:]
	}
	if i := strings.LastIndex(auth, "@"); i >= 0 {
		u.userinfo, auth = auth[:i], auth[i+1:]
		if u.userinfo == "" {
			return nil, fmt.Errorf("has an empty user:password@ part")
		}
	}
	if strings.Contains(auth, "@") || strings.Contains(tail, "@") && u.userinfo == "" {
		return nil, fmt.Errorf("holds an '@' outside a user:password@ part hawiz can read (it may hold credentials)")
	}
	hosts, err := ParseAppDBURI("mongodb://" + auth)
	if err != nil {
		return nil, err
	}
	u.hosts = strings.Split(auth, ",")
	for _, h := range hosts {
		u.hostSet = append(u.hostSet, strings.ToLower(h.String()))
	}
	sort.Strings(u.hostSet)
	if p, ok := strings.CutPrefix(tail, "/"); ok {
		tail = p
		u.db, tail, _ = strings.Cut(tail, "?")
		tail = "?" + tail
	}
	q := strings.TrimPrefix(tail, "?")
	for _, raw := range strings.FieldsFunc(q, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(raw, "=")
		if dk, err := url.PathUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.PathUnescape(v); err == nil {
			v = dv
		}
		k = strings.ToLower(k)
		if k == "ssl" {
			k = "tls"
		}
		u.opts = append(u.opts, uriOpt{raw: raw, key: k, val: v})
	}
	return u, nil
}

// String writes u back: the raw parts, in order.
func (u *mongoURI) String() string {
	var b strings.Builder
	b.WriteString("mongodb://")
	if u.userinfo != "" {
		b.WriteString(u.userinfo + "@")
	}
	b.WriteString(strings.Join(u.hosts, ","))
	if u.db != "" || len(u.opts) > 0 {
		b.WriteString("/" + u.db)
	}
	if len(u.opts) > 0 {
		raws := make([]string, len(u.opts))
		for i, o := range u.opts {
			raws[i] = o.raw
		}
		b.WriteString("?" + strings.Join(raws, "&"))
	}
	return b.String()
}

// meaning is u without its spelling: the hosts as a set, the database, the
// options sorted and whether credentials are there (never what they are).
func (u *mongoURI) meaning() string {
	opts := make([]string, len(u.opts))
	for i, o := range u.opts {
		opts[i] = o.key + "=" + o.val
	}
	sort.Strings(opts)
	cred := "none"
	if u.creds() {
		cred = "present"
	}
	return fmt.Sprintf("hosts %s; database %q; options %s; credentials %s", strings.Join(u.hostSet, ","), u.db, strings.Join(opts, "&"), cred)
}

// uriEdit is what update-hosts-with-replication-hosts does to one file's
// mongo.mongoUri: the value to write, whether it already means that, and
// what changes and what is kept, in words (no credentials).
type uriEdit struct {
	value   string
	done    bool
	changes []string
	kept    []string
}

// planURI works out mongo.mongoUri for a file from the answers' URI (no
// credentials) and, when appdb.username is set, the credentials it brings
// (raw userinfo, ansCreds; user and password decoded to compare). The
// answers' hosts and the options they name win; the file's other options,
// its database and — when the answers bring none, or the file's are
// encrypted (mongo.encryptedCredentials=true: credentialstool output, tied
// to gen.key, M21) — its credentials are kept. Nothing it returns drops
// credentials the file holds unless the answers bring their own.
func planURI(p *Props, ansURI, ansCreds, ansUser, ansPass string) (uriEdit, error) {
	ans, err := parseMongoURI(ansURI)
	if err != nil {
		return uriEdit{}, fmt.Errorf("appdb.uri %v", err)
	}
	ans.userinfo = ansCreds
	enc, _ := p.Get(KeyEncryptedCredentials)
	encrypted := strings.EqualFold(strings.TrimSpace(enc), "true")
	cur, present := p.Get(KeyMongoURI)
	if !present || strings.TrimSpace(cur) == "" {
		if encrypted && ansCreds != "" {
			return uriEdit{}, encryptedNoCreds()
		}
		return uriEdit{value: ans.String(), changes: []string{"mongo.mongoUri is added: " + ans.meaning()}}, nil
	}
	file, err := parseMongoURI(cur)
	if err != nil {
		if strings.Contains(cur, "@") {
			return uriEdit{}, &steps.RefusedError{Reason: fmt.Sprintf("%s in the file %v; hawiz will not replace it: edit it yourself to list every App DB member ("+refMongoURI.String()+"), or move it away and resume", KeyMongoURI, err)}
		}
		return uriEdit{value: ans.String(), changes: []string{fmt.Sprintf("mongo.mongoUri %v: replaced by %s", err, ans.meaning())}}, nil
	}
	want := &mongoURI{hosts: file.hosts, hostSet: file.hostSet, db: file.db, userinfo: file.userinfo}
	var ed uriEdit
	// Hosts: the answers' set (the file's spelling when it is the same set).
	if strings.Join(file.hostSet, ",") != strings.Join(ans.hostSet, ",") {
		want.hosts, want.hostSet = ans.hosts, ans.hostSet
		ed.changes = append(ed.changes, fmt.Sprintf("hosts %s → %s", strings.Join(file.hostSet, ","), strings.Join(ans.hostSet, ",")))
	}
	if ans.db != "" && ans.db != file.db {
		want.db = ans.db
		ed.changes = append(ed.changes, fmt.Sprintf("database %q → %q", file.db, ans.db))
	} else if file.db != "" {
		ed.kept = append(ed.kept, fmt.Sprintf("the file's database %q", file.db))
	}
	// Options: the answers' (in their order), then the file's others.
	for _, o := range ans.opts {
		fo, ok := file.opt(o.key)
		switch {
		case !ok:
			ed.changes = append(ed.changes, fmt.Sprintf("option %s=%s added", o.key, o.val))
		case fo.val != o.val:
			ed.changes = append(ed.changes, fmt.Sprintf("option %s %s → %s", o.key, fo.val, o.val))
		}
		want.opts = append(want.opts, o)
	}
	var keptOpts []string
	for _, o := range file.opts {
		if _, ok := ans.opt(o.key); !ok {
			want.opts = append(want.opts, o)
			keptOpts = append(keptOpts, o.key)
		}
	}
	if len(keptOpts) > 0 {
		ed.kept = append(ed.kept, "the file's options "+strings.Join(keptOpts, ", "))
	}
	// Credentials.
	switch {
	case encrypted && file.creds():
		if ansCreds != "" {
			ed.kept = append(ed.kept, "the file's encrypted credentials ("+KeyEncryptedCredentials+"=true; appdb.username is not written over them)")
		} else {
			ed.kept = append(ed.kept, "the file's encrypted credentials ("+KeyEncryptedCredentials+"=true)")
		}
	case encrypted && ansCreds != "":
		return uriEdit{}, encryptedNoCreds()
	case ansCreds != "":
		want.userinfo = ansCreds
		switch {
		case !file.creds():
			ed.changes = append(ed.changes, "credentials added (appdb.username and its password)")
		case !sameCreds(file.userinfo, ansUser, ansPass):
			ed.changes = append(ed.changes, "the file's credentials are replaced by appdb.username and its password")
		default:
			want.userinfo = file.userinfo
			ed.kept = append(ed.kept, "the file's credentials (the same as appdb.username's)")
		}
	case file.creds():
		ed.kept = append(ed.kept, "the file's credentials")
	}
	ed.done = want.meaning() == file.meaning() && (want.userinfo == file.userinfo || sameCreds(file.userinfo, ansUser, ansPass))
	ed.value = cur
	if !ed.done {
		ed.value = want.String()
	}
	if file.creds() {
		if w, _ := parseMongoURI(ed.value); w == nil || !w.creds() {
			return uriEdit{}, fmt.Errorf("hawiz bug: the new %s would drop the file's credentials; nothing written", KeyMongoURI)
		}
	}
	return ed, nil
}

func encryptedNoCreds() error {
	return &steps.RefusedError{Reason: fmt.Sprintf("%s=true but %s holds no credentials: hawiz cannot encrypt appdb.username's (credentialstool reads gen.key: "+refCredentialsTool.String()+") and will not write plain ones where Ops Manager expects encrypted ones; put the credentialstool output in the URI yourself, or remove appdb.username", KeyEncryptedCredentials, KeyMongoURI)}
}

// sameCreds: the raw userinfo decodes to user and password.
func sameCreds(userinfo, user, pass string) bool {
	if userinfo == "" || user == "" {
		return false
	}
	u, p, ok := strings.Cut(userinfo, ":")
	if !ok {
		return false
	}
	du, err1 := url.PathUnescape(u)
	dp, err2 := url.PathUnescape(p)
	return err1 == nil && err2 == nil && du == user && dp == pass
}

// registerURICreds makes a file's App DB credentials (which the answers
// may not know) unprintable: the raw userinfo, its parts and their decoded
// forms.
func registerURICreds(e *steps.Env, v string) {
	u, err := parseMongoURI(v)
	if err != nil {
		if i := strings.LastIndex(v, "@"); i >= 0 {
			if j := strings.Index(v, "://"); j >= 0 && j+3 < i {
				e.Redactor().Add(v[j+3 : i])
			}
		}
		return
	}
	r := e.Redactor()
	for _, o := range u.opts {
		if secretOption(o.key) && o.val != "" {
			r.Add(o.val)
			r.Add(o.raw)
		}
	}
	if !u.creds() {
		return
	}
	r.Add(u.userinfo)
	if _, p, ok := strings.Cut(u.userinfo, ":"); ok && p != "" {
		r.Add(p)
		if dp, err := url.PathUnescape(p); err == nil && dp != "" {
			r.Add(dp)
		}
	}
}

// secretOption: a URI option whose value is a secret
// (tlsCertificateKeyFilePassword, sslPEMKeyPassword, AWS session tokens in
// authMechanismProperties).
func secretOption(key string) bool {
	return strings.Contains(key, "password") || strings.Contains(key, "token") || key == "authmechanismproperties"
}
