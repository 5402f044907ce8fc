package opsmanager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Probe is one response seen through the load balancer.
type Probe struct {
	Sent   time.Time
	Status int
	Header http.Header
}

// CacheSigns lists the signs that the LB (or something in front of it)
// returns cached content, which the docs forbid (M1, M2, M6): an Age header,
// X-Cache / X-Cache-Status / CF-Cache-Status saying HIT, Cache-Control public
// or max-age / s-maxage > 0, and an identical Date header on requests for
// the same URL sent more than a second apart.
func CacheSigns(probes []Probe) []string {
	var signs []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			signs = append(signs, s)
		}
	}
	for _, p := range probes {
		h := p.Header
		if v := h.Get("Age"); v != "" {
			add(fmt.Sprintf("Age: %s header (a cache served the response)", v))
		}
		for _, k := range []string{"X-Cache", "X-Cache-Status", "CF-Cache-Status", "X-Proxy-Cache"} {
			if v := h.Get(k); strings.Contains(strings.ToUpper(v), "HIT") {
				add(fmt.Sprintf("%s: %s", k, v))
			}
		}
		for _, v := range h.Values("Cache-Control") {
			for _, d := range strings.Split(v, ",") {
				d = strings.ToLower(strings.TrimSpace(d))
				name, val, _ := strings.Cut(d, "=")
				switch name {
				case "public":
					add("Cache-Control: " + v + " (public)")
				case "max-age", "s-maxage":
					if n, err := strconv.Atoi(strings.Trim(val, `"`)); err == nil && n > 0 {
						add("Cache-Control: " + v + " (" + name + " > 0)")
					}
				}
			}
		}
	}
	for i := 0; i < len(probes); i++ {
		for j := i + 1; j < len(probes); j++ {
			a, b := probes[i], probes[j]
			da, db := a.Header.Get("Date"), b.Header.Get("Date")
			gap := b.Sent.Sub(a.Sent)
			if gap < 0 {
				gap = -gap
			}
			if da != "" && da == db && gap > time.Second {
				add(fmt.Sprintf("the same Date (%s) on requests sent %s apart (a replayed response)", da, gap.Round(10*time.Millisecond)))
			}
		}
	}
	return signs
}

// lbGet sends one GET through the LB from this machine, a new connection
// each time (so a round-robin LB spreads them).
func lbGet(ctx context.Context, url string) (Probe, error) {
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Probe{}, err
	}
	p := Probe{Sent: time.Now()}
	resp, err := cl.Do(req)
	if err != nil {
		return p, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	p.Status, p.Header = resp.StatusCode, resp.Header
	return p, nil
}

func nonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "hawiz-" + hex.EncodeToString(b)
}

// backendHeaders are response headers that may name the backend; real Ops
// Manager sends none of them (the lab stand-in sends X-Hawiz-Lab-Server).
var backendHeaders = []string{"X-Hawiz-Lab-Server", "X-Served-By", "X-Backend-Server", "X-Upstream"}
