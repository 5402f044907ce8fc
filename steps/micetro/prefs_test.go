package micetro

import (
	"bytes"
	"strings"
	"testing"
)

const linuxPrefs = `<Database value="MSSQL" />
<DatabaseServer value="db1,1433\MMSUITE@mmsuite" />
<DatabaseUsername value="mmSuiteDBUser" />
<DatabasePassword value="plaintext:secret" />
`

func TestSetAppendsAtEndKeepingEveryByte(t *testing.T) {
	cases := []struct {
		name, in, def, want string
	}{
		{"lf", linuxPrefs, "\n", linuxPrefs + `<ClusterMemberName value="central1"/>` + "\n"},
		{"no final newline", strings.TrimSuffix(linuxPrefs, "\n"), "\n", linuxPrefs + `<ClusterMemberName value="central1"/>` + "\n"},
		{"crlf", strings.ReplaceAll(linuxPrefs, "\n", "\r\n"), "\n", strings.ReplaceAll(linuxPrefs, "\n", "\r\n") + `<ClusterMemberName value="central1"/>` + "\r\n"},
		{"crlf no final newline", strings.TrimSuffix(strings.ReplaceAll(linuxPrefs, "\n", "\r\n"), "\r\n"), "\n", strings.ReplaceAll(linuxPrefs, "\n", "\r\n") + `<ClusterMemberName value="central1"/>` + "\r\n"},
		{"one line, windows default", `<database value="postgresql"/>`, "\r\n", "<database value=\"postgresql\"/>\r\n<ClusterMemberName value=\"central1\"/>\r\n"},
		{"empty", "", "\n", `<ClusterMemberName value="central1"/>` + "\n"},
		{"blank lines and comments kept", "\n<!-- x -->\n  <Database value=\"MSSQL\"/>  \n\n", "\n", "\n<!-- x -->\n  <Database value=\"MSSQL\"/>  \n\n<ClusterMemberName value=\"central1\"/>\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, changed, err := ParsePrefs([]byte(c.in), c.def).Set(ElemClusterMemberName, "central1")
			if err != nil || !changed {
				t.Fatalf("Set: changed=%v err=%v", changed, err)
			}
			if string(out) != c.want {
				t.Fatalf("got\n%q\nwant\n%q", out, c.want)
			}
			// Idempotent: a second Set changes nothing.
			out2, changed, err := ParsePrefs(out, c.def).Set(ElemClusterMemberName, "central1")
			if err != nil || changed || !bytes.Equal(out, out2) {
				t.Fatalf("second Set: changed=%v err=%v", changed, err)
			}
		})
	}
}

func TestSetReplacesInPlaceCaseInsensitive(t *testing.T) {
	in := "<database value=\"postgresql\"/>\r\n<clustermembername value=\"central1\" />\r\n<X value=\"1\"/>\r\n"
	out, changed, err := ParsePrefs([]byte(in), "\n").Set(ElemClusterMemberName, "central2")
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	want := "<database value=\"postgresql\"/>\r\n<clustermembername value=\"central2\" />\r\n<X value=\"1\"/>\r\n"
	if string(out) != want {
		t.Fatalf("got %q", out)
	}
	d := DiffLines([]byte(in), out)
	if len(d) != 1 || d[0].Line != 2 {
		t.Fatalf("diff %+v", d)
	}
}

func TestSetFixesTypographicQuotesOnTheLineItEdits(t *testing.T) {
	in := "<HeartbeatInterval value=“10” />\n<A value=\"1\"/>\n"
	p := ParsePrefs([]byte(in), "\n")
	if probs := p.Problems(); len(probs) != 1 || probs[0].Line != 1 {
		t.Fatalf("problems %v", probs)
	}
	out, changed, err := p.Set(ElemHeartbeatInterval, "10")
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	if string(out) != "<HeartbeatInterval value=\"10\" />\n<A value=\"1\"/>\n" {
		t.Fatalf("got %q", out)
	}
	if probs := ParsePrefs(out, "\n").Problems(); len(probs) != 0 {
		t.Fatalf("problems after fix %v", probs)
	}
}

