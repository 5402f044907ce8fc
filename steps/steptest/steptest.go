// Package steptest is a small test procedure that writes and edits files on
// in-process SSH hosts (remote/sshtest), and the harness the engine's and the
// CLI's tests share. Tests only.
package steptest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/remote/sshtest"
	"github.com/hawiz/hawiz/steps"
)

type Answers struct {
	SSH       steps.SSHAnswers    `yaml:"ssh"`
	Hosts     []steps.HostAnswers `yaml:"hosts"`
	Greeting  string              `yaml:"greeting"`
	Manual    bool                `yaml:"manual,omitempty"`
	UseSecret bool                `yaml:"use_secret,omitempty"`
	FailOn    string              `yaml:"fail_on,omitempty"` // a step ID whose Apply fails while the file "fail" exists on the host
	// Hold is a step ID whose Apply, on a host without the file "release",
	// first runs a remote command that writes its PID to holding.pid,
	// prints "holding until release exists" and waits for that file: a
	// remote action in progress, for interruption tests.
	Hold string `yaml:"hold,omitempty"`
}

func (a *Answers) Validate() error {
	var es steps.FieldErrors
	es = append(es, a.SSH.Validate().Prefix("ssh")...)
	if len(a.Hosts) != 2 {
		es.Add("hosts", "need exactly 2 hosts, got %d", len(a.Hosts))
	}
	for i := range a.Hosts {
		es = append(es, a.Hosts[i].Validate().Prefix(fmt.Sprintf("hosts[%d]", i))...)
	}
	if a.Greeting == "" {
		es.Add("greeting", "is required")
	} else if strings.ContainsAny(a.Greeting, "\n\r") {
		es.Add("greeting", "must be one line")
	}
	return es.Err()
}

// HostAnswers lists the hosts in order (steps.HostSource).
func (a *Answers) HostAnswers() []steps.HostAnswers { return a.Hosts }

// SSHAnswers returns the ssh block (steps.HostSource).
func (a *Answers) SSHAnswers() *steps.SSHAnswers { return &a.SSH }

const testTemplate = `# test procedure answers
ssh:
  sudo: none            # nopasswd | password | none
hosts:
  - name: h1
    address: 127.0.0.1
    port: 2201
  - name: h2
    address: 127.0.0.1
    port: 2202
greeting: hello         # written to conf.txt
`

func fileCheck(path, want string) func(context.Context, *steps.Env, string) (bool, string, error) {
	return func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
		fi, err := hostOf(e, host).Stat(ctx, path, false)
		if err != nil {
			return false, "", err
		}
		sum := sha256.Sum256([]byte(want))
		if !fi.Exists {
			return false, path + " absent", nil
		}
		return fi.SHA256 == hex.EncodeToString(sum[:]), fmt.Sprintf("%s sha256 %s", path, fi.SHA256), nil
	}
}

func failIfAsked(ctx context.Context, e *steps.Env, host, id string) error {
	a := e.Answers().(*Answers)
	if a.FailOn != id {
		return nil
	}
	fi, err := hostOf(e, host).Stat(ctx, "fail", false)
	if err != nil {
		return err
	}
	if fi.Exists {
		res, err := hostOf(e, host).Run(ctx, remote.Cmd{Program: "sh", Args: []string{"-c", "echo about to fail; echo broken >&2; exit 7"}})
		if err != nil {
			return err
		}
		return res.ExitError()
	}
	return nil
}

// holdScript waits for the file "release" (see Answers.Hold).
const holdScript = `if [ -e release ]; then exit 0; fi
echo $$ > holding.pid
echo "holding until release exists"
while [ ! -e release ]; do sleep 0.05; done`

func holdIfAsked(ctx context.Context, e *steps.Env, host, id string) error {
	if e.Answers().(*Answers).Hold != id {
		return nil
	}
	res, err := hostOf(e, host).Run(ctx, remote.Cmd{Program: "sh", Args: []string{"-c", holdScript},
		OnLine: func(_, line string) { e.Output(host, line) }})
	if err != nil {
		return err
	}
	return res.ExitError()
}

