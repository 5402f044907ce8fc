package opsmanager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hawiz/hawiz/lab/standins/appdb"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// startFakeAppDB starts the lab's stand-in App DB (lab/standins/appdb: the
// wire protocol, SCRAM-SHA-256, replSetGetConfig), closed with the test.
func startFakeAppDB(t *testing.T, user, password string, config bson.D) *appdb.Server {
	t.Helper()
	f, err := appdb.Start(user, password, config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// appDBPassword is the stand-in App DB's password in these tests: with a
// space, an @ and a colon, which the URI must not carry unescaped.
const appDBPassword = "app db p@ss:word"

// startAppDBSet starts the stand-in App DB (user "opsmanager",
// appDBPassword) with a replica set "appdb" of one voting data member per
// host, with the priorities in the hosts' order.
func startAppDBSet(t *testing.T, hosts []string, prios ...float64) *appdb.Server {
	t.Helper()
	var ms []bson.D
	for i, h := range hosts {
		ms = append(ms, member(i, h, 1, prios[i], false))
	}
	return startFakeAppDB(t, "opsmanager", appDBPassword, liveConfigDoc(ms...))
}

func liveConfigDoc(members ...bson.D) bson.D {
	a := bson.A{}
	for _, m := range members {
		a = append(a, m)
	}
	return bson.D{{Key: "_id", Value: "appdb"}, {Key: "version", Value: int32(7)}, {Key: "members", Value: a}}
}

func member(id int, host string, votes int, prio float64, arbiter bool) bson.D {
	return bson.D{{Key: "_id", Value: int32(id)}, {Key: "host", Value: host}, {Key: "arbiterOnly", Value: arbiter},
		{Key: "priority", Value: prio}, {Key: "votes", Value: int32(votes)}, {Key: "hidden", Value: false}, {Key: "tags", Value: bson.D{}}}
}

func TestReadLiveConfigAgainstFakeAppDB(t *testing.T) {
	const pw = appDBPassword
	f := startAppDBSet(t, []string{"db1.test:27017", "db2.test:27017", "db3.test:27017"}, 2, 1, 0)
	// The URI names an unreachable host first: hawiz tries the next one.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	uri := fmt.Sprintf("mongodb://%s,%s,db3.test:27017/?maxPoolSize=100", deadAddr, f.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	live, err := ReadLiveConfig(ctx, uri, "opsmanager", pw, 2*time.Second, nil)
	if err != nil {
		t.Fatalf("ReadLiveConfig: %v (commands seen: %v)", err, f.Commands())
	}
	if live.SetName != "appdb" || len(live.Members) != 3 || live.Members[0].Priority != 2 || live.From != f.Addr() {
		t.Fatalf("live config: %+v", live)
	}
	seen := strings.Join(f.Commands(), ",")
	for _, c := range []string{"isMaster", "saslStart", "saslContinue", "replSetGetConfig"} {
		if !strings.Contains(strings.ToLower(seen), strings.ToLower(c)) {
			t.Errorf("the driver did not send %s (sent %s)", c, seen)
		}
	}
	// Compare with answers.
	d := AppDB{URI: "mongodb://db1.test:27017,db2.test:27017,db3.test:27017/", Members: []Member{
		{Host: "db1.test:27017", Votes: ip(1), Priority: ip(2)},
		{Host: "db2.test:27017", Votes: ip(1), Priority: ip(1)},
		{Host: "db3.test:27017", Votes: ip(1), Priority: ip(0)},
	}}
	if p, w := CompareLive(&d, live); len(p) != 0 || len(w) != 0 {
		t.Fatalf("matching answers: %v %v", p, w)
	}
	d.Members[1].Priority = ip(5)
	d.URI = "mongodb://db1.test:27017,db2.test:27017,db9.test:27017/"
	p, _ := CompareLive(&d, live)
	got := strings.Join(p, "\n")
	for _, want := range []string{"appdb.members[1].priority is 5, the live set says 1", "member db3.test:27017 of \"appdb\" is not in appdb.uri", "appdb.uri lists db9.test:27017, which is not a member"} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in:\n%s", want, got)
		}
	}
	// A wrong password is an authentication failure, not "unreachable".
	_, err = ReadLiveConfig(ctx, "mongodb://"+f.Addr()+"/", "opsmanager", "wrong", 2*time.Second, nil)
	if err == nil || errors.Is(err, ErrAppDBUnreachable) || !strings.Contains(err.Error(), "authentication") {
		t.Fatalf("wrong password: %v", err)
	}
	// Nothing listening: unreachable.
	_, err = ReadLiveConfig(ctx, "mongodb://"+deadAddr+"/", "opsmanager", pw, time.Second, nil)
	if !errors.Is(err, ErrAppDBUnreachable) {
		t.Fatalf("dead App DB: %v", err)
	}
}

