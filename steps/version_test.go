package steps

import "testing"

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
		ok   bool
	}{
		{"8.0.1.500.20241029T1739Z", "8.0.1.500.20241029T1739Z", 0, true},
		{"8.0.2.500.20241105T1200Z", "8.0.1.500.20241029T1739Z", 1, true},
		{"7.0.0", "8.0.1.500.20241029T1739Z", -1, true},
		{"10.5.3", "9.9.9", 1, true},
		{"10.5", "10.5.1", -1, true},
		{"10.5.10", "10.5.9", 1, true},
		{"7.0.0-1", "7.0.0", 1, true},
		{"1.0.1", "1.0.rc1", 1, true},
		{"001.2", "1.2", 0, true},
		{"99999999999999999999999.1", "99999999999999999999998.9", 1, true},
		{"unknown", "1.0", 0, false},
		{"", "1.0", 0, false},
	} {
		got, ok := CompareVersions(c.a, c.b)
		if got != c.want || ok != c.ok {
			t.Errorf("CompareVersions(%q, %q) = %d, %v; want %d, %v", c.a, c.b, got, ok, c.want, c.ok)
		}
		if back, _ := CompareVersions(c.b, c.a); back != -c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, not the opposite of %d", c.b, c.a, back, c.want)
		}
	}
}
