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
	// Arbiters are the URI's hosts whose hello said arbiterOnly: they were
	// not asked for the configuration (arbiters hold no users).
	Arbiters []string `bson:"-"`
}

// Documents the App DB rules come from.
const (
	// DocAppDBTopology: "Considerations › Replica Set Topology": each
	// backing database replica set should include three data-bearing
	// members for high availability; Ops Manager writes with w:2, so with
	// two a lost member stops writes.
	DocAppDBTopology = "https://www.mongodb.com/docs/ops-manager/current/tutorial/prepare-backing-mongodb-instances/ (Considerations › Replica Set Topology)"
	// DocAppDBPlacement: "Replica Set for the Application Database": one
	// facility holds a majority of the votes and every member that can
	// become primary.
	DocAppDBPlacement = "https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/ (Overview › Replica Set for the Application Database)"
	// DocArbiterAuth: arbiters hold no users, so nobody authenticates to
	// them (MongoDB manual, Replica Set Arbiter › Security › Authentication).
	DocArbiterAuth = "https://www.mongodb.com/docs/manual/core/replica-set-arbiter/ (Security › Authentication)"
	// DefaultFacilityTag is the member tag that names a facility when
	// appdb.facility_tag is not given.
	DefaultFacilityTag = "dc"
)

// facilityTag is appdb.facility_tag or its default.
func (d *AppDB) facilityTag() string {
	if d.FacilityTag == "" {
		return DefaultFacilityTag
	}
	return d.FacilityTag
}

// errArbiter: the host's hello says it is an arbiter.
var errArbiter = errors.New("an arbiter")

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
// unreachable App DB costs one timeout, not one per host. Each host is
// first asked hello without credentials: an arbiter (arbiterOnly) holds no
// users, so it is skipped, never authenticated to (DocArbiterAuth). It
// needs the clusterMonitor role, which the Ops Manager user has (M15). An
// authentication or command error from any data-bearing host ends the
// check with that error (the credentials and the role are the same on
// every such member). When every host fails or is an arbiter, the error
// gives each host's reason in the URI's order.
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
		errs     = make([]error, len(hosts))
		arbiters = make([]bool, len(hosts))
		win      *LiveConfig
		final    error
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
		case errors.Is(r.err, errArbiter):
			arbiters[r.i] = true
			errs[r.i] = fmt.Errorf("%s: an arbiter (hello says arbiterOnly; arbiters hold no users, not asked)", h)
		case isAuthError(r.err):
			final = fmt.Errorf("%s: authentication as %q failed (check appdb.username and %s): %w", h, user, "HAWIZ_APPDB_PASSWORD", r.err)
			cancel()
		case errors.As(r.err, &ce):
			final = fmt.Errorf("%s: replSetGetConfig: %w (the user needs the clusterMonitor role: "+refBacking.String()+")", h, r.err)
			cancel()
		default:
			errs[r.i] = fmt.Errorf("%s: %w", h, r.err)
		}
	}
	if win != nil {
		for i, h := range hosts {
			if arbiters[i] {
				win.Arbiters = append(win.Arbiters, h.String())
			}
		}
		return *win, nil
	}
	if final != nil {
		return LiveConfig{}, final
	}
	return LiveConfig{}, fmt.Errorf("%w: %w", ErrAppDBUnreachable, errors.Join(errs...))
}

// readConfigFrom asks one host hello without credentials and, unless it
// is an arbiter (errArbiter), replSetGetConfig as user.
func readConfigFrom(ctx context.Context, uri, host, user, password string, timeout time.Duration, dial Dialer) (LiveConfig, error) {
	var hello struct {
		ArbiterOnly bool `bson:"arbiterOnly"`
	}
	if err := runOn(ctx, uri, host, nil, timeout, dial, bson.D{{Key: "hello", Value: 1}}, &hello); err != nil {
		return LiveConfig{}, err
	}
	if hello.ArbiterOnly {
		return LiveConfig{}, errArbiter
	}
	var cred *options.Credential
	if user != "" {
		cred = &options.Credential{Username: user, Password: password, AuthSource: "admin"}
	}
	var out struct {
		Config LiveConfig `bson:"config"`
	}
	if err := runOn(ctx, uri, host, cred, timeout, dial, bson.D{{Key: "replSetGetConfig", Value: 1}}, &out); err != nil {
		return LiveConfig{}, err
	}
	return out.Config, nil
}

// runOn runs cmd against admin on host alone (a direct connection with the
// URI's options), authenticated with cred when it is set, and decodes the
// reply into out.
func runOn(ctx context.Context, uri, host string, cred *options.Credential, timeout time.Duration, dial Dialer, cmd bson.D, out any) error {
	opts := options.Client().ApplyURI(uri).SetHosts([]string{host}).SetDirect(true).
		SetServerSelectionTimeout(timeout).SetConnectTimeout(timeout).SetAppName("hawiz")
	if dial != nil {
		opts.SetDialer(dial)
	}
	if cred != nil {
		opts.SetAuth(*cred)
	}
	cl, err := mongo.Connect(opts)
	if err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = cl.Disconnect(dctx)
	}()
	cctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	return cl.Database("admin").RunCommand(cctx, cmd).Decode(out)
}

