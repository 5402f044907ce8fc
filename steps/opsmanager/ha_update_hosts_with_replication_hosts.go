// ha_update_hosts_with_replication_hosts.go: step
// update-hosts-with-replication-hosts of opsmanager-ha: mongo.mongoUri, the
// same App DB replica set with every member, on every server
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// step 3, M2; mongo.mongoUri M7; credentials, mongo.encryptedCredentials
// and the TLS keys M2 step 3, M4, M21).
//
// On a deployment that already runs, the file's mongo.mongoUri may hold
// credentials (user:password@, plain or credentialstool output beside
// mongo.encryptedCredentials=true) and options hawiz's answers do not name.
// The URIs are compared by meaning (planURI): the hosts as a set, the
// database, the options, credentials present or not. Only a difference is
// written, and what is written keeps the file's credentials, its database
// and the options the answers do not name; mongo.encryptedCredentials,
// mongo.ssl and mongodb.ssl.* are never written.

package opsmanager

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

func haUpdateHostsWithReplicationHosts(a *Answers) *steps.Step {
	c := &a.Common
	creds := "none (the file's credentials, plain or encrypted, are kept)"
	if a.AppDB.Username != "" {
		creds = fmt.Sprintf("appdb.username %s with its password (never shown), unless the file's are encrypted (%s=true: kept) or already the same", a.AppDB.Username, KeyEncryptedCredentials)
	}
	return &steps.Step{
		ID:     StepReplHosts,
		Title:  "Update each Application host with the replication hosts",
		Why:    "every server points at the same App DB replica set, all members listed",
		DocRef: docRefs(haProcStep("3", "update each Application host with the replication hosts"), refMongoURI, refEncryptedCreds, refCredentialsTool),
		Hosts:  c.serverNames(),
		Mode:   steps.EachInOrder,
		Actions: []string{
			fmt.Sprintf("read %s in conf-mms.properties and compare it with %s by meaning (the hosts as a set, the database, the options, credentials present or not); when it already means that, nothing is written", KeyMongoURI, a.AppDB.URI),
			fmt.Sprintf("otherwise change only %s (in place, backup kept): the answers' hosts and the options they name; the file's database and other options kept; credentials: %s; a URI without the file's credentials is never written", KeyMongoURI, creds),
			fmt.Sprintf("never written: %s, %s, mongodb.ssl.*; each server's check says exactly what changes in its file", KeyEncryptedCredentials, KeyMongoSSL),
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			ed, err := readURIEdit(ctx, e, a, host)
			if err != nil {
				return false, "", err
			}
			return ed.done, describeURIEdit(host, ed), nil
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error {
			ans, err := answersCreds(e, a)
			if err != nil {
				return err
			}
			return confEdit(ctx, e, c, host, func(p *Props) error {
				ed, err := ans.plan(e, p)
				if err != nil {
					return fmt.Errorf("%s: %w", host, err)
				}
				if !ed.done {
					e.Output(host, describeURIEdit(host, ed))
					p.Set(KeyMongoURI, ed.value)
				}
				return nil
			})
		},
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			ans, err := answersCreds(e, a)
			if err != nil {
				return "", err
			}
			return confVerifyRule(ctx, e, c, host, confRule{
				keys: []string{KeyMongoURI, KeyCentralURL, KeyRemoteIP},
				check: func(p *Props) error {
					ed, err := ans.plan(e, p)
					if err != nil {
						return err
					}
					if !ed.done {
						return fmt.Errorf("%s: %s does not mean the answers' App DB: %s", host, KeyMongoURI, strings.Join(ed.changes, "; "))
					}
					return nil
				},
				value: func(k, v string) string {
					if k != KeyMongoURI {
						return confValue(k, v)
					}
					if u, err := parseMongoURI(v); err == nil {
						return u.meaning()
					}
					return v
				},
			})
		},
	}
}

// uriAnswers is what the answers bring to mongo.mongoUri: the URI and, with
// appdb.username, the credentials (raw, percent-encoded, and decoded).
type uriAnswers struct {
	uri, creds, user, pass string
}

func (u uriAnswers) plan(e *steps.Env, p *Props) (uriEdit, error) {
	v, _ := p.Get(KeyMongoURI)
	registerURICreds(e, v)
	return planURI(p, u.uri, u.creds, u.user, u.pass)
}

// answersCreds reads the App DB password when appdb.username is set; the
// password, also percent-encoded as it lands in the file, is registered
// with the redactor.
func answersCreds(e *steps.Env, a *Answers) (uriAnswers, error) {
	u := uriAnswers{uri: a.AppDB.URI}
	registerURICreds(e, u.uri)
	if a.AppDB.Username == "" {
		return u, nil
	}
	pw, err := e.Secret(steps.SecretAppDBPassword)
	if err != nil {
		return u, err
	}
	u.user, u.pass = a.AppDB.Username, pw
	u.creds = url.UserPassword(a.AppDB.Username, pw).String()
	// The percent-encoded form is what lands in the file.
	e.Redactor().Add(strings.TrimPrefix(url.UserPassword("", pw).String(), ":"))
	return u, nil
}

// readURIEdit reads host's conf-mms.properties and plans its mongo.mongoUri.
func readURIEdit(ctx context.Context, e *steps.Env, a *Answers, host string) (uriEdit, error) {
	ans, err := answersCreds(e, a)
	if err != nil {
		return uriEdit{}, err
	}
	l, err := resolveLayout(ctx, e, &a.Common, host)
	if err != nil {
		return uriEdit{}, err
	}
	h, err := e.Host(host)
	if err != nil {
		return uriEdit{}, err
	}
	b, _, err := h.ReadFile(ctx, l.Conf, l.Sudo)
	if err != nil {
		return uriEdit{}, err
	}
	ed, err := ans.plan(e, ParseProps(b))
	if err != nil {
		return uriEdit{}, fmt.Errorf("%s: %s: %w", host, l.Conf, err)
	}
	return ed, nil
}

// describeURIEdit says what changes in the file (or that nothing does) and
// what is kept; never a credential.
func describeURIEdit(host string, ed uriEdit) string {
	var b strings.Builder
	if ed.done {
		fmt.Fprintf(&b, "%s: %s already names the answers' App DB (hosts as a set, options, credentials): nothing to write", host, KeyMongoURI)
	} else {
		fmt.Fprintf(&b, "%s: %s changes: %s", host, KeyMongoURI, strings.Join(ed.changes, "; "))
	}
	if len(ed.kept) > 0 {
		fmt.Fprintf(&b, "; kept: %s", strings.Join(ed.kept, "; "))
	}
	fmt.Fprintf(&b, "; %s, %s and mongodb.ssl.* are not written", KeyEncryptedCredentials, KeyMongoSSL)
	return b.String()
}
