// Package appdb is a stand-in Ops Manager Application Database for tests
// and `hawiz demo`: an in-process MongoDB wire-protocol server, just enough
// for the Go driver's live check (steps/opsmanager ReadLiveConfig).
//
// It speaks OP_QUERY (the legacy initial handshake) and OP_MSG, and answers
// hello/isMaster, SCRAM-SHA-256 (saslStart/saslContinue, the server side
// from xdg-go/scram), replSetGetConfig (only once authenticated, with the
// configuration it was given), ping and endSessions.
//
// An arbiter (StartArbiter, ServeArbiter) behaves as a real one with
// authorization on: its hello says arbiterOnly, it holds no users, so every
// authentication fails ("arbiters do not store data, so they do not possess
// the internal table of user and role mappings used for authentication":
// https://www.mongodb.com/docs/manual/core/replica-set-arbiter/, Security,
// Authentication), and replSetGetConfig without authentication answers
// Unauthorized.
package appdb

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/xdg-go/scram"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// Server is a running stand-in App DB member.
type Server struct {
	ln       net.Listener
	user     string
	password string
	config   bson.D
	arbiter  bool

	mu       sync.Mutex
	commands []string
	conns    map[net.Conn]bool
	closed   bool
	wg       sync.WaitGroup
}

// Start listens on 127.0.0.1:0 and serves: user/password authenticate
// (SCRAM-SHA-256 against any database), config is what replSetGetConfig
// returns (see ReplSetConfig).
func Start(user, password string, config bson.D) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return Serve(ln, user, password, config), nil
}

// Serve is Start on a listener of the caller's (tests that need to know the
// address before they build the configuration). Close closes ln.
func Serve(ln net.Listener, user, password string, config bson.D) *Server {
	s := &Server{ln: ln, user: user, password: password, config: config, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.serve()
	return s
}

// StartArbiter is Start for an arbiter of the set config describes: no
// users, hello says arbiterOnly.
func StartArbiter(config bson.D) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return ServeArbiter(ln, config), nil
}

