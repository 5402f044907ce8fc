package tui

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/huh/v2"
	"github.com/kevinburke/ssh_config"
	"go.yaml.in/yaml/v3"

	"github.com/hawiz/hawiz/steps"
)

// maxListItems is how many items a list in the answers (members, servers)
// may have in the form.
const maxListItems = 9

// Optional struct tags procedures may put on answers fields:
//
//	help:"what the field takes"        (shown under its title)
//	example:"central1"                 (shown as "e.g. …" and as the placeholder)
//	default:"300"                      (what an empty answer means; shown)
//	options:"nopasswd,password,none"   (a choice instead of free text)
//	title:"Cluster member name"        (instead of the YAML key)
//	secret:"true"                      (the review screen never shows it)
//	defaults:"name=the member's name"  (on a struct: a default its field
//	                                    has there, for a shared type)
//	advanced:"true"                    (an override: asked on the advanced
//	                                    pages, after "Change advanced settings?")
//	when:"mode=file"                   (asked only when the sibling field
//	                                    mode is file: "key=a,b" one of a or
//	                                    b, "key!=a" not a ("key!=" not
//	                                    empty); ";" joins conditions that
//	                                    must all hold)
//
// A field without omitempty in its YAML tag is required; one with it
// should say its default. advanced on a struct field covers its fields.
const (
	tagHelp     = "help"
	tagExample  = "example"
	tagDefault  = "default"
	tagOptions  = "options"
	tagTitle    = "title"
	tagSecret   = "secret"
	tagAdvanced = "advanced"
	tagDefaults = "defaults"
	tagWhen     = "when"
)

// binding is one answers field in the form: its YAML path, its typed text,
// and how the text becomes a value.
type binding struct {
	path   string // "members[1].host.name"
	kind   reflect.Type
	text   *string
	flag   *bool  // bool fields
	list   *list  // the list this field belongs to (nil = top level)
	index  int    // item index in list
	title  string // the field's title in the form
	label  string // the title with its page ("Agent 1 · Name"): errors and prompts name it
	secret bool   // never shown (review): tag secret:"true" or a secret-like key
	adv    bool   // on an advanced page
	// defFlag is a yes/no field's default (default:"true" on a *bool):
	// an answer equal to it is left out of the answers.
	defFlag bool
	// when: the conditions on sibling fields under which the field is
	// asked (tag when); otherwise it is hidden, and left out.
	when []cond
}

// cond is one condition of a when tag: the field at path (a sibling)
// holds one of vals (op "=") or none of them (op "!=").
type cond struct {
	path string
	neg  bool
	vals []string
}

// parseWhen reads a when tag for the field at path ("gen_key.file").
func parseWhen(tag, path string) []cond {
	prefix := ""
	if i := strings.LastIndex(path, "."); i >= 0 {
		prefix = path[:i+1]
	}
	var out []cond
	for _, part := range strings.Split(tag, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		c := cond{path: prefix + strings.TrimSpace(strings.TrimSuffix(k, "!")), neg: strings.HasSuffix(k, "!")}
		for _, x := range strings.Split(v, ",") {
			c.vals = append(c.vals, strings.TrimSpace(x))
		}
		out = append(out, c)
	}
	return out
}

// list is a slice of structs in the answers: the form asks how many.
type list struct {
	path  string
	count *string
	min   int // 0 when the answers file may leave the list out (omitempty)
}

// answersForm builds a huh form from a procedure's answers struct.
type answersForm struct {
	proc     *steps.Procedure
	bindings []*binding
	lists    []*list
	savePath *string
	sshDef   map[string]string // defaults from ~/.ssh/config, by ssh field key
	initial  steps.Answers     // fills the form in when it is first built (prefill.go)
	pre      map[string]string // prefill texts by path while the form is built
	// advanced: the operator asked for the advanced pages (the overrides);
	// it starts true when the answers set an advanced field.
	advanced *bool
	// quiet: field errors are not reported (esc goes back a page even from
	// a field whose text is refused).
	quiet    bool
	defaults map[string]string // defaults:"…" tags by field path (build)
	seed     bool              // the form is built from af.initial: advanced follows it
	// pages: the form's groups by field, to tell which page has the focus;
	// firsts: each group's fields, in order (esc lands on a page's first).
	pages  map[huh.Field]int
	firsts [][]huh.Field
	// acc: the form is asked as plain prompts (huh's accessible mode), where
	// an empty answer keeps the value the field has: titles show it, and
	// validation checks it.
	acc bool
	// byPath: the bindings by path, for the when conditions.
	byPath map[string]*binding
}

