package opsmanager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// LiveMember is one member of the App DB replica set as replSetGetConfig
// reports it.
type LiveMember struct {
	Host        string            `bson:"host"`
	Votes       int               `bson:"votes"`
	Priority    float64           `bson:"priority"`
	ArbiterOnly bool              `bson:"arbiterOnly"`
	Hidden      bool              `bson:"hidden"`
	Tags        map[string]string `bson:"tags"`
}

// LiveConfig is the replica-set configuration read from the App DB.
type LiveConfig struct {
	SetName string       `bson:"_id"`
	Version int64        `bson:"version"`
	Members []LiveMember `bson:"members"`
	From    string       `bson:"-"` // the member that answered
	Via     string       `bson:"-"` // the server whose SSH connection reached it; "" = this machine
}

// ErrAppDBUnreachable wraps connection failures (not an answer from the App DB).
var ErrAppDBUnreachable = errors.New("App DB not reachable")

// Dialer opens the App DB connections: nil dials from this machine; a
// host's remote.Host.DialTCPAddr tunnels them through its SSH connection.
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

func (d Dialer) DialContext(ctx context.Context, _, addr string) (net.Conn, error) {
	return d(ctx, addr)
}

// ReadLiveConfig asks the URI's hosts at once (direct connections, SCRAM
// with user/password against admin) for replSetGetConfig: the first that
// answers with a configuration wins and the others are cancelled, so an
// unreachable App DB costs one timeout, not one per host. It needs the
// clusterMonitor role, which the Ops Manager user has (M15). An
// authentication or command error from any host ends the check with that
// error (the credentials and the role are the same on every member). When
// every host fails, the error gives each host's reason in the URI's order.
// dial, when set, opens every connection (the driver's custom dialer): the
// App DB is reached from wherever dial connects from.
func ReadLiveConfig(ctx context.Context, uri, user, password string, timeout time.Duration, dial Dialer) (LiveConfig, error) {
	hosts, err := ParseAppDBURI(uri)
	if err != nil {
		return LiveConfig{}, err
	}
	type result struct {
		i   int
		cfg LiveConfig
		err error
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan result, len(hosts))
	for i, h := range hosts {
		go func() {
			cfg, err := readConfigFrom(actx, uri, h.String(), user, password, timeout, dial)
			results <- result{i, cfg, err}
		}()
	}
	var (
		errs  = make([]error, len(hosts))
		win   *LiveConfig
		final error
	)
	// Every attempt is waited for (the cancelled ones end at once), so
	// nothing is left dialling when this returns.
	for range hosts {
		r := <-results
		h := hosts[r.i]
		if win != nil || final != nil {
			continue
		}
		if r.err == nil {
			r.cfg.From = h.String()
			win = &r.cfg
			cancel()
			continue
		}
		var ce mongo.CommandError
		switch {
		case isAuthError(r.err):
			final = fmt.Errorf("%s: authentication as %q failed (check appdb.username and %s): %w", h, user, "HAWIZ_APPDB_PASSWORD", r.err)
			cancel()
		case errors.As(r.err, &ce):
			final = fmt.Errorf("%s: replSetGetConfig: %w (the user needs the clusterMonitor role, M15)", h, r.err)
			cancel()
		default:
			errs[r.i] = fmt.Errorf("%s: %w", h, r.err)
		}
	}
	if win != nil {
		return *win, nil
	}
	if final != nil {
		return LiveConfig{}, final
	}
	return LiveConfig{}, fmt.Errorf("%w: %w", ErrAppDBUnreachable, errors.Join(errs...))
}

