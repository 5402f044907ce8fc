package opsmanager

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// SetBackends takes a server out of the pool while requests are served
// (go test -race): afterwards no request reaches it; an empty pool is 503.
func TestLBSetBackends(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	var addrs []string
	for _, name := range []string{"a", "b"} {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			mu.Lock()
			hits[name]++
			mu.Unlock()
		}))
		defer s.Close()
		addrs = append(addrs, strings.TrimPrefix(s.URL, "http://"))
	}
	lb := &LB{Backends: addrs}
	front := httptest.NewServer(lb)
	defer front.Close()
	get := func() int {
		r, err := http.Get(front.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); lb.SetBackends(addrs[:1]) }()
	for i := 0; i < 4; i++ {
		get()
	}
	wg.Wait()
	mu.Lock()
	hits = map[string]int{}
	mu.Unlock()
	for i := 0; i < 6; i++ {
		if c := get(); c != 200 {
			t.Fatalf("status %d", c)
		}
	}
	if hits["b"] != 0 || hits["a"] != 6 {
		t.Errorf("hits after b left the pool: %v", hits)
	}
	lb.SetBackends(nil)
	if c := get(); c != http.StatusServiceUnavailable {
		t.Errorf("empty pool: %d, want 503", c)
	}
}
