package tui

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/steps"
)

var sampleEvents = []steps.Event{
	{Kind: steps.EventRunStart, Message: "run Test files (prod)", Total: 2, StatePath: "/s.json"},
	{Kind: steps.EventConnect, Host: "h1", Message: "connected to 10.0.0.1"},
	{Kind: steps.EventConnect, Message: "connected to 1 host(s)", Elapsed: 12 * time.Millisecond},
	{Kind: steps.EventStepStart, Step: "write-config", Index: 1, Total: 2, Title: "Write conf.txt"},
	{Kind: steps.EventCheck, Step: "write-config", Index: 1, Total: 2, Host: "h1", Message: "not done", Evidence: "conf.txt absent"},
	{Kind: steps.EventApply, Step: "write-config", Index: 1, Total: 2, Host: "h1"},
	{Kind: steps.EventOutput, Step: "write-config", Host: "h1", Output: []string{"line one", "line two"}},
	{Kind: steps.EventVerify, Step: "write-config", Index: 1, Total: 2, Host: "h1", Message: "holds", Evidence: "sha256 abc\nsize 4"},
	{Kind: steps.EventHostDone, Step: "write-config", Index: 1, Total: 2, Host: "h1", Elapsed: 1500 * time.Millisecond},
	{Kind: steps.EventManualWait, Step: "add-member", Index: 2, Total: 2, Title: "Add the member", Host: "h1",
		Manual: &steps.Manual{Instructions: []string{"Open the UI", "Click Add"}, Values: []steps.KV{{Label: "Name", Value: "central1"}}}},
	{Kind: steps.EventStepFailed, Step: "add-member", Host: "h1", Message: "step add-member on h1 failed in verify: no", Output: []string{"tail 1"}},
	{Kind: steps.EventWarning, Step: "add-member", Message: "unsafe order"},
	{Kind: steps.EventRunEnd, Status: steps.StatusWaiting, Message: "stopped: waiting; resume with: hawiz resume --state /s.json --confirm add-member", Elapsed: 2 * time.Second},
}

const wantPlain = `hawiz: run Test files (prod), 2 steps; state /s.json
connect h1: connected to 10.0.0.1
connect: connected to 1 host(s) (12ms)
[1/2] write-config: Write conf.txt
[1/2] write-config h1: check: not done — conf.txt absent
[1/2] write-config h1: apply
    h1| line one
    h1| line two
[1/2] write-config h1: verify: holds — sha256 abc ; size 4
[1/2] write-config h1: done (1.5s)
[2/2] add-member h1: MANUAL: Add the member — do this by hand:
    1) Open the UI
    2) Click Add
       Name: central1
add-member h1: FAILED: step add-member on h1 failed in verify: no
    | tail 1
warning: add-member: unsafe order
hawiz: waiting after 2s: stopped: waiting; resume with: hawiz resume --state /s.json --confirm add-member
`

func TestPlainRenderer(t *testing.T) {
	var b bytes.Buffer
	r := NewPlainRenderer(&b)
	for _, ev := range sampleEvents {
		r.Event(ev)
	}
	if b.String() != wantPlain {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), wantPlain)
	}
	if strings.Contains(b.String(), "\x1b") {
		t.Fatal("escape sequences in plain output")
	}
}

func TestJSONRenderer(t *testing.T) {
	var b bytes.Buffer
	r := NewJSONRenderer(&b)
	for _, ev := range sampleEvents {
		r.Event(ev)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(sampleEvents) {
		t.Fatalf("%d lines for %d events", len(lines), len(sampleEvents))
	}
	for i, l := range lines {
		var ev steps.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if ev.Kind != sampleEvents[i].Kind || ev.Step != sampleEvents[i].Step {
			t.Fatalf("line %d: %+v", i, ev)
		}
	}
	if !strings.Contains(lines[9], `"manual":{"instructions":["Open the UI","Click Add"],"values":[{"label":"Name","value":"central1"}]}`) {
		t.Errorf("manual event: %s", lines[9])
	}
}