// blockingNet is a Dialer for three App DB hosts where only the names in
// live reach the fake; the others hang until the dial's context ends (a
// firewall that drops the SYN). It records how each hanging dial ended.
type blockingNet struct {
	live    map[string]string // URI host -> fake address
	mu      sync.Mutex
	started map[string]int
	ended   map[string][]error // the context's error when a hanging dial gave up
}

func (n *blockingNet) dial(ctx context.Context, addr string) (net.Conn, error) {
	if a, ok := n.live[addr]; ok {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", a)
	}
	n.mu.Lock()
	n.started[addr]++
	n.mu.Unlock()
	<-ctx.Done()
	n.mu.Lock()
	n.ended[addr] = append(n.ended[addr], ctx.Err())
	n.mu.Unlock()
	return nil, ctx.Err()
}

func newBlockingNet(live map[string]string) *blockingNet {
	return &blockingNet{live: live, started: map[string]int{}, ended: map[string][]error{}}
}

// The URI's hosts are asked at once: two that never answer cost nothing
// once the third has answered, and their attempts are cancelled (not left
// to time out).
func TestReadLiveConfigAsksHostsAtOnce(t *testing.T) {
	const pw = appDBPassword
	f := startAppDBSet(t, []string{"a.test:27017", "b.test:27017", "c.test:27017"}, 1, 1, 1)
	n := newBlockingNet(map[string]string{"c.test:27017": f.Addr()})
	const timeout = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	live, err := ReadLiveConfig(ctx, "mongodb://a.test:27017,b.test:27017,c.test:27017/", "opsmanager", pw, timeout, n.dial)
	took := time.Since(t0)
	if err != nil {
		t.Fatalf("ReadLiveConfig: %v", err)
	}
	if live.From != "c.test:27017" || live.SetName != "appdb" || len(live.Members) != 3 {
		t.Fatalf("live config: %+v", live)
	}
	// One after another, a and b would each have waited the whole timeout first.
	if took >= 2*timeout {
		t.Errorf("took %v with a %v timeout", took, timeout)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, h := range []string{"a.test:27017", "b.test:27017"} {
		if n.started[h] == 0 {
			t.Errorf("%s was never dialled", h)
		}
		// ReadLiveConfig waits for its attempts: every hanging dial has
		// ended by now, cancelled rather than timed out.
		if len(n.ended[h]) != n.started[h] {
			t.Errorf("%s: %d dials started, %d ended when ReadLiveConfig returned", h, n.started[h], len(n.ended[h]))
		}
		for _, e := range n.ended[h] {
			if !errors.Is(e, context.Canceled) {
				t.Errorf("%s: a hanging dial ended with %v, not cancelled", h, e)
			}
		}
	}
}

// When no host answers, the wait is one timeout and the error gives every
// host's reason in the URI's order; a wrong password among hanging hosts
// is still an authentication error, at once, without the password.
func TestReadLiveConfigAllUnreachable(t *testing.T) {
	const pw = appDBPassword
	const timeout = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uri := "mongodb://c.test:27017,a.test:27017,b.test:27017/"
	for range 2 {
		n := newBlockingNet(nil)
		t0 := time.Now()
		_, err := ReadLiveConfig(ctx, uri, "opsmanager", pw, timeout, n.dial)
		took := time.Since(t0)
		if !errors.Is(err, ErrAppDBUnreachable) {
			t.Fatalf("want unreachable, got %v", err)
		}
		msg := err.Error()
		ic, ia, ib := strings.Index(msg, "c.test:27017: "), strings.Index(msg, "a.test:27017: "), strings.Index(msg, "b.test:27017: ")
		if ic < 0 || ia < ic || ib < ia {
			t.Fatalf("the hosts' reasons are not all there in the URI's order (c, a, b):\n%s", msg)
		}
		if took >= 3*timeout {
			t.Errorf("took %v with a %v timeout: the hosts were not asked at once", took, timeout)
		}
	}

	f := startAppDBSet(t, []string{"c.test:27017"}, 1)
	n := newBlockingNet(map[string]string{"b.test:27017": f.Addr()})
	_, err := ReadLiveConfig(ctx, uri, "opsmanager", "wrong "+pw, 10*time.Second, n.dial)
	if err == nil || errors.Is(err, ErrAppDBUnreachable) || !strings.Contains(err.Error(), `b.test:27017: authentication as "opsmanager" failed`) {
		t.Fatalf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), pw) {
		t.Fatalf("the error shows the password: %v", err)
	}
}
