package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

func TestSecretNeverOnScreen(t *testing.T) {
	m := running(t)
	r := make(chan string, 1)
	m.engine(secretReq{name: steps.SecretSudoPassword, prompt: "sudo password", reply: r})
	for _, c := range "hunter2" {
		m.Update(press(string(c)))
	}
	s := shot(m)
	if strings.Contains(s, "hunter2") {
		t.Fatalf("the secret is on screen:\n%s", s)
	}
	if !strings.Contains(s, "HAWIZ_SUDO_PASSWORD") {
		t.Errorf("no env var hint:\n%s", s)
	}
	m.Update(press("enter"))
	if got := <-r; got != "hunter2" {
		t.Fatalf("secret %q", got)
	}
	if m.run.pr != nil || m.run.quit != nil {
		t.Fatal("prompt still shown")
	}
}

func TestPauseAfterStep(t *testing.T) {
	m := running(t)
	m.Update(press("p"))
	if !m.run.bridge.pause.Load() {
		t.Fatal("p did not ask for a pause")
	}
	released := make(chan struct{})
	go func() {
		m.run.bridge.Event(steps.Event{Kind: steps.EventStepDone, Index: 2, Step: "write-config"})
		close(released)
	}()
	// the model sees the step done, then the pause
	for !m.run.paused {
		batch := m.run.bridge.listen()().(batchMsg)
		for _, x := range batch {
			m.engine(x)
		}
	}
	select {
	case <-released:
		t.Fatal("the engine was not held after the step")
	case <-time.After(50 * time.Millisecond):
	}
	if !strings.Contains(shot(m), "PAUSED after this step") {
		t.Fatalf("no pause banner:\n%s", shot(m))
	}
	m.Update(press("c"))
	<-released
}

func TestGoldenHostKeyChanged(t *testing.T) {
	m := running(t)
	err := &steps.RefusedError{Reason: "refusing to connect", Err: &remote.HostKeyChangedError{Host: "central2", Address: "10.0.0.2", KnownHostsFile: "/home/op/.ssh/known_hosts", Line: 7,
		KeyType: "ssh-ed25519", Fingerprint: "SHA256:9y7r3Lr3l4aV2oM0uJ1tYwq8bCk2xXcD0sT5nQe4gH0"}}
	m.engine(runDoneMsg{outcome: steps.Outcome{Status: steps.StatusRefused}, err: err})
	s := shot(m)
	checkSize(t, s, 80, 24)
	for _, want := range []string{"Refused for safety", "REMOTE HOST IDENTIFICATION HAS CHANGED", "ssh-keygen -f", "Host key verification failed"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q on screen:\n%s", want, s)
		}
	}
	if m.ExitCode() != steps.ExitRefused {
		t.Errorf("exit %d, want 4", m.ExitCode())
	}
	goldenEqual(t, s)
}