func Procedure() *steps.Procedure {
	return &steps.Procedure{
		Name:        "test-files",
		Title:       "Test files",
		Description: "writes files on two hosts (tests only)",
		DocURL:      "https://example.invalid/test-files",
		Version:     1,
		NewAnswers:  func() steps.Answers { return &Answers{} },
		Template:    testTemplate,
		Steps: func(sa steps.Answers) ([]*steps.Step, error) {
			a := sa.(*Answers)
			names := []string{a.Hosts[0].Name, a.Hosts[1].Name}
			conf := "greeting=" + a.Greeting + "\n"
			list := []*steps.Step{{
				ID: "write-config", Title: "Write conf.txt", Why: "every host needs the greeting", DocRef: "test §1",
				Hosts: names, Mode: steps.EachInOrder,
				Actions: []string{fmt.Sprintf("write %q to conf.txt", conf)},
				Check:   fileCheck("conf.txt", conf),
				Apply: func(ctx context.Context, e *steps.Env, host string) error {
					if err := holdIfAsked(ctx, e, host, "write-config"); err != nil {
						return err
					}
					if err := failIfAsked(ctx, e, host, "write-config"); err != nil {
						return err
					}
					_, err := hostOf(e, host).WriteFile(ctx, "conf.txt", []byte(conf), remote.WriteOptions{Mode: 0o644})
					return err
				},
				Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
					ok, ev, err := fileCheck("conf.txt", conf)(ctx, e, host)
					if err == nil && !ok {
						err = errors.New("conf.txt does not hold the greeting")
					}
					return ev, err
				},
			}, {
				ID: "bump-counter", Title: "Bump the counter once", Why: "a non-idempotent edit made safe by a fact",
				Hosts: names[:1], Mode: steps.Once,
				Actions: []string{"counter := counter+1 on " + names[0]},
				Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
					want, ok := e.Fact("counter.want")
					if !ok {
						return false, "no target recorded", nil
					}
					n, err := readCounter(ctx, hostOf(e, host))
					return err == nil && strconv.Itoa(n) == want, fmt.Sprintf("counter %d, want %s", n, want), err
				},
				Apply: func(ctx context.Context, e *steps.Env, host string) error {
					if err := holdIfAsked(ctx, e, host, "bump-counter"); err != nil {
						return err
					}
					h := hostOf(e, host)
					n, err := readCounter(ctx, h)
					if err != nil {
						return err
					}
					e.SetFact("counter.want", strconv.Itoa(n+1))
					_, err = h.WriteFile(ctx, "counter", []byte(strconv.Itoa(n+1)+"\n"), remote.WriteOptions{})
					return err
				},
				Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
					n, err := readCounter(ctx, hostOf(e, host))
					return fmt.Sprintf("counter %d", n), err
				},
			}, {
				ID: "touch-markers", Title: "Touch the markers", Hosts: names, Mode: steps.Parallel,
				Actions: []string{"write marker.txt = host name"},
				After:   []string{"write-config"},
				Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
					return fileCheck("marker.txt", host+"\n")(ctx, e, host)
				},
				Apply: func(ctx context.Context, e *steps.Env, host string) error {
					if err := holdIfAsked(ctx, e, host, "touch-markers"); err != nil {
						return err
					}
					e.Output(host, "writing marker for "+host)
					_, err := hostOf(e, host).WriteFile(ctx, "marker.txt", []byte(host+"\n"), remote.WriteOptions{})
					return err
				},
				Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
					ok, ev, err := fileCheck("marker.txt", host+"\n")(ctx, e, host)
					if err == nil && !ok {
						err = errors.New("marker.txt wrong")
					}
					return ev, err
				},
			}}
			if a.Manual {
				list = append(list, &steps.Step{
					ID: "confirm-by-hand", Title: "Create manual.txt by hand", Hosts: names[:1], Mode: steps.Once,
					Manual: &steps.Manual{
						Instructions: []string{"Log in to " + names[0], "Create manual.txt in the home directory"},
						Values:       []steps.KV{{Label: "File", Value: "manual.txt"}},
					},
					Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
						fi, err := hostOf(e, host).Stat(ctx, "manual.txt", false)
						return fi.Exists, fmt.Sprintf("manual.txt exists: %t", fi.Exists), err
					},
					Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
						fi, err := hostOf(e, host).Stat(ctx, "manual.txt", false)
						if err == nil && !fi.Exists {
							err = errors.New("manual.txt is missing")
						}
						return fmt.Sprintf("manual.txt exists: %t", fi.Exists), err
					},
				})
			}
			if a.UseSecret {
				list = append(list, &steps.Step{
					ID: "store-secret", Title: "Store the secret", Hosts: names[1:], Mode: steps.Once,
					Actions: []string{"write the App DB password to secret.txt"},
					Check: func(ctx context.Context, e *steps.Env, host string) (bool, string, error) {
						s, err := e.Secret(steps.SecretAppDBPassword)
						if err != nil {
							return false, "", err
						}
						return fileCheck("secret.txt", s)(ctx, e, host)
					},
					Apply: func(ctx context.Context, e *steps.Env, host string) error {
						s, err := e.Secret(steps.SecretAppDBPassword)
						if err != nil {
							return err
						}
						e.Output(host, "storing password "+s)
						e.Logger().Info("storing", "password", s)
						if _, err := hostOf(e, host).Run(ctx, remote.Cmd{Program: "echo", Args: []string{"the secret is", s}}); err != nil {
							return err
						}
						_, err = hostOf(e, host).WriteFile(ctx, "secret.txt", []byte(s), remote.WriteOptions{Secret: true, Mode: 0o600})
						return err
					},
					Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
						s, _ := e.Secret(steps.SecretAppDBPassword)
						b, _, err := hostOf(e, host).ReadFile(ctx, "secret.txt", false)
						return "secret.txt holds " + string(b) + " (want " + s + ")", err
					},
				})
			}
			list = append(list, &steps.Step{
				ID: "local-verify", Title: "Verify locally", Why: "a step without hosts",
				Verify: func(ctx context.Context, e *steps.Env, host string) (string, error) {
					return "greeting " + e.Answers().(*Answers).Greeting, nil
				},
			})
			return list, nil
		},
	}
}