// CompareLive judges the live configuration and compares it with the
// answers. The rules are applied to what the live set says, whatever the
// answers describe: it needs at least three data-bearing members
// (DocAppDBTopology), and one facility, named by each member's tag
// appdb.facility_tag, must hold a majority of the votes and every member
// that can become primary (DocAppDBPlacement). Every data-bearing member
// is listed in the URI and every URI host is a member (M7); members
// described in the answers have the live votes, priority, arbiter role and
// facility. It returns problems (stop) and warnings.
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
				problems = append(problems, fmt.Sprintf("member %s of %q is not in appdb.uri: list every member ("+refMongoURI.String()+")", m.Host, live.SetName))
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
		problems = append(problems, fmt.Sprintf("the live set %q has %d data-bearing member(s); an HA Application Database needs three: Ops Manager writes with w:2, so losing one of two stops writes (%s)", live.SetName, dataBearing, DocAppDBTopology))
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
		if t, ok := lm.Tags[d.facilityTag()]; ok && m.Facility != "" && m.Facility != t {
			problems = append(problems, fmt.Sprintf("%s.facility is %q, the live member's tag %q says %q", f, m.Facility, d.facilityTag(), t))
		}
	}
	if len(d.Members) > 0 && len(d.Members) != len(live.Members) {
		problems = append(problems, fmt.Sprintf("appdb.members describes %d members, the live set %q has %d", len(d.Members), live.SetName, len(live.Members)))
	}
	p, _ := livePlacement(d, live)
	return append(problems, p...), warnings
}

// livePlacement applies the placement rule (CheckPlacement) to the live
// members: a member's facility is its tag appdb.facility_tag, else the
// facility appdb.members gives its host. Members without a facility while
// others have one are named; a set where none has one is one facility
// (the rule is for members in several facilities). note says how the
// placement was judged.
func livePlacement(d *AppDB, live LiveConfig) (problems []string, note string) {
	tag := d.facilityTag()
	declared := map[string]string{}
	for _, m := range d.Members {
		declared[strings.ToLower(m.Host)] = m.Facility
	}
	var (
		ms      []Member
		without []string
	)
	for _, lm := range live.Members {
		votes, prio := lm.Votes, 0
		if lm.Priority > 0 {
			prio = max(1, int(lm.Priority)) // any priority above 0 can become primary
		}
		m := Member{Host: lm.Host, Votes: &votes, Priority: &prio, Arbiter: lm.ArbiterOnly}
		if f, ok := lm.Tags[tag]; ok && f != "" {
			m.Facility = f
		} else {
			m.Facility = declared[strings.ToLower(normHost(lm.Host))]
		}
		if m.Facility == "" {
			without = append(without, lm.Host)
		}
		ms = append(ms, m)
	}
	switch {
	case len(ms) == 0:
		return nil, ""
	case len(without) == len(ms):
		return nil, fmt.Sprintf("one facility: no member carries the tag %q (appdb.facility_tag) and appdb.members gives none", tag)
	case len(without) > 0:
		return []string{fmt.Sprintf("the live set %q: %s carr%s no tag %q (appdb.facility_tag) while other members do, and appdb.members gives no facility for %s: hawiz cannot tell whether one facility holds a majority of the votes and every member that can become primary (%s)",
			live.SetName, strings.Join(without, ", "), map[bool]string{true: "ies", false: "y"}[len(without) == 1], tag, map[bool]string{true: "it", false: "them"}[len(without) == 1], DocAppDBPlacement)}, ""
	}
	if err := CheckPlacement(ms); err != nil {
		return []string{fmt.Sprintf("the live set %q, facilities from the member tag %q: %v (%s)", live.SetName, tag, err, DocAppDBPlacement)}, ""
	}
	facs := map[string]int{}
	total := 0
	for _, m := range ms {
		facs[m.Facility] += *m.Votes
		total += *m.Votes
	}
	var fs []string
	for f, v := range facs {
		fs = append(fs, fmt.Sprintf("%s %d/%d votes", f, v, total))
	}
	sort.Strings(fs)
	return nil, fmt.Sprintf("placement holds by the member tag %q: %s; every member that can become primary in the majority facility", tag, strings.Join(fs, ", "))
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
		if len(m.Tags) > 0 {
			var ts []string
			for k, v := range m.Tags {
				ts = append(ts, k+"="+v)
			}
			sort.Strings(ts)
			role += ", tags " + strings.Join(ts, " ")
		}
		ms = append(ms, m.Host+" ("+role+")")
	}
	from := c.From
	if c.Via != "" {
		from += " through " + c.Via + "'s SSH connection"
	}
	if len(c.Arbiters) > 0 {
		from += "; arbiters not asked: " + strings.Join(c.Arbiters, ", ")
	}
	return fmt.Sprintf("replica set %q version %d (read from %s): %s", c.SetName, c.Version, from, strings.Join(ms, ", "))
}

func isAuthError(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "auth error") || strings.Contains(s, "authentication failed")
}
