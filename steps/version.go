package steps

import "strings"

// CompareVersions orders two version strings as package managers mostly do
// for the forms vendors print ("10.5.3", "8.0.1.500.20241029T1739Z",
// "7.0.0-1"): split on '.', '-', '+', '~' and '_', each part compared by its
// leading number, then by what follows it as text; a version with more parts
// is the newer when all the shared parts are equal. ok is false when either
// does not start with a number (nothing sensible can be said).
func CompareVersions(a, b string) (cmp int, ok bool) {
	pa, pb := versionParts(a), versionParts(b)
	if len(pa) == 0 || len(pb) == 0 || !startsWithDigit(pa[0]) || !startsWithDigit(pb[0]) {
		return 0, false
	}
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if c := comparePart(pa[i], pb[i]); c != 0 {
			return c, true
		}
	}
	switch {
	case len(pa) < len(pb):
		return -1, true
	case len(pa) > len(pb):
		return 1, true
	}
	return 0, true
}

func versionParts(v string) []string {
	return strings.FieldsFunc(strings.TrimSpace(v), func(r rune) bool {
		return r == '.' || r == '-' || r == '+' || r == '~' || r == '_'
	})
}

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

func comparePart(a, b string) int {
	na, ra := leadingNumber(a)
	nb, rb := leadingNumber(b)
	switch {
	case na != "" && nb != "":
		na, nb = strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
		if len(na) != len(nb) { // any length, no overflow
			return sign(len(na) - len(nb))
		}
		if c := strings.Compare(na, nb); c != 0 {
			return c
		}
		return strings.Compare(ra, rb)
	case na != "":
		return 1 // a number sorts after text ("1.0.1" > "1.0.rc1")
	case nb != "":
		return -1
	}
	return strings.Compare(a, b)
}

func leadingNumber(s string) (num, rest string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
