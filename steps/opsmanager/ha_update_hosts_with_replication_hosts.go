// ha_update_hosts_with_replication_hosts.go: step
// update-hosts-with-replication-hosts of opsmanager-ha: mongo.mongoUri, the
// same App DB replica set with every member, on every server
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// step 3, M2; mongo.mongoUri M7).

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
	return &steps.Step{
		ID:     StepReplHosts,
		Title:  "Update each Application host with the replication hosts",
		Why:    "every server points at the same App DB replica set, all members listed",
		DocRef: "M2 step 3; M7 (mongo.mongoUri)",
		Hosts:  c.serverNames(),
		Mode:   steps.EachInOrder,
		Actions: []string{
			fmt.Sprintf("set %s=%s in conf-mms.properties (credentials spliced in when appdb.username is set; never shown)", KeyMongoURI, a.AppDB.URI),
		},
		Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
			kv, err := uriKeys(e, a)
			if err != nil {
				return false, "", err
			}
			return confHas(ctx, e, c, host, kv)
		},
		Apply: func(ctx context.Context, e *steps.Env, host string) error {
			kv, err := uriKeys(e, a)
			if err != nil {
				return err
			}
			return confSet(ctx, e, c, host, kv)
		},
		Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
			kv, err := uriKeys(e, a)
			if err != nil {
				return "", err
			}
			return confVerify(ctx, e, c, host, kv, []string{KeyMongoURI, KeyCentralURL, KeyRemoteIP})
		},
	}
}

// uriKeys is mongo.mongoUri with the App DB credentials spliced in when
// appdb.username is set; the password, also percent-encoded as it lands in
// the file, is registered with the redactor.
func uriKeys(e *steps.Env, a *Answers) ([]kv, error) {
	uri := a.AppDB.URI
	if a.AppDB.Username != "" {
		pw, err := e.Secret(steps.SecretAppDBPassword)
		if err != nil {
			return nil, err
		}
		uri = WithCredentials(uri, a.AppDB.Username, pw)
		// The percent-encoded form is what lands in the file.
		enc := strings.TrimPrefix(url.UserPassword("", pw).String(), ":")
		e.Redactor().Add(enc)
	}
	return []kv{{KeyMongoURI, uri}}, nil
}
