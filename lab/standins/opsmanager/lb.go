package opsmanager

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// LB is a stand-in load balancer for tests and the demo: a round-robin
// reverse proxy over the servers' addresses that sets X-Forwarded-For. With
// Cache set it behaves like an LB with caching left on (which the docs
// forbid, M1): GET responses are kept per URL for CacheFor and replayed with
// Age and X-Cache: HIT headers and their original Date.
type LB struct {
	Backends []string // "host:port"
	Cache    bool
	CacheFor time.Duration // default 60s
	TLS      bool          // the backends serve HTTPS (certificates not verified)
	// Resolve, when set, maps a Backends entry to the address to dial, per
	// request (the demo: a stand-in's published port); "" = the backend is
	// down (502, as a dial to a closed port gives).
	Resolve func(backend string) string

	next  atomic.Uint64
	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	at     time.Time
	status int
	header http.Header
	body   []byte
}

// SetBackends replaces the pool (safe while requests are served): what
// an operator does on a real load balancer to take a server out of it.
func (lb *LB) SetBackends(backends []string) {
	lb.mu.Lock()
	lb.Backends = append([]string(nil), backends...)
	lb.mu.Unlock()
}

// Pool is the pool now (a copy; never nil).
func (lb *LB) Pool() []string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return append([]string{}, lb.Backends...)
}

func (lb *LB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.URL.RequestURI()
	if lb.Cache && r.Method == http.MethodGet {
		lb.mu.Lock()
		c, ok := lb.cache[key]
		lb.mu.Unlock()
		ttl := lb.CacheFor
		if ttl == 0 {
			ttl = 60 * time.Second
		}
		if ok && time.Since(c.at) < ttl {
			for k, v := range c.header {
				w.Header()[k] = v
			}
			w.Header().Set("Age", strconv.Itoa(int(time.Since(c.at).Seconds())))
			w.Header().Set("X-Cache", "HIT")
			w.WriteHeader(c.status)
			_, _ = w.Write(c.body)
			return
		}
	}
	lb.mu.Lock()
	pool := lb.Backends
	lb.mu.Unlock()
	if len(pool) == 0 {
		http.Error(w, "503 Service Unavailable: no server in the pool", http.StatusServiceUnavailable)
		return
	}
	be := pool[int(lb.next.Add(1)-1)%len(pool)]
	if lb.Resolve != nil {
		if be = lb.Resolve(be); be == "" {
			http.Error(w, "502 Bad Gateway: the server is down", http.StatusBadGateway)
			return
		}
	}
	target := &url.URL{Scheme: "http", Host: be}
	if lb.TLS {
		target.Scheme = "https"
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // lab backends' self-signed certs
	if !lb.Cache {
		proxy.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	proxy.ServeHTTP(rec, r)
	res := rec.Result()
	var body bytes.Buffer
	_, _ = body.ReadFrom(res.Body)
	if res.Header.Get("Date") == "" {
		res.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	lb.mu.Lock()
	if lb.cache == nil {
		lb.cache = map[string]cached{}
	}
	lb.cache[key] = cached{at: time.Now(), status: res.StatusCode, header: res.Header.Clone(), body: body.Bytes()}
	lb.mu.Unlock()
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.Header().Set("X-Cache", "MISS")
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(body.Bytes())
}
