package opsmanager

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xdg-go/scram"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// fakeAppDB is an in-process MongoDB wire-protocol server, just enough for
// the Go driver: OP_QUERY (the legacy initial handshake) and OP_MSG; hello,
// SCRAM-SHA-256 (saslStart/saslContinue, server side from xdg-go/scram),
// replSetGetConfig (only once authenticated), ping, endSessions.
type fakeAppDB struct {
	ln       net.Listener
	user     string
	password string
	config   bson.D
	mu       sync.Mutex
	commands []string
}

func startFakeAppDB(t *testing.T, user, password string, config bson.D) *fakeAppDB {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAppDB{ln: ln, user: user, password: password, config: config}
	go f.serve()
	t.Cleanup(func() { ln.Close() })
	return f
}

func (f *fakeAppDB) Addr() string { return f.ln.Addr().String() }

func (f *fakeAppDB) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.conn(c)
	}
}

type connState struct {
	conv   *scram.ServerConversation
	authed bool
}

func (f *fakeAppDB) conn(c net.Conn) {
	defer c.Close()
	st := &connState{}
	for {
		var hdr [16]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		size := int(binary.LittleEndian.Uint32(hdr[0:]))
		reqID := binary.LittleEndian.Uint32(hdr[4:])
		op := binary.LittleEndian.Uint32(hdr[12:])
		if size < 16 || size > 48<<20 {
			return
		}
		body := make([]byte, size-16)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		var cmd bson.D
		switch op {
		case 2004: // OP_QUERY: flags, cstring collection, skip, return, query
			i := 4
			for i < len(body) && body[i] != 0 {
				i++
			}
			i += 1 + 8
			if err := bson.Unmarshal(body[i:], &cmd); err != nil {
				return
			}
			if len(cmd) > 0 && cmd[0].Key == "$query" {
				if q, ok := cmd[0].Value.(bson.D); ok {
					cmd = q
				}
			}
			reply := f.handle(st, cmd)
			doc, _ := bson.Marshal(reply)
			out := make([]byte, 16+20+len(doc))
			binary.LittleEndian.PutUint32(out[0:], uint32(len(out)))
			binary.LittleEndian.PutUint32(out[8:], reqID)
			binary.LittleEndian.PutUint32(out[12:], 1) // OP_REPLY
			binary.LittleEndian.PutUint32(out[32:], 1) // numberReturned
			copy(out[36:], doc)
			if _, err := c.Write(out); err != nil {
				return
			}
		case 2013: // OP_MSG: flagBits, sections
			flags := binary.LittleEndian.Uint32(body)
			end := len(body)
			if flags&1 != 0 {
				end -= 4
			}
			for i := 4; i < end; {
				kind := body[i]
				i++
				n := int(binary.LittleEndian.Uint32(body[i:]))
				if kind == 0 {
					if err := bson.Unmarshal(body[i:i+n], &cmd); err != nil {
						return
					}
				}
				i += n
			}
			reply := f.handle(st, cmd)
			doc, _ := bson.Marshal(reply)
			out := make([]byte, 16+5+len(doc))
			binary.LittleEndian.PutUint32(out[0:], uint32(len(out)))
			binary.LittleEndian.PutUint32(out[8:], reqID)
			binary.LittleEndian.PutUint32(out[12:], 2013)
			out[20] = 0 // section kind 0
			copy(out[21:], doc)
			if _, err := c.Write(out); err != nil {
				return
			}
		default:
			return
		}
	}
}

