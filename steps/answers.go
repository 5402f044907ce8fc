package steps

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxAnswersSize bounds an answers file (1 MiB).
const MaxAnswersSize = 1 << 20

var (
	lineRE         = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownFieldRE = regexp.MustCompile(`field (\S+) not found in type \S+`)
	intoTypeRE     = regexp.MustCompile(` into [a-z]+\.[A-Za-z]+`)
)

// LoadAnswers decodes data strictly (unknown keys, duplicate keys, several
// documents and type mismatches are errors) into p.NewAnswers(), then calls
// Validate. Every error is a FieldErrors (exit 2), each naming the field or
// line: "line 4: field prioriy not found in type micetro.Answers" /
// "members[1].priority: 10 must be higher than the primary's 10".
func LoadAnswers(p *Procedure, data []byte) (Answers, error) {
	a, err := decodeAnswers(p, data)
	if err != nil {
		return nil, err
	}
	if err := validateAnswers(a); err != nil {
		return nil, err
	}
	return a, nil
}

// decodeAnswers is LoadAnswers without the validation.
func decodeAnswers(p *Procedure, data []byte) (Answers, error) {
	if p == nil || p.NewAnswers == nil {
		return nil, errors.New("procedure has no answers type")
	}
	if len(data) > MaxAnswersSize {
		return nil, FieldErrors{{Msg: fmt.Sprintf("answers file is larger than %d bytes", MaxAnswersSize)}}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, FieldErrors{{Msg: "answers file is empty; `hawiz answers " + p.Name + "` prints a template"}}
	}
	a := p.NewAnswers()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := decodeSafely(dec, a); err != nil {
		return nil, keyErrors(data, reflect.TypeOf(a), yamlErrors(err))
	}
	var extra yaml.Node
	if err := decodeSafely(dec, &extra); err == nil {
		return nil, FieldErrors{{Msg: "answers file holds more than one YAML document"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlErrors(err)
	}
	return a, nil
}

// validateAnswers applies a's defaults and checks it: nil or FieldErrors.
func validateAnswers(a Answers) error {
	if err := a.Validate(); err != nil {
		var fe FieldErrors
		if errors.As(err, &fe) {
			return fe
		}
		return FieldErrors{{Msg: err.Error()}}
	}
	return nil
}

// decodeSafely turns a panic inside the YAML decoder into an error.
func decodeSafely(dec *yaml.Decoder, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid YAML: %v", r)
		}
	}()
	return dec.Decode(v)
}

// keyErrors gives the decoder's errors the path of the key they concern:
// an unknown key is named by its path, its own line and the key it may
// have meant; another error on a line gets the path of the key on it.
func keyErrors(data []byte, t reflect.Type, es FieldErrors) FieldErrors {
	unknown, paths := yamlKeys(data, t)
	var out FieldErrors
	if len(unknown) > 0 {
		out = append(out, unknown...)
	}
	for _, e := range es {
		if len(unknown) > 0 && strings.Contains(e.Msg, ": unknown field ") {
			continue // named above, with its path
		}
		if m := lineRE.FindStringSubmatch(e.Msg); m != nil && e.Field == "" {
			var n int
			fmt.Sscan(m[1], &n)
			e.Field = paths[n]
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return lineOf(out[i].Msg) < lineOf(out[j].Msg) })
	return out
}

func lineOf(msg string) int {
	n := 0
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		fmt.Sscan(m[1], &n)
	}
	return n
}

func yamlErrors(err error) FieldErrors {
	if errors.Is(err, io.EOF) {
		return FieldErrors{{Msg: "answers file holds no YAML document"}}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var es FieldErrors
		for _, m := range te.Errors {
			m = unknownFieldRE.ReplaceAllString(m, "unknown field $1")
			m = intoTypeRE.ReplaceAllString(m, "")
			es = append(es, FieldError{Msg: m})
		}
		return es
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		return FieldErrors{{Msg: "line " + m[1] + ": " + m[2]}}
	}
	return FieldErrors{{Msg: msg}}
}

// MarshalAnswers renders validated answers as YAML (stored in the state).
func MarshalAnswers(a Answers) (string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(a); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}

var kebabRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Lint checks a step list the engine is given: unique kebab-case IDs, a
// title, a known Mode, After naming earlier steps, manual steps with
// instructions, and hosts among hostNames (nil = don't check hosts).
// Procedure tests should call it for every answers fixture.
func Lint(list []*Step, hostNames []string) error {
	var es FieldErrors
	seen := map[string]int{}
	known := map[string]bool{}
	for _, h := range hostNames {
		known[h] = true
	}
	for i, s := range list {
		f := fmt.Sprintf("steps[%d]", i)
		if s == nil {
			es.Add(f, "is nil")
			continue
		}
		if !kebabRE.MatchString(s.ID) {
			es.Add(f+".id", "%q is not kebab-case", s.ID)
		}
		if j, dup := seen[s.ID]; dup {
			es.Add(f+".id", "%q is also steps[%d]", s.ID, j)
		}
		seen[s.ID] = i
		if s.Title == "" {
			es.Add(f+".title", "is empty")
		}
		if s.Mode < Once || s.Mode > Parallel {
			es.Add(f+".mode", "%d is not Once, EachInOrder or Parallel", s.Mode)
		}
		for _, a := range s.After {
			if j, ok := seen[a]; !ok || j >= i {
				es.Add(f+".after", "%q is not an earlier step", a)
			}
		}
		if s.Manual != nil && len(s.Manual.Instructions) == 0 {
			es.Add(f+".manual", "has no instructions")
		}
		if s.Manual == nil && s.Apply == nil && s.Verify == nil && s.Check == nil {
			es.Add(f, "has no Check, Apply, Verify or Manual")
		}
		dupHost := map[string]bool{}
		for _, h := range s.Hosts {
			if hostNames != nil && !known[h] {
				es.Add(f+".hosts", "%q is not a host of the answers", h)
			}
			if dupHost[h] {
				es.Add(f+".hosts", "%q is listed twice", h)
			}
			dupHost[h] = true
		}
	}
	return es.Err()
}

// Suggest returns the names of known closest to s, nearest first: those at
// an edit distance of at most 1 (names of up to 4 letters), 2, or 3 (names
// longer than 10), and those holding s (of 3 letters or more). For "did you
// mean" in errors.
func Suggest(s string, known []string) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	ls := strings.ToLower(s)
	for _, k := range known {
		lk := strings.ToLower(k)
		d := levenshtein(ls, lk)
		limit := 2
		switch {
		case len(lk) <= 4:
			limit = 1
		case len(lk) > 10:
			limit = 3
		}
		if d <= limit || (len(ls) >= 3 && strings.Contains(lk, ls)) {
			cs = append(cs, cand{k, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out
}

// levenshtein is the edit distance of a and b, a swap of two neighbouring
// letters counting as one edit (optimal string alignment).
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// yamlKeys walks the YAML document in data alongside the answers type t
// and returns every key the type does not know (its path, its own line and
// the keys it may have meant) and, for each line, the path of the key on
// it: the decoder's own messages name a line only, and for a key in a flow
// mapping not always the key's.
func yamlKeys(data []byte, t reflect.Type) (unknown FieldErrors, paths map[int]string) {
	paths = map[int]string{}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, paths
	}
	unmarshaler := reflect.TypeFor[yaml.Unmarshaler]()
	var walk func(n *yaml.Node, t reflect.Type, path string, depth int)
	walk = func(n *yaml.Node, t reflect.Type, path string, depth int) {
		if n == nil || depth > 32 {
			return
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if reflect.PointerTo(t).Implements(unmarshaler) || t.Implements(unmarshaler) {
			return
		}
		switch {
		case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
			fields := yamlFields(t)
			var names []string
			for name := range fields {
				names = append(names, name)
			}
			sort.Strings(names)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := joinPath(path, k.Value)
				ft, ok := fields[k.Value]
				if !ok {
					msg := fmt.Sprintf("line %d: unknown field %s", k.Line, k.Value)
					if m := Suggest(k.Value, names); len(m) > 0 {
						msg += fmt.Sprintf("; did you mean %s?", joinPath(path, m[0]))
					}
					unknown = append(unknown, FieldError{Field: p, Msg: msg})
					continue
				}
				paths[k.Line] = p
				if v.Line != k.Line {
					paths[v.Line] = p
				}
				walk(v, ft, p, depth+1)
			}
		case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
			for i, item := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if _, seen := paths[item.Line]; !seen || item.Kind != yaml.ScalarNode {
					paths[item.Line] = p
				}
				walk(item, t.Elem(), p, depth+1)
			}
		case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := joinPath(path, n.Content[i].Value)
				paths[n.Content[i].Line] = p
				walk(n.Content[i+1], t.Elem(), p, depth+1)
			}
		}
	}
	walk(doc.Content[0], t, "", 0)
	return unknown, paths
}

// yamlFields are the keys a struct type takes (yaml tags, inlined structs
// included) and their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				maps.Copy(out, yamlFields(ft))
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