func readCounter(ctx context.Context, h *remote.Host) (int, error) {
	fi, err := h.Stat(ctx, "counter", false)
	if err != nil || !fi.Exists {
		return 0, err
	}
	b, _, err := h.ReadFile(ctx, "counter", false)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// lab is two sshtest hosts, a client key and a known_hosts file.
type Lab struct {
	Dir        string
	KeyPath    string
	KnownHosts string
	Servers    []*sshtest.Server
	Roots      []string // each host's directory (h1, h2)
}

func NewLab(t testing.TB) *Lab {
	t.Helper()
	dir := t.TempDir()
	l := &Lab{Dir: dir, KeyPath: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.KeyPath, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		root := filepath.Join(dir, fmt.Sprintf("root%d", i+1))
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		s, err := sshtest.Start(sshtest.Config{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}, Root: root,
			HostKeySeed: []byte(fmt.Sprintf("host%d", i+1))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		l.Servers = append(l.Servers, s)
		l.Roots = append(l.Roots, root)
	}
	return l
}

// answers returns answers YAML for the lab.
func (l *Lab) AnswersYAML(extra string) []byte {
	return fmt.Appendf(nil, `ssh:
  sudo: none
  identity_file: %s
  known_hosts: %s
  ssh_config: none
  user: tester
hosts:
  - name: h1
    address: 127.0.0.1
    port: %d
  - name: h2
    address: 127.0.0.1
    port: %d
greeting: hello
%s`, l.KeyPath, l.KnownHosts, l.Servers[0].Port(), l.Servers[1].Port(), extra)
}

// resetRoots empties the hosts' directories.
func (l *Lab) ResetRoots(t testing.TB) {
	t.Helper()
	for _, r := range l.Roots {
		ents, _ := os.ReadDir(r)
		for _, e := range ents {
			os.RemoveAll(filepath.Join(r, e.Name()))
		}
	}
}

// files returns every host's files (name → content), without interrupted
// writes' temp files.
func (l *Lab) Files(t testing.TB) map[string]string {
	t.Helper()
	m := map[string]string{}
	for i, r := range l.Roots {
		ents, err := os.ReadDir(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.Contains(e.Name(), ".hawiz-tmp") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(r, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			m[fmt.Sprintf("h%d:%s", i+1, e.Name())] = string(b)
		}
	}
	return m
}

func MapString(m map[string]string) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return b.String()
}

// recorder is a Renderer that keeps events.
type Recorder struct {
	mu     sync.Mutex
	Events []steps.Event
}

func (r *Recorder) Event(ev steps.Event) {
	r.mu.Lock()
	r.Events = append(r.Events, ev)
	r.mu.Unlock()
}

func (r *Recorder) Kinds(k steps.EventKind) []steps.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []steps.Event
	for _, e := range r.Events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func Getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// config returns a RunConfig for the lab's procedure.
func (l *Lab) Config(t testing.TB, statePath string, extra string) steps.RunConfig {
	t.Helper()
	p := Procedure()
	a, err := steps.LoadAnswers(p, l.AnswersYAML(extra))
	if err != nil {
		t.Fatal(err)
	}
	return steps.RunConfig{
		Procedure: p, Answers: a, AnswersFile: "test.yaml", StatePath: statePath, RunName: "t",
		Renderer: &Recorder{}, Operator: steps.NonInteractive{Yes: true}, Yes: true,
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second},
		Getenv: Getenv(map[string]string{"HAWIZ_APPDB_PASSWORD": Secret}),
	}
}

const Secret = "s3cr3t-Pa55word!"

func SlogJSON(w io.Writer, red *remote.Redactor) *slog.Logger {
	return slog.New(steps.NewRedactingHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}), red))
}

// hostOf is the test procedures' host lookup: the engine runs them only on
// connected hosts, so an unknown name is a bug in the test and panics
// naming it.
func hostOf(e *steps.Env, name string) *remote.Host {
	h, err := e.Host(name)
	if err != nil {
		panic("steptest: " + err.Error())
	}
	return h
}