func readConfigFrom(ctx context.Context, uri, host, user, password string, timeout time.Duration, dial Dialer) (LiveConfig, error) {
	opts := options.Client().ApplyURI(uri).SetHosts([]string{host}).SetDirect(true).
		SetServerSelectionTimeout(timeout).SetConnectTimeout(timeout).SetAppName("hawiz")
	if dial != nil {
		opts.SetDialer(dial)
	}
	if user != "" {
		opts.SetAuth(options.Credential{Username: user, Password: password, AuthSource: "admin"})
	}
	cl, err := mongo.Connect(opts)
	if err != nil {
		return LiveConfig{}, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = cl.Disconnect(dctx)
	}()
	cctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	var out struct {
		Config LiveConfig `bson:"config"`
	}
	if err := cl.Database("admin").RunCommand(cctx, bson.D{{Key: "replSetGetConfig", Value: 1}}).Decode(&out); err != nil {
		return LiveConfig{}, err
	}
	return out.Config, nil
}

// CompareLive checks the live configuration against the answers: every
// data-bearing member is listed in the URI and every URI host is a member
// (M7); members described in the answers have the live votes, priority and
// arbiter role. It returns problems (stop) and warnings.
func CompareLive(d *AppDB, live LiveConfig) (problems, warnings []string) {
	hosts, _ := ParseAppDBURI(d.URI)
	inURI := map[string]bool{}
	for _, h := range hosts {
		inURI[strings.ToLower(h.String())] = true
	}
	liveBy := map[string]LiveMember{}
	dataBearing := 0
	for _, m := range live.Members {
		k := strings.ToLower(normHost(m.Host))
		liveBy[k] = m
		if !m.ArbiterOnly {
			dataBearing++
			if !inURI[k] {
				problems = append(problems, fmt.Sprintf("member %s of %q is not in appdb.uri: list every member (M7)", m.Host, live.SetName))
			}
		}
	}
	var uriHosts []string
	for h := range inURI {
		uriHosts = append(uriHosts, h)
	}
	sort.Strings(uriHosts)
	for _, h := range uriHosts {
		if _, ok := liveBy[h]; !ok {
			problems = append(problems, fmt.Sprintf("appdb.uri lists %s, which is not a member of %q", h, live.SetName))
		}
	}
	if dataBearing < 3 {
		warnings = append(warnings, fmt.Sprintf("the live set %q has %d data-bearing members: Ops Manager writes with w:2 (M15)", live.SetName, dataBearing))
	}
	for i, m := range d.Members {
		lm, ok := liveBy[strings.ToLower(m.Host)]
		f := fmt.Sprintf("appdb.members[%d]", i)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s (%s) is not a member of the live set %q", f, m.Host, live.SetName))
			continue
		}
		if *m.Votes != lm.Votes {
			problems = append(problems, fmt.Sprintf("%s.votes is %d, the live set says %d", f, *m.Votes, lm.Votes))
		}
		if float64(*m.Priority) != lm.Priority {
			problems = append(problems, fmt.Sprintf("%s.priority is %d, the live set says %g", f, *m.Priority, lm.Priority))
		}
		if m.Arbiter != lm.ArbiterOnly {
			problems = append(problems, fmt.Sprintf("%s.arbiter is %v, the live set says %v", f, m.Arbiter, lm.ArbiterOnly))
		}
	}
	if len(d.Members) > 0 && len(d.Members) != len(live.Members) {
		problems = append(problems, fmt.Sprintf("appdb.members describes %d members, the live set %q has %d", len(d.Members), live.SetName, len(live.Members)))
	}
	return problems, warnings
}

func normHost(h string) string {
	if hs, err := ParseAppDBURI("mongodb://" + h); err == nil && len(hs) == 1 {
		return hs[0].String()
	}
	return h
}

func (c LiveConfig) summary() string {
	var ms []string
	for _, m := range c.Members {
		role := fmt.Sprintf("votes %d, priority %g", m.Votes, m.Priority)
		if m.ArbiterOnly {
			role = "arbiter"
		}
		ms = append(ms, m.Host+" ("+role+")")
	}
	from := c.From
	if c.Via != "" {
		from += " through " + c.Via + "'s SSH connection"
	}
	return fmt.Sprintf("replica set %q version %d (read from %s): %s", c.SetName, c.Version, from, strings.Join(ms, ", "))
}

func isAuthError(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "auth error") || strings.Contains(s, "authentication failed")
}
