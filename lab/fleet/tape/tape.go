// Package tape replays a VHS tape's keystrokes (Type, Enter, arrows, Sleep,
// Wait…) into a tmux pane, so that demo.tape is tested for real (the replay
// test) and recorded without VHS (lab/record-demo.sh, with asciinema).
package tape

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Cmd is one tape command.
type Cmd struct {
	Line     int
	Name     string        // Type, Key, Sleep, Wait
	Text     string        // Type: the text; Key: the tmux key name
	Count    int           // Key: how many times
	Delay    time.Duration // Type/Key: between keystrokes; Sleep: how long; Wait: timeout
	Pattern  *regexp.Regexp
	LastLine bool // Wait+Line
}

// Tape is a parsed tape.
type Tape struct {
	Cols, Rows  int // from the "# Terminal: COLSxROWS" comment (default 100x30)
	TypingSpeed time.Duration
	Cmds        []Cmd
}

var keys = map[string]string{
	"Enter": "Enter", "Down": "Down", "Up": "Up", "Left": "Left", "Right": "Right", "Tab": "Tab",
	"Backspace": "BSpace", "Escape": "Escape", "Space": "Space", "PageUp": "PPage", "PageDown": "NPage",
}

var sizeRE = regexp.MustCompile(`^#\s*Terminal:\s*(\d+)x(\d+)`)

// Parse reads a tape. Commands it cannot replay (Screenshot, Copy…) are errors;
// settings (Set, Output, Require, Source, Env) are ignored except TypingSpeed.
func Parse(r io.Reader) (*Tape, error) {
	t := &Tape{Cols: 100, Rows: 30, TypingSpeed: 50 * time.Millisecond}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if m := sizeRE.FindStringSubmatch(line); m != nil {
			t.Cols, _ = strconv.Atoi(m[1])
			t.Rows, _ = strconv.Atoi(m[2])
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		name, opt, _ := strings.Cut(word, "@")
		var speed time.Duration
		if opt != "" {
			d, err := parseDuration(opt)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			speed = d
		}
		switch {
		case name == "Set":
			k, v, _ := strings.Cut(rest, " ")
			if k == "TypingSpeed" {
				d, err := parseDuration(strings.TrimSpace(v))
				if err != nil {
					return nil, fmt.Errorf("line %d: %v", n, err)
				}
				t.TypingSpeed = d
			}
		case name == "Output" || name == "Require" || name == "Source" || name == "Env" || name == "Hide" || name == "Show":
		case name == "Type":
			s, err := unquote(rest)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			t.Cmds = append(t.Cmds, Cmd{Line: n, Name: "Type", Text: s, Delay: speed})
		case keys[name] != "" || strings.HasPrefix(name, "Ctrl+"):
			k := keys[name]
			if k == "" {
				k = "C-" + strings.ToLower(strings.TrimPrefix(name, "Ctrl+"))
			}
			c := Cmd{Line: n, Name: "Key", Text: k, Count: 1, Delay: speed}
			if rest != "" {
				cnt, err := strconv.Atoi(rest)
				if err != nil {
					return nil, fmt.Errorf("line %d: %q is not a count", n, rest)
				}
				c.Count = cnt
			}
			t.Cmds = append(t.Cmds, c)
		case name == "Sleep":
			d, err := parseDuration(rest)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			t.Cmds = append(t.Cmds, Cmd{Line: n, Name: "Sleep", Delay: d})
		case name == "Wait" || name == "Wait+Screen" || name == "Wait+Line":
			if !strings.HasPrefix(rest, "/") || !strings.HasSuffix(rest, "/") || len(rest) < 2 {
				return nil, fmt.Errorf("line %d: Wait needs /regex/", n)
			}
			re, err := regexp.Compile(rest[1 : len(rest)-1])
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			if speed == 0 {
				speed = 15 * time.Second
			}
			t.Cmds = append(t.Cmds, Cmd{Line: n, Name: "Wait", Pattern: re, Delay: speed, LastLine: name == "Wait+Line"})
		default:
			return nil, fmt.Errorf("line %d: %s cannot be replayed", n, name)
		}
	}
	return t, sc.Err()
}

func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

func unquote(s string) (string, error) {
	if len(s) >= 2 {
		switch q := s[0]; q {
		case '"', '\'', '`':
			if s[len(s)-1] == q {
				return s[1 : len(s)-1], nil
			}
		}
	}
	return "", fmt.Errorf("Type needs a quoted string, got %s", s)
}

// Pane is where keystrokes go.
type Pane interface {
	Keys(keys ...string) error
	Text(s string) error
	Screen() (string, error)
}

// Tmux is a tmux pane: Socket (tmux -S) and Target (-t).
type Tmux struct{ Socket, Target string }

func (p Tmux) run(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-S", p.Socket}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("tmux %v: %v: %s", args, err, out)
	}
	return string(out), nil
}

func (p Tmux) Keys(k ...string) error {
	_, err := p.run(append([]string{"send-keys", "-t", p.Target}, k...)...)
	return err
}

func (p Tmux) Text(s string) error {
	if strings.HasSuffix(s, ";") { // tmux reads a trailing ';' as its command separator
		s = strings.TrimSuffix(s, ";") + `\;`
	}
	_, err := p.run("send-keys", "-t", p.Target, "-l", s)
	return err
}

func (p Tmux) Screen() (string, error) { return p.run("capture-pane", "-p", "-t", p.Target) }

// Play sends the tape's keystrokes to p. log, when non-nil, gets each command.
// A Wait that times out is an error that shows the screen.
func (t *Tape) Play(ctx context.Context, p Pane, log func(string)) error {
	sleep := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	for _, c := range t.Cmds {
		if log != nil {
			log(fmt.Sprintf("line %d: %s %q %v", c.Line, c.Name, c.Text, c.Delay))
		}
		switch c.Name {
		case "Type":
			d := c.Delay
			if d == 0 {
				d = t.TypingSpeed
			}
			for _, r := range c.Text {
				if err := p.Text(string(r)); err != nil {
					return err
				}
				if err := sleep(d); err != nil {
					return err
				}
			}
		case "Key":
			for i := 0; i < c.Count; i++ {
				if err := p.Keys(c.Text); err != nil {
					return err
				}
				d := c.Delay
				if d == 0 {
					d = 100 * time.Millisecond
				}
				if err := sleep(d); err != nil {
					return err
				}
			}
		case "Sleep":
			if err := sleep(c.Delay); err != nil {
				return err
			}
		case "Wait":
			deadline := time.Now().Add(c.Delay)
			for {
				scr, err := p.Screen()
				if err != nil {
					return err
				}
				check := scr
				if c.LastLine {
					lines := strings.Split(strings.TrimRight(scr, "\n "), "\n")
					check = lines[len(lines)-1]
				}
				if c.Pattern.MatchString(check) {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("tape line %d: waited %v for /%s/; the screen is:\n%s", c.Line, c.Delay, c.Pattern, scr)
				}
				if err := sleep(50 * time.Millisecond); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
