package steps

// Shared checks of answer values, used by the procedures' Validate before
// anything connects: addresses (IP or RFC 1123 host name), host[:port]
// servers, user names (POSIX, Windows), and template placeholders left
// unfilled.

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// CheckAddress accepts an IP address (IPv4, IPv6, an IPv6 zone) or a host
// name as RFC 1123 2.1 and RFC 952 define it: dot-separated labels of
// letters, digits and hyphens, 1–63 characters each, neither starting nor
// ending with a hyphen, 253 characters in all (a final dot allowed). A name
// whose last label is all digits is read as an IPv4 address, as RFC 1123
// says a host name never has that form: 999.0.0.1 is refused.
func CheckAddress(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	if strings.Contains(s, ":") {
		return fmt.Errorf("%q is not an IP address (an IPv6 address is written without brackets or port here)", s)
	}
	name := strings.TrimSuffix(s, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("%q is not a host name (1 to 253 characters)", s)
	}
	labels := strings.Split(name, ".")
	if allDigits(labels[len(labels)-1]) {
		return fmt.Errorf("%q is not an IP address (and a host name never ends in a numeric label, RFC 1123 2.1)", s)
	}
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return fmt.Errorf("%q is not a host name: %v", s, err)
		}
	}
	return nil
}

func checkLabel(l string) error {
	switch {
	case l == "":
		return fmt.Errorf("empty label")
	case len(l) > 63:
		return fmt.Errorf("label %q is longer than 63 characters", l)
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Errorf("label %q starts or ends with a hyphen", l)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%q is not allowed (letters, digits and '-' only)", rune(c))
		}
	}
	return nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CheckServer accepts "host", "host:port", "IPv4:port", "IPv6" and
// "[IPv6]:port" with host as CheckAddress accepts it and port 1–65535.
func CheckServer(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return fmt.Errorf("%q: port 0 (use 1 to 65535)", s)
		}
		return nil
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	host := s
	if strings.Contains(s, ":") {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return fmt.Errorf("%q is not host, host:port or [IPv6]:port", s)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || !allDigits(p) {
			return fmt.Errorf("%q: %q is not a port (1 to 65535)", s, p)
		}
		host = h
	} else if strings.HasPrefix(s, "[") {
		host = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	}
	if err := CheckAddress(host); err != nil {
		return fmt.Errorf("%q: %v", s, err)
	}
	return nil
}

// posixUserRE is the POSIX portable user name (IEEE 1003.1, 3.437: the
// portable filename character set, no leading hyphen), with the `$` that
// Samba machine accounts end in.
var posixUserRE = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$`)

// windowsForbidden are the characters a Windows account name cannot hold
// (Active Directory logon names and local accounts: " / \ [ ] : ; | = , + *
// ? < > @ %).
const windowsForbidden = "\"/\\[]:;|=,+*?<>@%"

// CheckUser accepts a user name for a Linux host (windows false): the
// POSIX portable user name, not all digits (it would read as a uid), at
// most 256 characters; NAME@DOMAIN too, as sssd and winbind give domain
// accounts with fully qualified names. For a Windows host: ACCOUNT,
// DOMAIN\ACCOUNT or ACCOUNT@dns.domain (the forms Win32-OpenSSH takes), an
// account of at most 20 characters (a UPN's prefix: 64) without
// " / \ [ ] : ; | = , + * ? < > @ %, not only dots and spaces; a NetBIOS
// domain of at most 15 characters.
func CheckUser(name string, windows bool) error {
	if name == "" {
		return fmt.Errorf("is empty")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%q holds a control character", name)
		}
	}
	if windows {
		return checkWindowsUser(name)
	}
	local, domain, fq := strings.Cut(name, "@")
	if fq {
		if err := CheckAddress(domain); err != nil || net.ParseIP(domain) != nil {
			return fmt.Errorf("%q: the part after @ must be a domain name", name)
		}
	}
	switch {
	case len(name) > 256:
		return fmt.Errorf("%q is longer than 256 characters", name)
	case !posixUserRE.MatchString(local):
		return fmt.Errorf("%q is not a POSIX user name (letters, digits, '.', '_', '-', not starting with '-')", name)
	case allDigits(local):
		return fmt.Errorf("%q is all digits: a user name, not a uid, is needed", name)
	case local == "." || local == "..":
		return fmt.Errorf("%q is not a user name", name)
	}
	return nil
}

func checkWindowsUser(name string) error {
	account, limit := name, 20
	if d, a, ok := strings.Cut(name, `\`); ok {
		if d == "" || len(d) > 15 || strings.ContainsAny(d, `\/:*?"<>|`) || strings.Trim(d, ". ") == "" {
			return fmt.Errorf("%q: %q is not a NetBIOS domain name (1 to 15 characters, none of \\ / : * ? \" < > |)", name, d)
		}
		account = a
	} else if i := strings.LastIndex(name, "@"); i >= 0 {
		if err := CheckAddress(name[i+1:]); err != nil || net.ParseIP(name[i+1:]) != nil {
			return fmt.Errorf("%q: the part after @ must be a domain name", name)
		}
		account, limit = name[:i], 64
	}
	switch {
	case account == "":
		return fmt.Errorf("%q names no account", name)
	case len([]rune(account)) > limit:
		return fmt.Errorf("%q: the account name is longer than %d characters", name, limit)
	case strings.ContainsAny(account, windowsForbidden):
		return fmt.Errorf("%q is not a Windows account name (none of %s)", name, windowsForbidden)
	case strings.Trim(account, ". ") == "":
		return fmt.Errorf("%q is not a Windows account name (only dots and spaces)", name)
	}
	return nil
}

