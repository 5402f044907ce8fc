package dnscheck

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/miekg/dns"
)

// TSIGKey signs updates. Secret is base64, as in BIND's key files; it is a
// secret: String, GoString and LogValue leave it out.
type TSIGKey struct {
	Name      string // key name, e.g. "hawiz-update"
	Algorithm string // "hmac-sha256" (default), hmac-sha1/224/384/512
	Secret    string // base64
}

func (k TSIGKey) String() string {
	return fmt.Sprintf("TSIG key %s (%s)", strings.TrimSuffix(k.Name, "."), k.algName())
}

// GoString keeps %#v from printing the secret.
func (k TSIGKey) GoString() string { return k.String() }

// LogValue keeps slog from printing the secret.
func (k TSIGKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", k.Name), slog.String("algorithm", k.algName()))
}

// MarshalJSON keeps the secret out of JSON.
func (k TSIGKey) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"name":%q,"algorithm":%q}`, k.Name, k.algName()), nil
}

func (k TSIGKey) algName() string {
	if k.Algorithm == "" {
		return "hmac-sha256"
	}
	return strings.ToLower(strings.TrimSuffix(k.Algorithm, "."))
}

var algorithms = map[string]string{
	"hmac-sha1":   dns.HmacSHA1,
	"hmac-sha224": dns.HmacSHA224,
	"hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384,
	"hmac-sha512": dns.HmacSHA512,
}

// Validate checks the key's fields; errors name the field, never the secret.
func (k TSIGKey) Validate() error {
	if _, ok := dns.IsDomainName(k.Name); !ok || strings.TrimSpace(k.Name) == "" || k.Name == "." {
		return inputErrorf("tsig key name", "%q is not a valid key name", k.Name)
	}
	if a := k.algName(); a == "hmac-md5" || a == "hmac-md5.sig-alg.reg.int" {
		return inputErrorf("tsig algorithm", "hmac-md5 is not supported (hawiz's DNS library does not sign with it): make a hmac-sha256 key, e.g. with tsig-keygen")
	}
	if _, ok := algorithms[k.algName()]; !ok {
		return inputErrorf("tsig algorithm", "unknown algorithm %q (use hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224 or hmac-sha1)", k.Algorithm)
	}
	if k.Secret == "" {
		return inputErrorf("tsig secret", "empty")
	}
	if b, err := base64.StdEncoding.DecodeString(k.Secret); err != nil || len(b) == 0 {
		return inputErrorf("tsig secret", "not valid base64")
	}
	return nil
}

// fqdnName and algorithm in the form miekg/dns wants.
func (k TSIGKey) wire() (name, alg string) {
	return dns.CanonicalName(k.Name), algorithms[k.algName()]
}

// LoadTSIGFile reads the first key clause of a BIND key file:
//
//	key "hawiz-update" {
//		algorithm hmac-sha256;
//		secret "base64...";
//	};
//
// Errors name the file and the field, never the secret.
func LoadTSIGFile(path string) (TSIGKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return TSIGKey{}, &InputError{Field: "tsig-file", Err: fmt.Errorf("%s: %w", path, err)}
	}
	k, err := ParseTSIGFile(string(data))
	if err != nil {
		return TSIGKey{}, &InputError{Field: "tsig-file", Err: fmt.Errorf("%s: %w", path, err)}
	}
	return k, nil
}

// ParseTSIGFile parses BIND key-file text (see LoadTSIGFile), or a file
// holding one line in nsupdate -y's form, [ALGORITHM:]NAME:SECRET.
func ParseTSIGFile(text string) (TSIGKey, error) {
	if line := strings.TrimSpace(text); line != "" && !strings.ContainsAny(line, "{};\n") && strings.Contains(line, ":") {
		return ParseTSIGKeyLine(line)
	}
	toks, err := tokenize(text)
	if err != nil {
		return TSIGKey{}, err
	}
	// key NAME { algorithm ALG ; secret "S" ; } ;
	i := 0
	next := func() string {
		if i >= len(toks) {
			return ""
		}
		i++
		return toks[i-1]
	}
	for i < len(toks) && toks[i] != "key" {
		i++
	}
	if next() != "key" {
		return TSIGKey{}, errors.New(`no "key" clause (expected BIND format: key "name" { algorithm hmac-sha256; secret "..."; };)`)
	}
	var k TSIGKey
	k.Name = next()
	if k.Name == "" || k.Name == "{" {
		return TSIGKey{}, errors.New("the key has no name")
	}
	if next() != "{" {
		return TSIGKey{}, errors.New(`expected "{" after the key name`)
	}
	for {
		t := next()
		switch t {
		case "}":
			if k.Secret == "" {
				return TSIGKey{}, errors.New("the key has no secret")
			}
			if k.Algorithm == "" {
				k.Algorithm = "hmac-sha256"
			}
			if err := k.Validate(); err != nil {
				return TSIGKey{}, err
			}
			return k, nil
		case "algorithm":
			k.Algorithm = next()
		case "secret":
			k.Secret = next()
		case "":
			return TSIGKey{}, errors.New(`unterminated key clause (missing "}")`)
		default:
			// Never echo the token: it may be a misplaced secret.
			return TSIGKey{}, errors.New(`unknown statement in the key clause (only "algorithm" and "secret" are allowed)`)
		}
		if next() != ";" {
			return TSIGKey{}, fmt.Errorf(`expected ";" after the %s value`, t)
		}
	}
}

// tokenize splits BIND config text into words, quoted strings and { } ;,
// dropping # // and /* */ comments.
func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || (c == '/' && i+1 < len(s) && s[i+1] == '/'):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, errors.New("unterminated comment")
			}
			i += end + 4
		case c == '{' || c == '}' || c == ';':
			toks = append(toks, string(c))
			i++
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, errors.New("unterminated quoted string")
			}
			toks = append(toks, s[i+1:i+1+end])
			i += end + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n{};\"#", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

// ParseTSIGKeyLine parses a key in nsupdate -y's form:
// [ALGORITHM:]NAME:SECRET (algorithm hmac-sha256 when left out; the secret
// in base64). Errors name the part, never the secret.
func ParseTSIGKeyLine(line string) (TSIGKey, error) {
	parts := strings.Split(strings.TrimSpace(line), ":")
	var k TSIGKey
	switch len(parts) {
	case 2:
		k = TSIGKey{Name: parts[0], Algorithm: "hmac-sha256", Secret: parts[1]}
	case 3:
		k = TSIGKey{Algorithm: parts[0], Name: parts[1], Secret: parts[2]}
	default:
		return TSIGKey{}, errors.New("expected [ALGORITHM:]NAME:SECRET (as nsupdate -y takes) or BIND's key format")
	}
	if err := k.Validate(); err != nil {
		return TSIGKey{}, err
	}
	return k, nil
}
