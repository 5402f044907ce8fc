package steps

// MemStore, the in-memory stateStore for tests, and RunWithStore, which
// runs a procedure with it (both for package steps_test too); and the
// contract every stateStore keeps, checked on the state file and on
// MemStore.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// MemStore keeps a run's state in memory: every save in order, as the JSON
// a state file would hold, and whether it was durable. One run at a time
// holds its lock.
type MemStore struct {
	mu     sync.Mutex
	locked bool
	saves  []memSave
}

type memSave struct {
	data    []byte
	durable bool
}

// MemSave is one save as MemStore.Saves returns it.
type MemSave struct {
	State   *State
	Durable bool
}

// RunWithStore is Run with the state kept in s instead of the state file
// (the transcript and the evidence still go beside cfg.StatePath).
func RunWithStore(ctx context.Context, cfg RunConfig, s *MemStore) (Outcome, error) {
	return runWith(ctx, cfg, func(string) stateStore { return s })
}

func (m *MemStore) Lock() (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locked {
		return nil, &RefusedError{Reason: "another hawiz run holds the in-memory state"}
	}
	m.locked = true
	return func() {
		m.mu.Lock()
		m.locked = false
		m.mu.Unlock()
	}, nil
}

func (m *MemStore) Load() (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.saves) == 0 {
		return nil, fmt.Errorf("in-memory state: %w", fs.ErrNotExist)
	}
	return parseState("in-memory state", m.saves[len(m.saves)-1].data)
}

func (m *MemStore) Save(st *State, durable bool) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saves = append(m.saves, memSave{data, durable})
	return nil
}

// Saves returns a copy of every save so far, in order.
func (m *MemStore) Saves() []MemSave {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []MemSave
	for _, s := range m.saves {
		st, err := parseState("in-memory state", s.data)
		if err != nil {
			panic(err) // Save wrote it from a State
		}
		out = append(out, MemSave{st, s.durable})
	}
	return out
}

// Every stateStore: nothing to load before the first save (fs.ErrNotExist);
// one lock holder at a time, refused with exit 4; Load returns the last
// save, whether durable or not, as a copy.
func TestStateStoreContract(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) stateStore{
		"file":   func(t *testing.T) stateStore { return openFileStore(filepath.Join(t.TempDir(), "s.json")) },
		"memory": func(*testing.T) stateStore { return &MemStore{} },
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			unlock, err := s.Lock()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Lock(); ExitCode(err) != ExitRefused {
				t.Fatalf("second Lock: %v (exit %d), want refused", err, ExitCode(err))
			}
			if _, err := s.Load(); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Load before a save: %v", err)
			}
			p := &Procedure{Name: "contract", Version: 1}
			st := newState(p, []*Step{{ID: "a", Hosts: []string{"h1", "h2"}}}, "r", "x: 1\n", "", "dev", time.Now().UTC())
			for i, d := range []bool{cacheOnly, durable, cacheOnly} {
				st.Steps[0].Hosts[0].Attempts = i + 1
				if err := s.Save(st, d); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.Load()
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(st)
			if b, _ := json.Marshal(got); string(b) != string(want) {
				t.Fatalf("Load = %s\nwant %s", b, want)
			}
			if got.Steps[0].Hosts[0].Status = StatusDone; st.Steps[0].Hosts[0].Status == StatusDone {
				t.Fatal("Load returned the saved state itself, not a copy")
			}
			unlock()
			unlock2, err := s.Lock()
			if err != nil {
				t.Fatalf("Lock after unlock: %v", err)
			}
			unlock2()
		})
	}
}