func TestSetRefusesDuplicatesAndBadValues(t *testing.T) {
	in := "<ClusterMemberName value=\"a\"/>\n<clusterMemberName value=\"b\"/>\n"
	p := ParsePrefs([]byte(in), "\n")
	if _, _, err := p.Set(ElemClusterMemberName, "c"); err == nil || !strings.Contains(err.Error(), "lines 1, 2") {
		t.Fatalf("err %v", err)
	}
	if got := p.Problems(); len(got) != 1 || got[0].Line != 2 {
		t.Fatalf("problems %v", got)
	}
	for _, v := range []string{`a"b`, "a<b", "a&b", "né", "a\nb"} {
		if _, _, err := ParsePrefs(nil, "\n").Set("X", v); err == nil {
			t.Errorf("value %q accepted", v)
		}
	}
}

func TestBackend(t *testing.T) {
	cases := map[string]string{
		`<Database value="MSSQL" />`:         "MSSQL",
		`<database value="postgresql"/>`:     "PostgreSQL",
		`<Database value="PostgreSQL"/>`:     "PostgreSQL",
		`<Database value="SQLite"/>`:         "error",
		`<Database value=""/>`:               "error",
		`<DatabaseServer value="x@y"/>`:      "error",
		``:                                   "error",
		`<Database value="mssql"/>` + "\r\n": "MSSQL",
	}
	for in, want := range cases {
		b, err := ParsePrefs([]byte(in), "\n").Backend()
		got := string(b)
		if err != nil {
			got = "error"
			if !strings.Contains(err.Error(), "MSSQL or PostgreSQL") {
				t.Errorf("%q: message %q does not say what HA needs", in, err)
			}
		}
		if got != want {
			t.Errorf("%q: got %s want %s", in, got, want)
		}
	}
}

func TestDatabaseLines(t *testing.T) {
	a := ParsePrefs([]byte(linuxPrefs), "\n").DatabaseLines()
	b := ParsePrefs([]byte(strings.ToLower(linuxPrefs)), "\n").DatabaseLines()
	if len(a) != 3 || a["databaseserver"] != `db1,1433\MMSUITE@mmsuite` {
		t.Fatalf("%v", a)
	}
	if b["databaseserver"] == a["databaseserver"] {
		t.Fatal("values compare case-sensitively")
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"1", "primary", "central1", "central-2.example_x"} {
		if err := ValidName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", " a", "a\"b", "a'b", "<a>", "a&b", "“primary”", "é", strings.Repeat("a", 65)} {
		if err := ValidName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzSet: whatever the file holds, Set either refuses (duplicates) or changes
// nothing but the appended line or the value it replaced.
func FuzzSet(f *testing.F) {
	f.Add([]byte(linuxPrefs), "central2")
	f.Add([]byte("<ClusterMemberName value=\"x\"/>\r\n"), "y")
	f.Add([]byte("garbage\x00\r"), "n")
	f.Fuzz(func(t *testing.T, in []byte, name string) {
		if ValidName(name) != nil {
			return
		}
		p := ParsePrefs(in, "\n")
		out, changed, err := p.Set(ElemClusterMemberName, name)
		if err != nil {
			if len(p.Find(ElemClusterMemberName)) < 2 {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		existing := p.Find(ElemClusterMemberName)
		if len(existing) == 0 {
			if !bytes.HasPrefix(out, in) {
				t.Fatalf("original bytes not kept: %q -> %q", in, out)
			}
			tail := string(out[len(in):])
			tail = strings.TrimPrefix(tail, p.EOL)
			if tail != `<ClusterMemberName value="`+name+`"/>`+p.EOL {
				t.Fatalf("tail %q", tail)
			}
		} else {
			l := existing[0]
			if !bytes.HasPrefix(out, in[:l.valStart-4]) || !bytes.HasSuffix(out, in[l.valEnd+4:]) {
				// quotes may be replaced (≤3 bytes each side)
				t.Fatalf("bytes outside the value changed: %q -> %q", in, out)
			}
		}
		q := ParsePrefs(out, "\n")
		if v, ok := q.Get(ElemClusterMemberName); !ok || v != name {
			t.Fatalf("value after Set = %q, %v (changed=%v) in %q", v, ok, changed, out)
		}
	})
}
