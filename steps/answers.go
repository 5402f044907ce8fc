package steps

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
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
		return nil, yamlErrors(err)
	}
	var extra yaml.Node
	if err := decodeSafely(dec, &extra); err == nil {
		return nil, FieldErrors{{Msg: "answers file holds more than one YAML document"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlErrors(err)
	}
	if err := a.Validate(); err != nil {
		var fe FieldErrors
		if errors.As(err, &fe) {
			return nil, fe
		}
		return nil, FieldErrors{{Msg: err.Error()}}
	}
	return a, nil
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
