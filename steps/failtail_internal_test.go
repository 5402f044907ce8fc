package steps

import (
	"errors"
	"slices"
	"testing"

	"github.com/hawiz/hawiz/remote"
)

// A failure's output is the failing command's own, never an earlier step's
// output nor remote's protocol lines (issue 17 item 4): the demo's failure
// screen showed the previous step's output and "hawiz-stat:exists …".
func TestFailureTailIsTheFailingCommandsOutput(t *testing.T) {
	r, err := newRunner(RunConfig{Procedure: &Procedure{Name: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	act := func(out string, status int) {
		r.onAction(remote.Action{Host: "h", Kind: "run", Output: out, ExitStatus: status})
	}
	r.curStep.Store("first")
	act("version 10.3.5\ninactive\n", 0)
	r.curStep.Store("second")
	act("hawiz-stat:exists - 172 81a4 1796521844.05 root root\n", 0)
	act("hawiz-absent\n", 2)
	r.emit(Event{Kind: EventOutput, Step: "second", Host: "h", Output: []string{"streamed"}})
	act("about to fail\nbroken\n", 7)
	act("cleanup done\n", 0)

	if got, want := r.tail("h", &remote.ExitError{Status: 7}), []string{"about to fail", "broken"}; !slices.Equal(got, want) {
		t.Errorf("a command's exit status: tail %q, want %q", got, want)
	}
	if got, want := r.tail("h", errors.New("no such value")), []string{"streamed", "about to fail", "broken", "cleanup done"}; !slices.Equal(got, want) {
		t.Errorf("any other error: tail %q, want %q (this step's output, no protocol lines)", got, want)
	}
	r.curStep.Store("third")
	if got := r.tail("h", errors.New("x")); len(got) != 0 {
		t.Errorf("a step with no output yet: tail %q, want none (not the last step's)", got)
	}
	for _, l := range []string{"hawiz-stat:exists - 1", "hawiz-absent", "hawiz-sudo-ok", "hawiz-write:changed:/b", "  hawiz-sudo-prompt:"} {
		if !remote.IsProtocolLine(l) {
			t.Errorf("%q is remote's protocol", l)
		}
	}
	for _, l := range []string{"hawiz-Demo is up", "hawiz- x", "hawiz-2024.bak written", "a hawiz-stat:x"} {
		if remote.IsProtocolLine(l) {
			t.Errorf("%q is not remote's protocol", l)
		}
	}
}
