package tui

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hawiz/hawiz/steps"
)

// prepare sets af.pre, the texts (by field path; list counts by list path;
// flags as "true") that the fields are built with, from a copy of a.
func (af *answersForm) prepare(a steps.Answers) {
	af.bindings, af.lists = nil, nil
	af.build()
	af.pre = map[string]string{}
	af.fill(a)
	for _, l := range af.lists {
		af.pre[l.path] = *l.count
	}
	for _, b := range af.bindings {
		if b.flag != nil {
			af.pre[b.path] = fmt.Sprint(*b.flag)
		} else {
			af.pre[b.path] = *b.text
		}
	}
	af.bindings, af.lists = nil, nil
}

// fill sets the form's texts, flags and list counts from a (copy of) a.
func (af *answersForm) fill(a steps.Answers) {
	data, err := yaml.Marshal(a)
	if err != nil {
		return
	}
	c := af.proc.NewAnswers()
	if yaml.Unmarshal(data, c) != nil {
		return
	}
	root := reflect.ValueOf(c).Elem()
	for _, l := range af.lists {
		if v, err := walkPath(root, l.path, true); err == nil && v.Kind() == reflect.Slice {
			*l.count = fmt.Sprint(min(v.Len(), maxListItems))
		}
	}
	for _, b := range af.bindings {
		if b.list != nil && b.index >= b.list.n() {
			continue
		}
		v, err := walkPathTo(root, b.path, false)
		if err != nil {
			continue
		}
		if v.Kind() == reflect.Pointer {
			// *int, *bool: nil is the default; a value is kept, 0 and
			// false too
			if v.IsNil() {
				continue
			}
			v = v.Elem()
			if b.flag != nil {
				*b.flag = v.Bool()
			} else {
				*b.text = formatValue(v)
			}
			continue
		}
		if v.IsZero() {
			continue
		}
		if b.flag != nil {
			*b.flag = v.Kind() == reflect.Bool && v.Bool()
			continue
		}
		*b.text = formatValue(v)
	}
}

// formatValue is parseValue's inverse.
func formatValue(v reflect.Value) string {
	if v.Type() == reflect.TypeOf(time.Duration(0)) {
		return time.Duration(v.Int()).String()
	}
	if v.Kind() == reflect.Slice {
		var parts []string
		for i := 0; i < v.Len(); i++ {
			parts = append(parts, fmt.Sprint(v.Index(i).Interface()))
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v.Interface())
}
