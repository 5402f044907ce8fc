package steps_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

// A run whose sudo or SSH password holds a line break stops before it
// connects to any host, with an error naming the field.
func TestRunRefusesPasswordWithLineBreak(t *testing.T) {
	l := steptest.NewLab(t)
	for _, tc := range []struct {
		name, env, value, want string
		set                    func(*steps.SSHAnswers)
	}{
		{"sudo", "HAWIZ_SUDO_PASSWORD", "pw\nid > pwned", "sudo password (from HAWIZ_SUDO_PASSWORD): contains a line break (CR or LF); sudo reads only up to the first newline",
			func(s *steps.SSHAnswers) { s.Sudo = steps.SudoPassword }},
		{"ssh", "HAWIZ_SSH_PASSWORD", "pw\r\n", "SSH password (from HAWIZ_SSH_PASSWORD): contains a line break (CR or LF)",
			func(s *steps.SSHAnswers) { s.Password = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := l.Config(t, filepath.Join(t.TempDir(), "s.json"), "")
			tc.set(&cfg.Answers.(*steptest.Answers).SSH)
			cfg.Getenv = steptest.Getenv(map[string]string{"HAWIZ_APPDB_PASSWORD": steptest.Secret, tc.env: tc.value})
			rec := &steptest.Recorder{}
			cfg.Renderer = rec
			_, err := steps.Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "pwned") {
				t.Errorf("the error shows the value: %v", err)
			}
			for i, s := range l.Servers {
				if n := s.Accepted(); n != 0 {
					t.Errorf("h%d: %d connections", i+1, n)
				}
			}
			if evs := rec.Kinds(steps.EventConnect); len(evs) != 0 {
				t.Errorf("connect events: %+v", evs)
			}
		})
	}
}