// CheckSSHUsers checks ssh.user against the OS of every host that uses it
// (a host with its own user does not), and each host's own user against its
// OS; fields names each host's field path, in hosts' order (e.g.
// "members[0].host"). Hosts must be validated (OS defaulted) first.
func CheckSSHUsers(s *SSHAnswers, hosts []HostAnswers, fields []string) FieldErrors {
	var es FieldErrors
	var linuxUsers, windowsUsers []string
	for i, h := range hosts {
		win := strings.EqualFold(h.OS, "windows")
		if h.User != "" {
			if err := CheckUser(h.User, win); err != nil {
				es.Add(fields[i]+".user", "%v", err)
			}
			continue
		}
		if win {
			windowsUsers = append(windowsUsers, h.Name)
		} else {
			linuxUsers = append(linuxUsers, h.Name)
		}
	}
	if s.User == "" {
		return es
	}
	if len(linuxUsers) > 0 {
		if err := CheckUser(s.User, false); err != nil {
			es.Add("ssh.user", "%v (the Linux hosts %s log in with it)", err, strings.Join(linuxUsers, ", "))
		}
	}
	if len(windowsUsers) > 0 {
		if err := CheckUser(s.User, true); err != nil {
			es.Add("ssh.user", "%v (the Windows hosts %s log in with it)", err, strings.Join(windowsUsers, ", "))
		}
	}
	return es
}

// CheckProxyJump checks an ssh.proxy_jump value: "none", or comma-separated
// [user@]host[:port] or ssh://[user@]host[:port] elements.
func CheckProxyJump(spec string) error {
	if spec == "" || strings.EqualFold(spec, "none") {
		return nil
	}
	for _, el := range strings.Split(spec, ",") {
		el = strings.TrimSpace(el)
		hp := strings.TrimPrefix(el, "ssh://")
		if i := strings.LastIndex(hp, "@"); i >= 0 {
			hp = hp[i+1:]
		}
		host := hp
		if strings.Contains(hp, ":") {
			h, p, err := net.SplitHostPort(hp)
			n, perr := strconv.Atoi(p)
			if err != nil || perr != nil || n < 1 || n > 65535 {
				return fmt.Errorf("%q: %q is not host or host:port", spec, el)
			}
			host = h
		}
		if host == "" || strings.ContainsAny(host, " \t/\\") {
			return fmt.Errorf("%q: %q names no host", spec, el)
		}
	}
	return nil
}

// placeholderRE is what `hawiz answers PROCEDURE` templates mark as a value
// to fill in: <ssh user>, <central.example.com>.
var placeholderRE = regexp.MustCompile(`<[^<>\r\n]+>`)

// Placeholders lists every string in a (an answers struct, walked by its
// YAML field names) that still holds a template placeholder "<...>", each
// naming its field path.
func Placeholders(a any) FieldErrors {
	var es FieldErrors
	walkPlaceholders(reflect.ValueOf(a), "", &es)
	return es
}

func walkPlaceholders(v reflect.Value, path string, es *FieldErrors) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkPlaceholders(v.Elem(), path, es)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			switch {
			case name == "-":
				continue
			case strings.Contains(","+opts+",", ",inline,"):
				walkPlaceholders(v.Field(i), path, es)
				continue
			case name == "":
				name = strings.ToLower(f.Name)
			}
			if path != "" {
				name = path + "." + name
			}
			walkPlaceholders(v.Field(i), name, es)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walkPlaceholders(v.Index(i), fmt.Sprintf("%s[%d]", path, i), es)
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			walkPlaceholders(v.MapIndex(k), fmt.Sprintf("%s.%v", path, k), es)
		}
	case reflect.String:
		if m := placeholderRE.FindString(v.String()); m != "" {
			es.Add(path, "%q is a placeholder from the answers template: fill it in", m)
		}
	}
}

// WithPlaceholders is es with the placeholders left in a first; other
// errors about a field that holds a placeholder are dropped (they only say
// again that it is not filled in).
func WithPlaceholders(a any, es FieldErrors) FieldErrors {
	ph := Placeholders(a)
	if len(ph) == 0 {
		return es
	}
	held := map[string]bool{}
	for _, e := range ph {
		held[e.Field] = true
	}
	out := append(FieldErrors(nil), ph...)
	for _, e := range es {
		if !held[e.Field] {
			out = append(out, e)
		}
	}
	return out
}
