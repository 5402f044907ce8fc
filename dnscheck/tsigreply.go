package dnscheck

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxFudge bounds the clock difference a signed reply may show, whatever
// fudge it claims: the fudge hawiz signs its requests with.
const maxFudge = 300

// errOtherKey: a TSIG record names another key or algorithm than the one
// hawiz signed with.
var errOtherKey = errors.New("signed with another key")

// oneKey is a dns.TsigProvider for exactly one key: a TSIG record naming
// another key or algorithm neither signs nor verifies (miekg/dns's own
// secret map looks the key up by name only and takes the algorithm from the
// record it checks).
type oneKey struct {
	name, alg string // canonical, as TSIGKey.wire gives them
	secret    []byte
	// notAuth, when set, is the RCODE NOTAUTH to put back into the MAC input
	// at notAuthAt: see verifyReply.
	notAuth   bool
	notAuthAt int
}

func newOneKey(k TSIGKey) (oneKey, error) {
	name, alg := k.wire()
	secret, err := base64.StdEncoding.DecodeString(k.Secret)
	if err != nil {
		return oneKey{}, inputErrorf("tsig secret", "not valid base64")
	}
	if hashOf(alg) == nil { // Validate lets none through
		return oneKey{}, inputErrorf("tsig algorithm", "%s is not supported for signing", k.algName())
	}
	return oneKey{name: name, alg: alg, secret: secret}, nil
}

func hashOf(alg string) func() hash.Hash {
	switch alg {
	case dns.HmacSHA1:
		return sha1.New
	case dns.HmacSHA224:
		return sha256.New224
	case dns.HmacSHA256:
		return sha256.New
	case dns.HmacSHA384:
		return sha512.New384
	case dns.HmacSHA512:
		return sha512.New
	}
	return nil
}

func (k oneKey) mine(t *dns.TSIG) bool {
	return strings.EqualFold(dns.CanonicalName(t.Hdr.Name), k.name) && strings.EqualFold(dns.CanonicalName(t.Algorithm), k.alg)
}

// Generate implements dns.TsigProvider.
func (k oneKey) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	if !k.mine(t) {
		return nil, errOtherKey
	}
	h := hmac.New(hashOf(k.alg), k.secret)
	h.Write(msg)
	return h.Sum(nil), nil
}

// Verify implements dns.TsigProvider.
func (k oneKey) Verify(msg []byte, t *dns.TSIG) error {
	if !k.mine(t) {
		return errOtherKey
	}
	if k.notAuth && k.notAuthAt < len(msg) {
		msg[k.notAuthAt] = msg[k.notAuthAt]&^0x0f | dns.RcodeNotAuth
	}
	mac, err := hex.DecodeString(t.MAC)
	if err != nil {
		return dns.ErrSig
	}
	want, _ := k.Generate(msg, t)
	if !hmac.Equal(mac, want) {
		return dns.ErrSig
	}
	return nil
}

// sign packs m, whose last record is a TSIG stub for k, and signs it; it
// returns the wire message and its MAC (the request MAC of the reply).
func (k oneKey) sign(m *dns.Msg) (wire []byte, mac string, err error) {
	return dns.TsigGenerateWithProvider(m.Copy(), k, "", false)
}

// verifyReply checks the MAC and time of raw, the reply to a request whose
// MAC is reqMAC, with miekg/dns's TsigVerify (RFC 8945 4.3.3, 5.2.3).
// miekg/dns refuses to verify any NOTAUTH message (for BADKEY and BADSIG
// replies are unsigned), but a server signs the other ones (BADTIME, not
// authoritative for the zone): such a reply is handed over as NOERROR and
// its RCODE put back into the MAC input, where the header follows the
// request MAC and its 2-byte length.
func verifyReply(raw []byte, k oneKey, reqMAC string) error {
	b := append([]byte(nil), raw...)
	if len(b) >= 12 && int(b[3]&0x0f) == dns.RcodeNotAuth {
		b[3] &^= 0x0f
		k.notAuth, k.notAuthAt = true, 2+len(reqMAC)/2+3
	}
	return dns.TsigVerifyWithProvider(b, k, reqMAC, false)
}