// ServeArbiter is Serve for an arbiter (see StartArbiter).
func ServeArbiter(ln net.Listener, config bson.D) *Server {
	s := &Server{ln: ln, config: config, arbiter: true, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.serve()
	return s
}

// OpenConns is the number of client connections open now.
func (s *Server) OpenConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Addr is the listening address ("127.0.0.1:NNNN").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Commands returns the command names received so far, in order.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// Close stops listening, closes the open connections and waits for the
// server's goroutines to end.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// Member is one replica-set member in a configuration.
type Member struct {
	Host     string // "host:port"
	Votes    int
	Priority float64
	Arbiter  bool
	// Tags are the member's replica-set tags, e.g. {"dc": "east"}
	// (https://www.mongodb.com/docs/manual/tutorial/configure-replica-set-tag-sets/).
	Tags map[string]string
}

// ReplSetConfig is a replica-set configuration document as replSetGetConfig
// returns it: _id setName, version, members numbered from 0.
func ReplSetConfig(setName string, version int, members ...Member) bson.D {
	a := bson.A{}
	for i, m := range members {
		keys := make([]string, 0, len(m.Tags))
		for k := range m.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		tags := bson.D{}
		for _, k := range keys {
			tags = append(tags, bson.E{Key: k, Value: m.Tags[k]})
		}
		a = append(a, bson.D{{Key: "_id", Value: int32(i)}, {Key: "host", Value: m.Host}, {Key: "arbiterOnly", Value: m.Arbiter},
			{Key: "priority", Value: m.Priority}, {Key: "votes", Value: int32(m.Votes)}, {Key: "hidden", Value: false}, {Key: "tags", Value: tags}})
	}
	return bson.D{{Key: "_id", Value: setName}, {Key: "version", Value: int32(version)}, {Key: "members", Value: a}}
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.conn(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

type connState struct {
	conv   *scram.ServerConversation
	authed bool
}

func (s *Server) conn(c net.Conn) {
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
			if i > len(body) {
				return
			}
			if err := bson.Unmarshal(body[i:], &cmd); err != nil {
				return
			}
			if len(cmd) > 0 && cmd[0].Key == "$query" {
				if q, ok := cmd[0].Value.(bson.D); ok {
					cmd = q
				}
			}
			reply := s.handle(st, cmd)
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
			if len(body) < 4 {
				return
			}
			flags := binary.LittleEndian.Uint32(body)
			end := len(body)
			if flags&1 != 0 {
				end -= 4
			}
			for i := 4; i < end; {
				kind := body[i]
				i++
				if i+4 > end {
					return
				}
				n := int(binary.LittleEndian.Uint32(body[i:]))
				if n < 4 || i+n > end {
					return
				}
				if kind == 0 {
					if err := bson.Unmarshal(body[i:i+n], &cmd); err != nil {
						return
					}
				}
				i += n
			}
			reply := s.handle(st, cmd)
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

func (s *Server) handle(st *connState, cmd bson.D) bson.D {
	if len(cmd) == 0 {
		return bson.D{{Key: "ok", Value: 0}, {Key: "errmsg", Value: "empty command"}}
	}
	name := cmd[0].Key
	s.mu.Lock()
	s.commands = append(s.commands, name)
	s.mu.Unlock()
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
		role := bson.D{{Key: "ismaster", Value: true}, {Key: "isWritablePrimary", Value: true}, {Key: "hosts", Value: bson.A{s.Addr()}}, {Key: "primary", Value: s.Addr()}}
		if s.arbiter {
			role = bson.D{{Key: "ismaster", Value: false}, {Key: "isWritablePrimary", Value: false}, {Key: "secondary", Value: false},
				{Key: "arbiterOnly", Value: true}, {Key: "arbiters", Value: bson.A{s.Addr()}}}
		}
		r := append(bson.D{{Key: "helloOk", Value: true}}, role...)
		r = append(r, bson.D{
			{Key: "setName", Value: s.setName()}, {Key: "me", Value: s.Addr()},
			{Key: "maxBsonObjectSize", Value: int32(16 << 20)}, {Key: "maxMessageSizeBytes", Value: int32(48000000)},
			{Key: "maxWriteBatchSize", Value: int32(100000)}, {Key: "localTime", Value: bson.NewDateTimeFromTime(time.Now())},
			{Key: "logicalSessionTimeoutMinutes", Value: int32(30)}, {Key: "connectionId", Value: int32(1)},
			{Key: "minWireVersion", Value: int32(0)}, {Key: "maxWireVersion", Value: int32(21)}, {Key: "readOnly", Value: false},
		}...)
		if get("saslSupportedMechs") != nil && !s.arbiter {
			r = append(r, bson.E{Key: "saslSupportedMechs", Value: bson.A{"SCRAM-SHA-256"}})
		}
		return append(r, bson.E{Key: "ok", Value: 1.0})
	case "saslstart":
		if s.arbiter {
			// No users on an arbiter: whoever the client is, it is not found.
			return bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: "Authentication failed."}, {Key: "code", Value: int32(18)}, {Key: "codeName", Value: "AuthenticationFailed"}}
		}
		if m, _ := get("mechanism").(string); m != "SCRAM-SHA-256" {
			return bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: "mechanism " + m + " not supported"}, {Key: "code", Value: int32(2)}}
		}
		srv, _ := scram.SHA256.NewServer(func(u string) (scram.StoredCredentials, error) {
			if u != s.user {
				return scram.StoredCredentials{}, errors.New("no such user")
			}
			cl, err := scram.SHA256.NewClient(s.user, s.password, "")
			if err != nil {
				return scram.StoredCredentials{}, err
			}
			return cl.GetStoredCredentials(scram.KeyFactors{Salt: "hawiz-fake-salt!", Iters: 4096}), nil
		})
		st.conv = srv.NewConversation()
		return s.step(st, get("payload"))
	case "saslcontinue":
		if st.conv == nil {
			return bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: "no conversation"}}
		}
		return s.step(st, get("payload"))
	case "replsetgetconfig":
		if !st.authed {
			return bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: "command replSetGetConfig requires authentication"}, {Key: "code", Value: int32(13)}, {Key: "codeName", Value: "Unauthorized"}}
		}
		return bson.D{{Key: "config", Value: s.config}, {Key: "ok", Value: 1.0}}
	case "ping", "endsessions":
		return bson.D{{Key: "ok", Value: 1.0}}
	}
	return bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: "no such command: " + name}, {Key: "code", Value: int32(59)}}
}

// setName is the configuration's _id ("appdb" when it has none).
func (s *Server) setName() string {
	for _, e := range s.config {
		if n, ok := e.Value.(string); ok && e.Key == "_id" {
			return n
		}
	}
	return "appdb"
}

func (s *Server) step(st *connState, payload any) bson.D {
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
