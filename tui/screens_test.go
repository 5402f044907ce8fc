package tui

import (
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// These tests pin the run screen's routing of keys between its own keys,
// the engine's question on show, the queue behind it and the quit
// confirmation over it. They pass on the single-model code before issue 18
// as on the screen and prompt models after it: the split changed no key.

var ctrlC = tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}

func wantOnScreen(t *testing.T, m *Model, texts ...string) {
	t.Helper()
	s := shot(m)
	for _, x := range texts {
		if !strings.Contains(s, x) {
			t.Fatalf("no %q on screen:\n%s", x, s)
		}
	}
}

func wantOffScreen(t *testing.T, m *Model, texts ...string) {
	t.Helper()
	s := shot(m)
	for _, x := range texts {
		if strings.Contains(s, x) {
			t.Fatalf("%q on screen:\n%s", x, s)
		}
	}
}

// q over a question asks whether to quit; n brings the same question back
// as it was (cursor, ticks), and it is still answered once.
func TestQuitOverQuestionComesBack(t *testing.T) {
	m := running(t)
	r := make(chan map[string]bool, 1)
	m.engine(hostKeysReq{keys: []remote.NewHostKey{{Host: "central1"}, {Host: "central2"}}, reply: r})
	m.Update(press("down"))
	m.Update(press("space"))
	m.Update(press("q"))
	wantOnScreen(t, m, "Quit now?")
	m.Update(press("n"))
	wantOnScreen(t, m, "New hosts", "> [x] central2")
	m.Update(ctrlC)
	wantOnScreen(t, m, "Quit now?")
	m.Update(press("x"))
	m.Update(press("enter"))
	if got := <-r; len(got) != 1 || !got["central2"] {
		t.Fatalf("accepted %v, want central2", got)
	}
	select {
	case extra := <-r:
		t.Fatalf("a second answer %v", extra)
	default:
	}
}

// Questions that arrive while one is on show wait and come up in order.
func TestQueuedQuestionsInOrder(t *testing.T) {
	m := running(t)
	list, _ := steps.BuildSteps(m.proc, m.answers)
	c := make(chan bool, 1)
	man := make(chan error, 1)
	m.engine(confirmReq{question: "First question?", reply: c})
	m.engine(manualReq{step: list[2], reply: man})
	wantOnScreen(t, m, "First question? (y/N)")
	m.Update(press("enter"))
	if <-c {
		t.Fatal("enter took yes; the default is no")
	}
	wantOnScreen(t, m, "By hand: "+list[2].Title)
	m.Update(press("c"))
	if err := <-man; err != nil {
		t.Fatalf("manual: %v", err)
	}
	wantOffScreen(t, m, "By hand:")
	wantOnScreen(t, m, "── output")
}

// Quitting over a question stops the run; the questions queued behind it
// do not come up.
func TestQuitLeavesQueuedQuestions(t *testing.T) {
	m := running(t)
	c1, c2 := make(chan bool, 1), make(chan bool, 1)
	m.engine(confirmReq{question: "First question?", reply: c1})
	m.engine(confirmReq{question: "Second question?", reply: c2})
	m.Update(press("q"))
	m.Update(press("y"))
	wantOnScreen(t, m, "stopping… the state is kept")
	wantOffScreen(t, m, "First question?", "Second question?")
	if len(c1)+len(c2) != 0 {
		t.Fatal("a question was answered by quitting")
	}
	_, cmd := m.Update(ctrlC) // ctrl+c while stopping leaves at once
	if cmd == nil {
		t.Fatal("ctrl+c while stopping did not quit")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("ctrl+c while stopping did not quit")
	}
}

// q is part of a secret; ctrl+c asks to quit and n keeps what was typed.
func TestSecretTakesQ(t *testing.T) {
	m := running(t)
	r := make(chan string, 1)
	m.engine(secretReq{name: steps.SecretSudoPassword, prompt: "sudo password", reply: r})
	m.Update(press("q"))
	wantOffScreen(t, m, "Quit now?")
	m.Update(ctrlC)
	wantOnScreen(t, m, "Quit now?")
	m.Update(press("n"))
	wantOnScreen(t, m, "The sudo password is needed")
	m.Update(press("w"))
	m.Update(press("enter"))
	if got := <-r; got != "qw" {
		t.Fatalf("secret %q, want qw", got)
	}
}

// On a failure q answers Quit; over the skip warning q asks to quit, n
// brings the warning back, and any other key goes back to the choices.
func TestFailureKeys(t *testing.T) {
	m := running(t)
	list, _ := steps.BuildSteps(m.proc, m.answers)
	r := make(chan steps.FailureChoice, 1)
	m.engine(failureReq{step: list[1], host: "central1", err: errors.New("boom"), reply: r})
	m.Update(ctrlC)
	wantOffScreen(t, m, "Quit now?")
	m.Update(press("s"))
	wantOnScreen(t, m, "UNVERIFIED")
	m.Update(press("q"))
	wantOnScreen(t, m, "Quit now?")
	m.Update(press("n"))
	wantOnScreen(t, m, "UNVERIFIED")
	m.Update(press("n"))
	wantOffScreen(t, m, "UNVERIFIED")
	wantOnScreen(t, m, "Step failed: "+list[1].Title+" on central1", "boom")
	m.Update(press("q"))
	if c := <-r; c != steps.Quit {
		t.Fatalf("choice %v, want Quit", c)
	}
	wantOffScreen(t, m, "Step failed")
}
