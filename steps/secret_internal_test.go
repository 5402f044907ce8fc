package steps

import (
	"context"
	"strings"
	"testing"
)

// promptOperator answers every secret prompt with value.
type promptOperator struct {
	NonInteractive
	value string
	asked int
}

func (o *promptOperator) Secret(context.Context, string, string) (string, error) {
	o.asked++
	return o.value, nil
}

// A secret with CR, LF or NUL is refused where it is accepted, from the
// environment or from the prompt, naming the field and never the value;
// it is neither kept nor registered with the redactor.
func TestSecretWithLineBreakRefused(t *testing.T) {
	for _, tc := range []struct {
		name, secret, value, want string
		fromEnv                   bool
	}{
		{"sudo LF env", SecretSudoPassword, "pw\nrm -rf /tmp/x", "sudo password (from HAWIZ_SUDO_PASSWORD): contains a line break (CR or LF); sudo reads only up to the first newline and the rest would become the command's input", true},
		{"sudo CR env", SecretSudoPassword, "pw\rrm", "sudo password (from HAWIZ_SUDO_PASSWORD): contains a line break (CR or LF)", true},
		{"sudo CRLF prompt", SecretSudoPassword, "pw\r\n", "sudo password (as entered): contains a line break (CR or LF)", false},
		{"sudo NUL prompt", SecretSudoPassword, "pw\x00rm", "sudo password (as entered): contains a NUL byte", false},
		{"ssh LF env", SecretSSHPassword, "pw\nrm", "SSH password (from HAWIZ_SSH_PASSWORD): contains a line break (CR or LF)", true},
		{"ssh CR prompt", SecretSSHPassword, "pw\rrm", "SSH password (as entered): contains a line break (CR or LF)", false},
		{"passphrase LF env", SecretKeyPassphrase, "pw\nrm", "SSH key passphrase (from HAWIZ_KEY_PASSPHRASE): contains a line break", true},
		{"appdb LF prompt", SecretAppDBPassword, "pw\nrm", "Application Database password (as entered): contains a line break", false},
		{"other CR env", "tsig.key", "pw\rrm", "tsig.key (from HAWIZ_TSIG_KEY): contains a line break", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := &promptOperator{value: tc.value}
			e := NewEnv(context.Background(), nil, nil, op)
			e.getenv = func(k string) string {
				if tc.fromEnv && k == SecretEnvVar(tc.secret) {
					return tc.value
				}
				return ""
			}
			v, err := e.Secret(tc.secret)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Secret(%s) = %q, %v; want the error %q", tc.secret, v, err, tc.want)
			}
			if strings.Contains(err.Error(), "rm") || strings.Contains(err.Error(), "pw") {
				t.Errorf("the error shows the value: %v", err)
			}
			if tc.fromEnv != (op.asked == 0) {
				t.Errorf("operator asked %d times", op.asked)
			}
			if !e.Redactor().Empty() || len(e.secrets) != 0 {
				t.Error("a refused value was kept")
			}
		})
	}
	// one line is fine, spaces and all
	e := NewEnv(context.Background(), nil, nil, &promptOperator{value: " p w "})
	e.getenv = func(string) string { return "" }
	if v, err := e.Secret(SecretSudoPassword); err != nil || v != " p w " {
		t.Fatalf("Secret = %q, %v", v, err)
	}
}