func (f *fakeAppDB) handle(st *connState, cmd bson.D) bson.D {
	if len(cmd) == 0 {
		return bson.D{{Key: "ok", Value: 0}, {Key: "errmsg", Value: "empty command"}}
	}
	name := cmd[0].Key
	f.mu.Lock()
	f.commands = append(f.commands, name)
	f.mu.Unlock()
	get := func(k string) any {
		for _, e := range cmd {
			if e.Key == k {
				return e.Value
			}
		}
		return nil
	}
	switch strings.ToLower(name) {
	case "hello", "ismaster":
		r := bson.D{
			{Key: "helloOk", Value: true}, {Key: "ismaster", Value: true}, {Key: "isWritablePrimary", Value: true},
			{Key: "setName", Value: "appdb"}, {Key: "hosts", Value: bson.A{f.Addr()}}, {Key: "primary", Value: f.Addr()}, {Key: "me", Value: f.Addr()},
			{Key: "maxBsonObjectSize", Value: int32(16 << 20)}, {Key: "maxMessageSizeBytes", Value: int32(48000000)},
			{Key: "maxWriteBatchSize", Value: int32(100000)}, {Key: "localTime", Value: bson.NewDateTimeFromTime(time.Now())},
			{Key: "logicalSessionTimeoutMinutes", Value: int32(30)}, {Key: "connectionId", Value: int32(1)},
			{Key: "minWireVersion", Value: int32(0)}, {Key: "maxWireVersion", Value: int32(21)}, {Key: "readOnly", Value: false},
		}
		if get("saslSupportedMechs") != nil {
			r = append(r, bson.E{Key: "saslSupportedMechs", Value: bson.A{"SCRAM-SHA-256"}})
		}
		return append(r, bson.E{Key: "ok", Value: 1.0})
	case "saslstart":
		if m, _ := get("mechanism").(string); m != "SCRAM-SHA-256" {
			return bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: "mechanism " + m + " not supported"}, {Key: "code", Value: int32(2)}}
		}
		srv, _ := scram.SHA256.NewServer(func(u string) (scram.StoredCredentials, error) {
			if u != f.user {
				return scram.StoredCredentials{}, errors.New("no such user")
			}
			cl, err := scram.SHA256.NewClient(f.user, f.password, "")
			if err != nil {
				return scram.StoredCredentials{}, err
			}
			return cl.GetStoredCredentials(scram.KeyFactors{Salt: "hawiz-fake-salt!", Iters: 4096}), nil
		})
		st.conv = srv.NewConversation()
		return f.step(st, get("payload"))
	case "saslcontinue":
		if st.conv == nil {
			return bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: "no conversation"}}
		}
		return f.step(st, get("payload"))
	case "replsetgetconfig":
		if !st.authed {
			return bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: "command replSetGetConfig requires authentication"}, {Key: "code", Value: int32(13)}, {Key: "codeName", Value: "Unauthorized"}}
		}
		return bson.D{{Key: "config", Value: f.config}, {Key: "ok", Value: 1.0}}
	case "ping", "endsessions":
		return bson.D{{Key: "ok", Value: 1.0}}
	}
	return bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: "no such command: " + name}, {Key: "code", Value: int32(59)}}
}

func (f *fakeAppDB) step(st *connState, payload any) bson.D {
	var in []byte
	switch p := payload.(type) {
	case bson.Binary:
		in = p.Data
	case []byte:
		in = p
	}
	out, err := st.conv.Step(string(in))
	if err != nil {
		return bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: "Authentication failed."}, {Key: "code", Value: int32(18)}, {Key: "codeName", Value: "AuthenticationFailed"}}
	}
	if st.conv.Done() && st.conv.Valid() {
		st.authed = true
	}
	return bson.D{{Key: "conversationId", Value: int32(1)}, {Key: "done", Value: st.conv.Done()},
		{Key: "payload", Value: bson.Binary{Data: []byte(out)}}, {Key: "ok", Value: 1.0}}
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
	const pw = "app db p@ss:word"
	f := startFakeAppDB(t, "opsmanager", pw, liveConfigDoc(
		member(0, "db1.test:27017", 1, 2, false),
		member(1, "db2.test:27017", 1, 1, false),
		member(2, "db3.test:27017", 1, 0, false)))
	// The URI names an unreachable host first: hawiz tries the next one.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	uri := fmt.Sprintf("mongodb://%s,%s,db3.test:27017/?maxPoolSize=100", deadAddr, f.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	live, err := ReadLiveConfig(ctx, uri, "opsmanager", pw, 2*time.Second, nil)
	if err != nil {
		t.Fatalf("ReadLiveConfig: %v (commands seen: %v)", err, f.commands)
	}
	if live.SetName != "appdb" || len(live.Members) != 3 || live.Members[0].Priority != 2 || live.From != f.Addr() {
		t.Fatalf("live config: %+v", live)
	}
	f.mu.Lock()
	seen := strings.Join(f.commands, ",")
	f.mu.Unlock()
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
