package opsmanager

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

const sampleConf = `# conf-mms.properties
#   Ops Manager local settings

mongo.mongoUri=mongodb://old0:27017/?maxPoolSize=150
mongo.ssl=false

! bang comment
mms.centralUrl = http://om0.example.net:8080
mms.fromEmailAddr:ops@example.net
mms.long=first \
    second \
    third
trailing.key     spaced value
`

func TestPropsReplaceInPlaceKeepsEverythingElse(t *testing.T) {
	p := ParseProps([]byte(sampleConf))
	if got := string(p.Bytes()); got != sampleConf {
		t.Fatalf("round trip changed bytes:\n%q", got)
	}
	if v, _ := p.Get("mms.long"); v != "first second third" {
		t.Fatalf("continuation value = %q", v)
	}
	if v, _ := p.Get("trailing.key"); v != "spaced value" {
		t.Fatalf("whitespace separator value = %q", v)
	}
	p.Set("mongo.mongoUri", "mongodb://h0:27017,h1:27017,h2:27017/?maxPoolSize=100")
	p.Set("mms.centralUrl", "http://lb.example.net:8080")
	p.Set("mms.long", "one")
	p.Set("mms.fromEmailAddr", "x@example.net")
	p.Set("mms.remoteIp.header", "X-Forwarded-For")
	want := `# conf-mms.properties
#   Ops Manager local settings

mongo.mongoUri=mongodb://h0:27017,h1:27017,h2:27017/?maxPoolSize=100
mongo.ssl=false

! bang comment
mms.centralUrl = http://lb.example.net:8080
mms.fromEmailAddr:x@example.net
mms.long=one
trailing.key     spaced value
mms.remoteIp.header=X-Forwarded-For
`
	if got := string(p.Bytes()); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestPropsCRLFAndNoFinalNewline(t *testing.T) {
	in := "# c\r\na=1\r\nb=2"
	p := ParseProps([]byte(in))
	p.Set("a", "x")
	p.Set("c", "3")
	if got, want := string(p.Bytes()), "# c\r\na=x\r\nb=2\r\nc=3\r\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestPropsDuplicatesAndKeyOnly(t *testing.T) {
	p := ParseProps([]byte("k=1\nother=o\nk = 2\nbare\n"))
	if v, _ := p.Get("k"); v != "2" {
		t.Fatalf("last occurrence should win, got %q", v)
	}
	p.Set("k", "3")
	p.Set("bare", "v")
	if got, want := string(p.Bytes()), "k=3\nother=o\nk = 3\nbare=v\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestPropsEscapes(t *testing.T) {
	p := ParseProps(nil)
	vals := []string{" lead", `back\slash`, "multi\nline", "ünï", "😀", "a=b:c#d!e"}
	for i, v := range vals {
		p.Set("k"+string(rune('a'+i)), v)
	}
	q := ParseProps(p.Bytes())
	for i, v := range vals {
		if got, _ := q.Get("k" + string(rune('a'+i))); got != v {
			t.Errorf("value %q read back as %q (file %q)", v, got, p.Bytes())
		}
	}
	// A key with a separator character in it.
	p.Set("we:ird key", "v")
	if got, _ := ParseProps(p.Bytes()).Get("we:ird key"); got != "v" {
		t.Fatalf("escaped key read back as %q", got)
	}
}

func TestPropsDanglingContinuationAtEOF(t *testing.T) {
	in := "a=b\\"
	p := ParseProps([]byte(in))
	p.Set("c", "d")
	q := ParseProps(p.Bytes())
	if v, _ := q.Get("c"); v != "d" {
		t.Fatalf("appended key lost after a dangling continuation: %q", p.Bytes())
	}
	if v, _ := q.Get("a"); v != "b" {
		t.Fatalf("a = %q", v)
	}
	if !bytes.HasPrefix(p.Bytes(), []byte(in)) {
		t.Fatalf("original bytes not kept")
	}
}

// FuzzPropsSet checks the editor's byte-preservation property: after
// Set(key, value) the file reads back value for key, every other key reads
// back what it did before, and the bytes outside the edited lines are the
// original bytes (an append keeps the whole original as a prefix).
func FuzzPropsSet(f *testing.F) {
	f.Add([]byte(sampleConf), "mms.centralUrl", "http://lb:8080")
	f.Add([]byte(sampleConf), "new.key", "v")
	f.Add([]byte("a=b\\"), "a", "")
	f.Add([]byte("a\\\n  b=c\r\nx:y\r"), "ab", "z")
	f.Add([]byte("  \\u0041=1\n"), "A", "2")
	f.Fuzz(func(t *testing.T, data []byte, key, value string) {
		if key == "" || !utf8.ValidString(key) || !utf8.ValidString(value) {
			return
		}
		before := ParseProps(data)
		if !bytes.Equal(before.Bytes(), data) {
			t.Fatalf("parse+bytes is not the identity")
		}
		others := map[string]string{}
		for _, k := range before.Keys() {
			if k != key {
				others[k], _ = before.Get(k)
			}
		}
		_, existed := before.Get(key)
		p := ParseProps(data)
		p.Set(key, value)
		out := p.Bytes()
		after := ParseProps(out)
		if got, ok := after.Get(key); !ok || got != value {
			t.Fatalf("Set(%q,%q) reads back %q,%v from %q", key, value, got, ok, out)
		}
		for k, v := range others {
			if got, _ := after.Get(k); got != v {
				t.Fatalf("unrelated key %q changed from %q to %q (file %q)", k, v, got, out)
			}
		}
		if len(after.Keys()) != len(before.Keys())+boolInt(!existed) {
			t.Fatalf("key count %d -> %d", len(before.Keys()), len(after.Keys()))
		}
		if !existed {
			if !bytes.HasPrefix(out, data) {
				t.Fatalf("append did not keep the original as a prefix")
			}
			return
		}
		// Bytes before the first and after the last edited entry are kept.
		first, last := -1, -1
		for i, e := range before.entries {
			if e.kv && e.key == key {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		var pre, post []byte
		for _, e := range before.entries[:first] {
			pre = append(pre, e.raw...)
		}
		for _, e := range before.entries[last+1:] {
			post = append(post, e.raw...)
		}
		if !bytes.HasPrefix(out, pre) || !bytes.HasSuffix(out, post) {
			t.Fatalf("bytes outside the edited lines changed")
		}
		// A second Set of the same value changes nothing.
		if after.Set(key, value) && !strings.Contains(string(out), "\\") {
			t.Fatalf("idempotent Set reported a change")
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
