package steps

// Loading the answers of a run to roll back. A rollback reads no file on
// this machine that the run's answers name (a TSIG key file, an installer
// to upload): its undos come from the journal, and the DNS undo, the only
// one that needs a local file, takes the key from HAWIZ_TSIG_KEY or asks
// when the key file no longer holds it. So such a file being gone must not
// stop the rollback while it loads the answers.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadRollbackAnswers loads the answers of a run to roll back as
// LoadAnswers does, except that an answer naming a file on this machine
// that no longer exists is not an error (exactly: the field's error is the
// one os.Stat gives for the path the answer holds, and that path does not
// exist). It returns a note naming each such answer; every other problem
// is refused as LoadAnswers refuses it.
func LoadRollbackAnswers(p *Procedure, data []byte) (Answers, []string, error) {
	a, err := decodeAnswers(p, data)
	if err != nil {
		return nil, nil, err
	}
	verr := validateAnswers(a)
	if verr == nil {
		return a, nil, nil
	}
	var fe FieldErrors
	if !errors.As(verr, &fe) {
		return nil, nil, verr
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil { // decoded above: cannot fail
		return nil, nil, verr
	}
	var keep FieldErrors
	var notes []string
	for _, e := range fe {
		if path, ok := yamlScalarAt(&doc, e.Field); ok && path != "" {
			if _, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) && strings.Contains(e.Msg, serr.Error()) {
				notes = append(notes, fmt.Sprintf("%s: %s no longer exists on this machine; the rollback does not read it", e.Field, path))
				continue
			}
		}
		keep = append(keep, e)
	}
	if len(keep) > 0 {
		return nil, nil, keep
	}
	return a, notes, nil
}

// yamlScalarAt is the scalar at field ("dns.tsig_key_file",
// "members[1].ip") in the YAML document doc.
func yamlScalarAt(doc *yaml.Node, field string) (string, bool) {
	if field == "" || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return "", false
	}
	n := doc.Content[0]
	for _, part := range strings.Split(field, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if n = mappingValue(n, key); n == nil {
			return "", false
		}
		for rest != "" { // "1]" or "1][2]"
			idx, after, ok := strings.Cut(rest, "]")
			i, err := strconv.Atoi(idx)
			if !ok || err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return "", false
			}
			n = n.Content[i]
			rest = strings.TrimPrefix(after, "[")
		}
	}
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Value, true
}

// mappingValue is the value of key in the mapping n (nil: none).
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
