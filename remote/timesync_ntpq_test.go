package remote

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hawiz/hawiz/remote/sshtest"
)

// ntpq whose daemon is not running prints its complaint on stderr and may
// exit 0 with nothing on stdout (ntp 4.2.8 does): that is no answer from a
// time service, so unknown (a warning), not "not synchronised" (a refusal);
// a peer table with no system peer, or no association at all, is not
// synchronised.
func TestTimeSyncNtpqWithoutDaemon(t *testing.T) {
	dir := binDir(t)
	os.WriteFile(filepath.Join(dir, "ntpq"), []byte("#!/bin/sh\necho 'ntpq: read: Connection refused' >&2\nexit 0\n"), 0o755)
	l := newLab(t)
	s := l.server(func(c *sshtest.Config) { c.Env = []string{"PATH=" + dir} })
	f := l.connect(l.opts(), s)
	ts, err := f.Host("web1").TimeSync(ctxT(t))
	if err != nil || ts.State != TimeUnknown {
		t.Fatalf("ntpq without its daemon: %+v %v, want unknown", ts, err)
	}
	for _, c := range []struct {
		out  string
		want TimeState
	}{
		{"hawiz-time:ntpq\nntpq: read: Connection refused\n", TimeUnknown},
		{"hawiz-time:ntpq\nlocalhost: timed out, nothing received\n***Request timed out\n", TimeUnknown},
		{"hawiz-time:ntpq\nNo association ID's returned\n", TimeNotSynced},
		{"hawiz-time:ntpq\n     remote  refid st\n==========\n 10.0.0.1  .INIT. 16\n", TimeNotSynced},
		{"hawiz-time:ntpq\n     remote  refid st\n==========\n*10.0.0.1  .GPS. 1\n", TimeSynced},
	} {
		if got := parseTimeSync(c.out); got.State != c.want || got.Evidence == "" {
			t.Errorf("parseTimeSync(%q) = %+v, want state %d", c.out, got, c.want)
		}
	}
}