// active reports whether b is asked as the answers stand: every condition
// of its when tag holds (a field that is not asked is left out of the
// answers, the review and the saved file). A condition reads its
// sibling's text as the answers file would hold it: empty when the
// sibling is itself not asked, and for a list item's override that is
// empty, the top-level field of the same path it falls back to
// (servers[0].paths.service_manager → paths.service_manager).
func (af *answersForm) active(b *binding) bool {
	return af.activeDepth(b, 0)
}

func (af *answersForm) activeDepth(b *binding, depth int) bool {
	if depth > 8 {
		return false
	}
	for _, c := range b.when {
		v := af.condValue(c.path, depth)
		if slices.Contains(c.vals, v) == c.neg {
			return false
		}
	}
	return true
}

func (af *answersForm) condValue(path string, depth int) string {
	s := af.byPath[path]
	v := ""
	if s != nil && af.activeDepth(s, depth+1) {
		if s.flag != nil {
			v = strconv.FormatBool(*s.flag)
		} else {
			v = strings.TrimSpace(*s.text)
		}
	}
	if i := strings.Index(path, "]."); v == "" && i >= 0 {
		if _, ok := af.byPath[path[i+2:]]; ok {
			return af.condValue(path[i+2:], depth+1)
		}
	}
	return v
}

func newAnswersForm(p *steps.Procedure) *answersForm {
	af := &answersForm{proc: p, savePath: new(string), sshDef: sshDefaults(), advanced: new(bool)}
	return af
}

// sshDefaults reads what ~/.ssh/config gives every host ("Host *").
func sshDefaults() map[string]string {
	d := map[string]string{}
	get := func(k string) string {
		v, _ := ssh_config.GetStrict("*", k)
		return v
	}
	if u := get("User"); u != "" {
		d["user"] = u + " (from ~/.ssh/config)"
	} else if cu, err := user.Current(); err == nil {
		d["user"] = cu.Username + " (your login)"
	}
	if v := get("Port"); v != "" && v != "22" {
		d["port"] = v + " (from ~/.ssh/config)"
	} else {
		d["port"] = "22"
	}
	if v := get("IdentityFile"); v != "" && !strings.Contains(v, "identity") {
		d["identity_file"] = v + " (from ~/.ssh/config)"
	} else {
		d["identity_file"] = "ssh-agent / ~/.ssh/id_*"
	}
	if v := get("ProxyJump"); v != "" {
		d["proxy_jump"] = v + " (from ~/.ssh/config)"
	}
	d["known_hosts"] = "~/.ssh/known_hosts"
	d["sudo"] = "nopasswd"
	return d
}

// yamlName returns the field's YAML key, whether it is inline, and whether
// it is skipped ("-" or unexported).
func yamlName(f reflect.StructField) (name string, inline, skip bool) {
	if !f.IsExported() {
		return "", false, true
	}
	tag := f.Tag.Get("yaml")
	if tag == "-" {
		return "", false, true
	}
	parts := strings.Split(tag, ",")
	for _, p := range parts[1:] {
		if p == "inline" {
			return "", true, false
		}
	}
	name = parts[0]
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, false, false
}

var durationType = reflect.TypeFor[time.Duration]()