// checkReply says why raw (r, unpacked) is not an authenticated reply to
// req, the update signed with k whose MAC is reqMAC (RFC 8945 5.3): it must
// be a response with req's ID, opcode UPDATE and req's zone (or, as RFC
// 2136 3.8 allows, no zone section), and carry exactly one TSIG record, the
// last, from k, for req's ID, whose MAC verifies and whose time is within
// its fudge (and hawiz's) of this machine's clock. "" when it is. The TSIG
// error field is left to the caller: a verified refusal may carry one.
func checkReply(req, r *dns.Msg, raw []byte, k oneKey, reqMAC string, now time.Time) string {
	zone := req.Question[0]
	switch {
	case !r.Response:
		return "it is not a response (the QR bit is clear)"
	case r.Id != req.Id:
		return fmt.Sprintf("its ID %d is not the update's %d", r.Id, req.Id)
	case r.Opcode != dns.OpcodeUpdate:
		return fmt.Sprintf("its opcode is %s, not UPDATE", opcodeName(r.Opcode))
	case len(r.Question) > 1:
		return fmt.Sprintf("its zone section holds %d entries", len(r.Question))
	case len(r.Question) == 1 && (!strings.EqualFold(dns.CanonicalName(r.Question[0].Name), dns.CanonicalName(zone.Name)) ||
		r.Question[0].Qtype != dns.TypeSOA || r.Question[0].Qclass != zone.Qclass):
		q := r.Question[0]
		return fmt.Sprintf("its zone section names %s %s %s, not the zone %s",
			strings.TrimSuffix(q.Name, "."), classOrNumber(q.Qclass), typeOrNumber(q.Qtype), strings.TrimSuffix(zone.Name, "."))
	}
	n := 0
	for _, rr := range r.Extra {
		if rr.Header().Rrtype == dns.TypeTSIG {
			n++
		}
	}
	t := r.IsTsig()
	switch {
	case n == 0:
		return "it is not signed (no TSIG record)"
	case n > 1 || t == nil:
		return "its TSIG record is not the one and last record of the additional section"
	case !k.mine(t):
		return fmt.Sprintf("it is signed with the key %s (%s), not %s (%s)",
			strings.TrimSuffix(t.Hdr.Name, "."), strings.TrimSuffix(t.Algorithm, "."), strings.TrimSuffix(k.name, "."), strings.TrimSuffix(k.alg, "."))
	case t.OrigId != req.Id:
		return fmt.Sprintf("its TSIG is for message ID %d, not the update's %d", t.OrigId, req.Id)
	case t.MAC == "":
		return "its TSIG record carries no MAC"
	}
	if err := verifyReply(raw, k, reqMAC); err != nil && !errors.Is(err, dns.ErrTime) {
		return fmt.Sprintf("its MAC does not verify with the key %s (the reply was altered on the way, or signed with another secret)", strings.TrimSuffix(k.name, "."))
	}
	signed := time.Unix(int64(t.TimeSigned), 0)
	skew := now.Sub(signed)
	if skew < 0 {
		skew = -skew
	}
	if fudge := time.Duration(min(int(t.Fudge), maxFudge)) * time.Second; skew > fudge {
		return fmt.Sprintf("it was signed at %s, %s from this machine's clock, beyond the fudge of %s (a replayed or delayed reply, or clocks that differ)",
			signed.UTC().Format(time.RFC3339), skew.Round(time.Second), fudge)
	}
	return ""
}

// keyErrorReply reports whether r is the unsigned error a server sends when
// it cannot check the update's signature (RFC 8945 5.3.2): NOTAUTH with one
// TSIG record for the update's key, ID and algorithm, an empty MAC and the
// error BADKEY or BADSIG, in reply to this update (ID, opcode, zone).
func keyErrorReply(req, r *dns.Msg, k oneKey) bool {
	t := r.IsTsig()
	if r.Rcode != dns.RcodeNotAuth || t == nil || !k.mine(t) || t.OrigId != req.Id || t.MAC != "" ||
		(t.Error != dns.RcodeBadKey && t.Error != dns.RcodeBadSig) {
		return false
	}
	n := 0
	for _, rr := range r.Extra {
		if rr.Header().Rrtype == dns.TypeTSIG {
			n++
		}
	}
	zoneOK := len(r.Question) == 0 || (len(r.Question) == 1 &&
		strings.EqualFold(dns.CanonicalName(r.Question[0].Name), dns.CanonicalName(req.Question[0].Name)) &&
		r.Question[0].Qtype == dns.TypeSOA && r.Question[0].Qclass == req.Question[0].Qclass)
	return n == 1 && r.Response && r.Id == req.Id && r.Opcode == dns.OpcodeUpdate && zoneOK
}

func opcodeName(op int) string {
	if s, ok := dns.OpcodeToString[op]; ok {
		return s
	}
	return fmt.Sprintf("OPCODE%d", op)
}

func classOrNumber(c uint16) string {
	if s, ok := dns.ClassToString[c]; ok {
		return s
	}
	return fmt.Sprintf("CLASS%d", c)
}

func typeOrNumber(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}
