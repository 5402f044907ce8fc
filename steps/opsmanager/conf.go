// conf.go holds the conf-mms.properties edits the configuration steps share:
// whether a server's file holds the answers' values, setting them in place,
// and comparing the keys across servers; and maskURI, which keeps App DB
// credentials out of what they show.

package opsmanager

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// kv is one conf-mms.properties key and the value the answers give it.
type kv struct{ k, v string }

func confHas(ctx context.Context, e *steps.Env, c *Common, host string, want []kv) (bool, string, error) {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return false, "", err
	}
	h, err := e.Host(host)
	if err != nil {
		return false, "", err
	}
	b, _, err := h.ReadFile(ctx, l.Conf, l.Sudo)
	if err != nil {
		return false, "", err
	}
	p := ParseProps(b)
	var ev []string
	done := true
	for _, w := range want {
		v, ok := p.Get(w.k)
		if !ok || v != w.v {
			done = false
			ev = append(ev, fmt.Sprintf("%s is %q", w.k, maskURI(e, v)))
		} else {
			ev = append(ev, w.k+" already set")
		}
	}
	return done, host + ": " + strings.Join(ev, "; "), nil
}

// confSet sets want in host's conf-mms.properties in place (backup kept);
// a server running with the old values is marked for a restart when the
// servers are started.
func confSet(ctx context.Context, e *steps.Env, c *Common, host string, want []kv) error {
	l, err := resolveLayout(ctx, e, c, host)
	if err != nil {
		return err
	}
	h, err := e.Host(host)
	if err != nil {
		return err
	}
	b, fi, err := h.ReadFile(ctx, l.Conf, l.Sudo)
	if err != nil {
		return err
	}
	p := ParseProps(b)
	for _, w := range want {
		p.Set(w.k, w.v)
	}
	out := p.Bytes()
	if bytes.Equal(out, b) {
		return nil
	}
	wasRunning, _ := running(ctx, e, h, l, c)
	res, err := h.WriteFile(ctx, l.Conf, out, remote.WriteOptions{IfSHA256: fi.SHA256, Backup: true, Sudo: l.Sudo, Secret: true})
	if err != nil {
		return err
	}
	if res.Backup != "" {
		e.Output(host, "backup of the previous conf-mms.properties: "+res.Backup)
	}
	if wasRunning {
		e.SetFact(factKey(host, "restart"), "1")
		e.Warn(host, "Ops Manager is running with the old settings: hawiz restarts it when it starts the servers")
	}
	return nil
}

// confVerify checks host's conf-mms.properties: the step's own keys (want)
// hold the values the answers give, so every server verified holds the same
// ones. On the last server in order it also reads every other server once
// and checks that all keys' lines are equal everywhere: one cross-server
// comparison per step (n reads), not one per server (n² reads).
func confVerify(ctx context.Context, e *steps.Env, c *Common, host string, want []kv, keys []string) (string, error) {
	names := c.serverNames()
	last := names[len(names)-1] == host
	var others []string
	var errOthers error
	var wg sync.WaitGroup
	if last {
		wg.Add(1)
		go func() {
			defer wg.Done()
			others, errOthers = forEachServer(ctx, names[:len(names)-1], func(ctx context.Context, name string) (string, error) {
				l, _, err := confLines(ctx, e, c, name, keys)
				return l, err
			})
		}()
	}
	own, ownProps, errOwn := confLines(ctx, e, c, host, keys)
	wg.Wait()
	if errOwn != nil {
		return "", errOwn
	}
	for _, w := range want {
		if v, _ := ownProps.Get(w.k); v != w.v {
			return "", fmt.Errorf("%s: %s is %q, not the value the answers give (%q)", host, w.k, maskURI(e, v), maskURI(e, w.v))
		}
	}
	shown := maskURI(e, strings.ReplaceAll(own, "\n", "; "))
	if !last {
		return fmt.Sprintf("%s: %s (the answers' values; all %d servers are compared once %s is done)", host, shown, len(names), names[len(names)-1]), nil
	}
	if errOthers != nil {
		return "", errOthers
	}
	for i, s := range others {
		if s != own {
			return "", fmt.Errorf("%s differs between %s and %s: %s / %s", strings.Join(keys, ", "), host, names[i],
				shown, maskURI(e, strings.ReplaceAll(s, "\n", "; ")))
		}
	}
	return fmt.Sprintf("%s: %s (equal on all %d servers)", host, shown, len(names)), nil
}

// confLines reads name's conf-mms.properties and returns keys' values as
// "key=value" lines in keys' order, and the parsed file.
func confLines(ctx context.Context, e *steps.Env, c *Common, name string, keys []string) (string, *Props, error) {
	l, err := resolveLayout(ctx, e, c, name)
	if err != nil {
		return "", nil, err
	}
	h, err := e.Host(name)
	if err != nil {
		return "", nil, err
	}
	b, _, err := h.ReadFile(ctx, l.Conf, l.Sudo)
	if err != nil {
		return "", nil, err
	}
	p := ParseProps(b)
	var vals []string
	for _, k := range keys {
		v, _ := p.Get(k)
		vals = append(vals, k+"="+v)
	}
	return strings.Join(vals, "\n"), p, nil
}

// maskURI hides credentials in mongodb:// URIs (also ones hawiz did not
// write, whose password the redactor does not know).
func maskURI(e *steps.Env, s string) string {
	s = uriCredRE.ReplaceAllString(s, "${1}[REDACTED]@")
	return e.Redactor().Redact(s)
}

var uriCredRE = regexp.MustCompile(`(mongodb(?:\+srv)?://)[^@/\s]*@`)