// scalar reports whether t is a type the form asks as one field.
func scalar(t reflect.Type) bool {
	if t == durationType {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// Title turns "heartbeat_interval" into "Heartbeat interval".
func humanize(key string) string {
	s := strings.ReplaceAll(key, "_", " ")
	if s == "" {
		return s
	}
	s = strings.TrimSpace(strings.ReplaceAll(" "+s+" ", " appdb ", " App DB "))
	for _, up := range []string{"ssh", "dns", "ip", "ttl", "tsig", "ui", "url", "os", "ha", "https", "uri", "db"} {
		if s == up {
			return strings.ToUpper(s)
		}
		s = strings.ReplaceAll(" "+s+" ", " "+up+" ", " "+strings.ToUpper(up)+" ")
		s = strings.TrimSpace(s)
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// section is a group of fields under one heading.
type section struct {
	title  string
	fields []huh.Field
	binds  []*binding // the fields' bindings, in order (not the count)
	list   *list
	index  int
	count  bool // the "how many" question of a list
	adv    bool // an advanced page: asked only when the operator wants them
	gate   bool // the "Change advanced settings?" question
	// after: the pages of a list inside this page's struct (appdb.members),
	// which follow it.
	after []*section
}

// hidden reports whether the section is left out as the form stands: a
// list item beyond the count, an advanced page not asked for, or a page
// none of whose fields is asked (their when conditions do not hold).
func (af *answersForm) hidden(s *section) bool {
	if s.list != nil && s.index >= s.list.n() || s.adv && !*af.advanced {
		return true
	}
	for _, f := range s.fields {
		if ff, ok := f.(*formField); !ok || ff.b == nil || af.active(ff.b) {
			return false
		}
	}
	return len(s.fields) > 0
}

// build walks the answers type and returns the form's sections: the
// pages of what every deployment answers, in the answers' order, then the
// question whether to change advanced settings, then a page of overrides
// for every page that has some.
func (af *answersForm) build() []section {
	t := reflect.TypeOf(af.proc.NewAnswers()).Elem()
	af.defaults = map[string]string{}
	af.byPath = map[string]*binding{}
	general := &section{title: "General"}
	var out []*section
	advOf := map[*section]*section{}
	// add puts f (of binding b; nil for a list's count) on sec, or on its
	// advanced page, and returns the page.
	add := func(sec *section, adv bool, f huh.Field, b *binding) *section {
		if adv {
			a := advOf[sec]
			if a == nil {
				a = &section{title: sec.title + " · advanced", list: sec.list, index: sec.index, adv: true}
				advOf[sec] = a
			}
			sec = a
		}
		sec.fields = append(sec.fields, f)
		if b != nil {
			sec.binds = append(sec.binds, b)
		}
		return sec
	}
	last := func() *binding { return af.bindings[len(af.bindings)-1] }
	var walk func(t reflect.Type, prefix, label string, sec *section, l *list, idx int, top, adv bool)
	walk = func(t reflect.Type, prefix, label string, sec *section, l *list, idx int, top, adv bool) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, inline, skip := yamlName(f)
			if skip {
				continue
			}
			ft := f.Type
			fadv := adv || f.Tag.Get(tagAdvanced) == "true"
			if inline {
				walk(ft, prefix, label, sec, l, idx, top, fadv)
				continue
			}
			path := name
			if prefix != "" {
				path = prefix + "." + name
			}
			// defaults:"name=the member's name": the default of a field
			// inside this one, where this struct gives it
			for _, d := range strings.Split(f.Tag.Get(tagDefaults), ";") {
				if k, v, ok := strings.Cut(d, "="); ok {
					af.defaults[path+"."+strings.TrimSpace(k)] = strings.TrimSpace(v)
				}
			}
			if ft.Kind() == reflect.Pointer && (ft.Elem().Kind() == reflect.Struct || scalar(ft.Elem())) {
				ft = ft.Elem() // *int, *bool: empty (nil) is the default
			}
			switch {
			case scalar(ft):
				fld := af.field(f, ft, path, label, sec.title, l, idx, fadv)
				add(sec, fadv, fld, last())
			case ft.Kind() == reflect.Struct && top:
				s := &section{title: humanize(name)}
				out = append(out, s)
				walk(ft, path, "", s, l, idx, false, fadv)
			case ft.Kind() == reflect.Struct:
				walk(ft, path, label+humanize(name)+" ", sec, l, idx, false, fadv)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && !top && l == nil:
				// a list inside a struct (appdb.members): its count on the
				// struct's page, its items on pages right after that page
				nl := &list{path: path, count: new(string), min: 1}
				if strings.Contains(f.Tag.Get("yaml"), ",omitempty") {
					nl.min = 0
				}
				af.lists = append(af.lists, nl)
				what := sec.title + " " + strings.ReplaceAll(name, "_", " ")
				page := add(sec, fadv, af.countField(nl, what, f), nil)
				for k := 0; k < maxListItems; k++ {
					s := &section{title: fmt.Sprintf("%s %s %d", sec.title, singular(strings.ReplaceAll(name, "_", " ")), k+1), list: nl, index: k, adv: fadv}
					page.after = append(page.after, s)
					walk(ft.Elem(), fmt.Sprintf("%s[%d]", path, k), "", s, nl, k, false, false)
				}
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && top:
				nl := &list{path: path, count: new(string), min: 1}
				if strings.Contains(f.Tag.Get("yaml"), ",omitempty") {
					nl.min = 0
				}
				af.lists = append(af.lists, nl)
				cs := &section{title: humanize(name), count: true}
				cs.fields = append(cs.fields, af.countField(nl, name, f))
				out = append(out, cs)
				for k := 0; k < maxListItems; k++ {
					s := &section{title: fmt.Sprintf("%s %d", humanize(singular(name)), k+1), list: nl, index: k}
					out = append(out, s)
					walk(ft.Elem(), fmt.Sprintf("%s[%d]", path, k), "", s, nl, k, false, fadv)
				}
			}
		}
	}
	walk(t, "", "", general, nil, 0, true, false)
	if len(general.fields) > 0 || advOf[general] != nil {
		out = append([]*section{general}, out...)
	}
	var main, adv []section
	for _, s := range out {
		if len(s.fields) > 0 || s.count {
			main = append(main, s.ordered())
			for _, x := range s.after {
				main = append(main, x.ordered())
			}
		}
		if a := advOf[s]; a != nil {
			adv = append(adv, a.ordered())
			for _, x := range a.after {
				adv = append(adv, x.ordered())
			}
		}
	}
	if len(adv) == 0 {
		return main
	}
	if af.pre != nil && af.seed {
		for _, a := range adv {
			for _, b := range a.binds {
				if (a.list == nil || a.index < a.list.n()) && strings.TrimSpace(af.pre[b.path]) != "" && (b.flag == nil || af.pre[b.path] != strconv.FormatBool(b.defFlag)) {
					*af.advanced = true
				}
			}
		}
	}
	var names []string
	for _, a := range adv {
		switch n := strings.TrimSuffix(a.title, " · advanced"); {
		case a.list == nil:
			names = append(names, n)
		case a.index == 0:
			names = append(names, "each "+strings.ToLower(strings.TrimSuffix(n, " 1")))
		}
	}
	gateDesc := "Overrides of the documented defaults (paths, service names, ports, timeouts) for: " +
		strings.Join(names, ", ") + ". Each has a default that fits a standard install. Default: No."
	gate := huh.NewConfirm().Title("Change advanced settings?").Description(gateDesc).
		Affirmative("Yes").Negative("No").Value(af.advanced)
	main = append(main, section{title: "Advanced settings", fields: []huh.Field{af.wrap(gate, nil, "Advanced settings", gateDesc)}, gate: true})
	return append(main, adv...)
}

// ordered is the section with the fields asked only under a condition
// (when tags) after the others: they come after the fields they depend on,
// a field that is not asked leaves no gap between two that are, and huh,
// which passes over a skipped field as it moves, never has the focus
// left on one (a group it enters at a skipped last field steps back to a
// field that is asked; every field skipped hides the page).
func (s *section) ordered() section {
	c := *s
	c.fields = nil
	var later []huh.Field
	for _, f := range s.fields {
		if ff, ok := f.(*formField); ok && ff.b != nil && len(ff.b.when) > 0 {
			later = append(later, f)
		} else {
			c.fields = append(c.fields, f)
		}
	}
	c.fields = append(c.fields, later...)
	c.binds = nil
	for _, f := range c.fields {
		if ff, ok := f.(*formField); ok && ff.b != nil {
			c.binds = append(c.binds, ff.b)
		}
	}
	return c
}

func singular(s string) string {
	if strings.HasSuffix(s, "s") {
		return s[:len(s)-1]
	}
	return s
}

func (af *answersForm) countField(l *list, name string, f reflect.StructField) huh.Field {
	if af.pre != nil {
		*l.count = af.pre[l.path]
	}
	title := "How many " + strings.ReplaceAll(name, "_", " ") + "?"
	desc := fmt.Sprintf("%d to %d; one page each follows.", l.min, maxListItems)
	if h := f.Tag.Get(tagHelp); h != "" {
		desc = sentence(h) + " " + desc
	}
	if l.min == 0 {
		desc += " Default: 0."
	} else {
		desc += " Required."
	}
	in := huh.NewInput().
		Title(af.shown(title, *l.count, false)).
		Description(desc).
		Placeholder(fmt.Sprintf("%d to %d", l.min, maxListItems)).
		Value(l.count)
	in.Validate(func(s string) error {
		s = af.kept(s, *l.count)
		if strings.TrimSpace(s) == "" && l.min == 0 {
			s = "0"
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < l.min || n > maxListItems {
			return af.named(title, fmt.Errorf("a number from %d to %d", l.min, maxListItems))
		}
		old := *l.count
		*l.count = s
		defer func() { *l.count = old }()
		return af.named(title, af.fieldErr(l.path))
	})
	return af.wrap(in, nil, title, desc)
}

// named is err naming the field it concerns ("Agent 1 · Name: …").
func (af *answersForm) named(label string, err error) error {
	if err == nil || af.quiet {
		return nil
	}
	return fmt.Errorf("%s: %w", strings.TrimSuffix(label, "?"), err)
}

// sentence is s with a capital and a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// shown is a field's title as asked: in accessible mode with the value an
// empty answer keeps, as "Title [value]".
func (af *answersForm) shown(title, value string, secret bool) string {
	if !af.acc || strings.TrimSpace(value) == "" {
		return title
	}
	if secret {
		value = hiddenValue
	}
	return title + " [" + value + "]"
}

// kept is the answer huh's accessible prompt will keep: the field's value
// when s is empty.
func (af *answersForm) kept(s, value string) string {
	if af.acc && strings.TrimSpace(s) == "" {
		return value
	}
	return s
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (af *answersForm) field(f reflect.StructField, t reflect.Type, path, label, page string, l *list, idx int, adv bool) huh.Field {
	b := &binding{path: path, kind: t, text: new(string), list: l, index: idx, adv: adv, when: parseWhen(f.Tag.Get(tagWhen), path)}
	af.bindings = append(af.bindings, b)
	af.byPath[path] = b
	if af.pre != nil {
		*b.text = af.pre[path]
	}
	key := path[strings.LastIndex(path, ".")+1:]
	title := cmpOr(f.Tag.Get(tagTitle), humanize(key))
	if label != "" {
		h := title
		if h != strings.ToUpper(h) {
			h = strings.ToLower(h[:1]) + h[1:]
		}
		title = label + h
	}
	b.title = title
	b.label = title
	if page != "" && page != "General" {
		b.label = page + " · " + title
	}
	b.secret = f.Tag.Get(tagSecret) == "true" || secretKey(key)
	asked := title // the prompt: accessible prompts name the page too
	if af.acc {
		asked = b.label
	}
	def := cmpOr(af.defaults[path], f.Tag.Get(tagDefault))
	if strings.HasPrefix(path, "ssh.") && def == "" {
		def = af.sshDef[key]
	}
	desc := af.describe(f, t, def, af.defaults[path] != "")
	if t.Kind() == reflect.Bool {
		b.flag = new(bool)
		b.defFlag = def == "true" || def == "yes"
		*b.flag = b.defFlag
		if v, ok := af.pre[path]; ok {
			*b.flag = v == "true"
		}
		c := huh.NewConfirm().Title(asked).Description(desc).Value(b.flag).Affirmative("Yes").Negative("No")
		return af.wrap(c, b, b.label, desc)
	}
	if opts := f.Tag.Get(tagOptions); opts != "" {
		// the default is the empty answer (left out of the saved file)
		if def != "" && *b.text == def {
			*b.text = ""
		}
		var os []huh.Option[string]
		list := strings.Split(opts, ",")
		switch {
		case def == "" && !optional(f, t):
			os = append(os, huh.NewOption("(choose one)", ""))
		case def == "":
			os = append(os, huh.NewOption("(default)", ""))
		case !slices.Contains(list, def):
			os = append(os, huh.NewOption("(default: "+def+")", ""))
		}
		for _, o := range list {
			if o == def {
				os = append(os, huh.NewOption(o+" (default)", ""))
			} else {
				os = append(os, huh.NewOption(o, o))
			}
		}
		sel := huh.NewSelect[string]().Title(asked).Description(desc).Options(os...).Value(b.text).
			Validate(func(s string) error { return af.check(b, s) })
		return af.wrap(sel, b, b.label, desc)
	}
	in := huh.NewInput().Title(af.shown(asked, *b.text, b.secret)).Value(b.text).Validate(func(s string) error { return af.check(b, s) })
	in.Description(desc)
	switch ex := f.Tag.Get(tagExample); {
	case ex != "":
		in.Placeholder("e.g. " + ex)
	case t == durationType:
		in.Placeholder("e.g. 30s, 2m")
	case t.Kind() == reflect.Slice:
		in.Placeholder("comma-separated")
	}
	if strings.HasPrefix(path, "ssh.") {
		if d := af.sshDef[key]; d != "" {
			in.Placeholder("default: " + d)
		}
	}
	return af.wrap(in, b, b.label, desc)
}

// optional reports whether the answers file may leave the field out.
func optional(f reflect.StructField, t reflect.Type) bool {
	return strings.Contains(f.Tag.Get("yaml"), ",omitempty") || t.Kind() == reflect.Bool
}

// describe is a field's description: what it takes (help), an example,
// and its default, or that it is required.
func (af *answersForm) describe(f reflect.StructField, t reflect.Type, def string, opt bool) string {
	parts := []string{sentence(f.Tag.Get(tagHelp))}
	if ex := f.Tag.Get(tagExample); ex != "" {
		parts = append(parts, "e.g. "+ex+".")
	} else if t == durationType {
		parts = append(parts, "e.g. 30s, 2m.")
	}
	switch {
	case def != "":
		parts = append(parts, "Default: "+def+".")
	case !optional(f, t) && !opt:
		parts = append(parts, "Required.")
	case f.Tag.Get(tagOptions) == "":
		parts = append(parts, "Optional.")
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

// check is a field's validation: the text must parse, and the answers as a
// whole (with this text) must have no error for this field's path.
func (af *answersForm) check(b *binding, s string) error {
	s = af.kept(s, *b.text)
	if _, err := parseValue(b.kind, s); err != nil {
		return af.named(b.label, err)
	}
	old := *b.text
	*b.text = s
	defer func() { *b.text = old }()
	return af.named(b.label, af.fieldErr(b.path))
}

// fieldErr validates the answers as the form holds them and returns the
// first error whose field path is exactly path (the same rules as a file).
func (af *answersForm) fieldErr(path string) error {
	a, err := af.answers()
	if err != nil {
		return nil // a parse problem elsewhere; that field says so
	}
	verr := a.Validate()
	var fe steps.FieldErrors
	if !errors.As(verr, &fe) {
		return nil
	}
	for _, e := range fe {
		if e.Field == path {
			return errors.New(e.Msg)
		}
	}
	return nil
}

// count is how many items a list has in the form (0 when not a number).
func (l *list) n() int {
	n, _ := strconv.Atoi(strings.TrimSpace(*l.count))
	return max(0, min(n, maxListItems))
}

// answers builds a fresh answers struct from the form's texts.
func (af *answersForm) answers() (steps.Answers, error) {
	a := af.proc.NewAnswers()
	root := reflect.ValueOf(a).Elem()
	for _, l := range af.lists {
		v, err := walkPath(root, l.path, true)
		if err != nil {
			return nil, err
		}
		n := l.n()
		v.Set(reflect.MakeSlice(v.Type(), n, n))
	}
	for _, b := range af.bindings {
		if b.list != nil && b.index >= b.list.n() || !af.active(b) {
			continue
		}
		var val reflect.Value
		if b.flag != nil {
			if *b.flag == b.defFlag {
				continue // the default: left out (a *bool stays nil)
			}
			val = reflect.ValueOf(*b.flag)
		} else {
			if strings.TrimSpace(*b.text) == "" {
				continue
			}
			var err error
			if val, err = parseValue(b.kind, *b.text); err != nil {
				return nil, fmt.Errorf("%s: %w", b.path, err)
			}
		}
		v, err := walkPath(root, b.path, true)
		if err != nil {
			return nil, err
		}
		v.Set(val.Convert(v.Type()))
	}
	return a, nil
}

// walkPath finds the value at a YAML path ("members[1].host.name") under
// v, allocating nil pointers on the way when alloc.
func walkPath(v reflect.Value, path string, alloc bool) (reflect.Value, error) {
	return walkPathTo(v, path, true)
}

// walkPathTo is walkPath; with deref false, a pointer at the end of the
// path is returned as it is (nil when the answers leave it out).
func walkPathTo(v reflect.Value, path string, deref bool) (reflect.Value, error) {
	parts := strings.Split(path, ".")
	for n, part := range parts {
		idx := -1
		if i := strings.IndexByte(part, '['); i >= 0 {
			idx, _ = strconv.Atoi(strings.TrimSuffix(part[i+1:], "]"))
			part = part[:i]
		}
		f, ok := findField(v, part)
		if !ok {
			return reflect.Value{}, fmt.Errorf("no field %s in %s", part, v.Type())
		}
		v = f
		if v.Kind() == reflect.Pointer && !deref && n == len(parts)-1 {
			return v, nil
		}
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		if idx >= 0 {
			if idx >= v.Len() {
				return reflect.Value{}, fmt.Errorf("%s has %d items", part, v.Len())
			}
			v = v.Index(idx)
		}
	}
	return v, nil
}

func findField(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		n, inline, skip := yamlName(t.Field(i))
		if skip {
			continue
		}
		if inline {
			if f, ok := findField(v.Field(i), name); ok {
				return f, true
			}
			continue
		}
		if n == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func parseValue(t reflect.Type, s string) (reflect.Value, error) {
	s = strings.TrimSpace(s)
	if t == durationType {
		if s == "" {
			return reflect.ValueOf(time.Duration(0)), nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("%q is not a duration (e.g. 30s, 2m)", s)
		}
		return reflect.ValueOf(d), nil
	}
	switch t.Kind() {
	case reflect.String:
		return reflect.ValueOf(s).Convert(t), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if s == "" {
			return reflect.Zero(t), nil
		}
		n, err := strconv.ParseInt(s, 10, t.Bits())
		if err != nil {
			return reflect.Value{}, fmt.Errorf("%q is not a whole number", s)
		}
		return reflect.ValueOf(n).Convert(t), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if s == "" {
			return reflect.Zero(t), nil
		}
		n, err := strconv.ParseUint(s, 10, t.Bits())
		if err != nil {
			return reflect.Value{}, fmt.Errorf("%q is not a whole number ≥ 0", s)
		}
		return reflect.ValueOf(n).Convert(t), nil
	case reflect.Float32, reflect.Float64:
		if s == "" {
			return reflect.Zero(t), nil
		}
		f, err := strconv.ParseFloat(s, t.Bits())
		if err != nil {
			return reflect.Value{}, fmt.Errorf("%q is not a number", s)
		}
		return reflect.ValueOf(f).Convert(t), nil
	case reflect.Bool:
		return reflect.ValueOf(s == "true" || s == "yes"), nil
	case reflect.Slice:
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return reflect.ValueOf(out).Convert(t), nil
	}
	return reflect.Value{}, fmt.Errorf("unsupported type %s", t)
}

// rebuild builds the sections afresh with what the fields held (list
// counts, texts, flags); the first build takes them from af.initial. huh
// fields read their values when they are built, so the values go in
// through af.pre.
func (af *answersForm) rebuild() []section {
	if af.initial != nil {
		af.prepare(af.initial)
		af.initial = nil
		af.seed = true
	} else {
		af.pre = map[string]string{}
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
	}
	af.bindings, af.lists = nil, nil
	secs := af.build()
	af.pre, af.seed = nil, false
	return secs
}

// CountForm is nil: the accessible form asks the counts where the
// full-screen form does (Form(true)). It is kept for callers that ask it
// first.
func (af *answersForm) CountForm() *huh.Form { return nil }

// Form returns the huh form: one group per section (list items beyond the
// count and the advanced pages not asked for are hidden), then where to
// save the answers. With accessible, the same questions in the same order
// as plain prompts (accForm), each naming its page, what it takes and the
// value an empty answer keeps.
func (af *answersForm) Form(accessible ...bool) *huh.Form {
	acc := len(accessible) > 0 && accessible[0]
	af.acc = acc
	secs := af.rebuild()
	save := af.saveGroup()
	if acc {
		return huh.NewForm(huh.NewGroup(&accForm{Field: huh.NewNote(), af: af, secs: secs}), save.Group)
	}
	af.pages = map[huh.Field]int{}
	af.firsts = nil
	var groups []*huh.Group
	for i := range secs {
		s := &secs[i]
		for _, f := range s.fields {
			af.pages[f] = len(groups)
		}
		g := huh.NewGroup(s.fields...).Title(s.title).WithHideFunc(func() bool { return af.hidden(s) })
		groups = append(groups, g)
		af.firsts = append(af.firsts, s.fields)
	}
	af.pages[save.saveField] = len(groups)
	af.firsts = append(af.firsts, []huh.Field{save.saveField})
	return huh.NewForm(append(groups, save.Group)...).WithShowErrors(false).WithShowHelp(false)
}

// saveGroup is the last page: where to save the answers.
type saveGroup struct {
	*huh.Group
	saveField huh.Field
}

func (af *answersForm) saveGroup() saveGroup {
	title := "Save these answers as a YAML file?"
	saveDesc := "For a later `hawiz run " + af.proc.Name + " --answers FILE`. Secrets are never saved. Default: don't save."
	in := huh.NewInput().
		Title(title).
		Description(saveDesc).
		Placeholder("e.g. " + af.proc.Name + ".yaml").
		Value(af.savePath)
	in.Validate(func(s string) error {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
		if fi, err := os.Stat(filepath.Dir(s)); err != nil || !fi.IsDir() {
			return af.named("Save to", fmt.Errorf("no directory %s", filepath.Dir(s)))
		}
		return nil
	})
	f := af.wrap(in, nil, "Save to", saveDesc)
	return saveGroup{Group: huh.NewGroup(f).Title("Save"), saveField: f}
}

// firstField is the first field asked on page p (nil: none).
func (af *answersForm) firstField(p int) huh.Field {
	if p < 0 || p >= len(af.firsts) {
		return nil
	}
	for _, f := range af.firsts[p] {
		if !f.Skip() {
			return f
		}
	}
	return nil
}

// fieldsOn is how many fields page p has.
func (af *answersForm) fieldsOn(p int) int {
	if p < 0 || p >= len(af.firsts) {
		return 0
	}
	return len(af.firsts[p])
}

// page is the index of the group whose field has the focus (-1: unknown).
func (af *answersForm) page(f huh.Field) int {
	if p, ok := af.pages[f]; ok {
		return p
	}
	return -1
}

// Result loads the form's answers with the same strict rules as an
// answers file, and the YAML to save (nil when the form has problems).
func (af *answersForm) Result() (steps.Answers, []byte, error) {
	a, err := af.answers()
	if err != nil {
		return nil, nil, steps.FieldErrors{{Msg: err.Error()}}
	}
	data, err := yaml.Marshal(a)
	if err != nil {
		return nil, nil, err
	}
	loaded, err := steps.LoadAnswers(af.proc, data)
	if err != nil {
		return nil, nil, err
	}
	return loaded, data, nil
}

// Save writes data to the save path when one was given; it returns the path.
func (af *answersForm) Save(data []byte) (string, error) {
	p := strings.TrimSpace(*af.savePath)
	if p == "" {
		return "", nil
	}
	return p, os.WriteFile(p, data, 0o600)
}
