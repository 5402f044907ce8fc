package tui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// lineInput is the LineOperator's one reader of its input. Plain answers and
// secrets are read by the same code from the same buffer, one prompt at a time,
// on the asking goroutine: nothing else reads the input, and nothing reads it
// between prompts (on Unix a read waits in a muesli/cancelreader cancelled with
// the prompt's context, so a cancelled prompt leaves no read behind).
//
// A secret is read with the terminal's echo off: echo goes off (pending input
// discarded: it was typed before the prompt, with echo on) before the prompt is
// printed, and the terminal's own state comes back (again discarding what was
// typed while echo was off and not read) before secret returns, whether the
// line came, the input ended or ctx was cancelled (Ctrl-C cancels the run's
// context). Lines read in one mode are never handed to a prompt of the other.
type lineInput struct {
	f      *os.File
	turn   chan struct{} // held by the prompt being asked
	buf    []byte        // read and not yet returned
	err    error         // the input's end (io.EOF) or read error, once seen
	secret bool          // a secret is being read (echo off)
	chunk  [256]byte
	platformReader
}

func newLineInput(f *os.File) *lineInput {
	return &lineInput{f: f, turn: make(chan struct{}, 1)}
}

func (in *lineInput) acquire(ctx context.Context) error {
	select {
	case in.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (in *lineInput) release() { <-in.turn }

// line prints prompt to out and returns the next line, trimmed.
func (in *lineInput) line(ctx context.Context, out io.Writer, prompt string) (string, error) {
	if err := in.acquire(ctx); err != nil {
		return "", err
	}
	defer in.release()
	fmt.Fprint(out, prompt)
	l, err := in.readLine(ctx)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(out)
		}
		return "", err
	}
	return strings.TrimSpace(l), nil
}

// secretLine prints "prompt: " to out and returns the next line, read with the
// terminal's echo off; only a trailing CR is removed.
func (in *lineInput) secretLine(ctx context.Context, out io.Writer, prompt string) (string, error) {
	if err := in.acquire(ctx); err != nil {
		return "", err
	}
	defer in.release()
	restore, err := echoOff(in.f)
	if err != nil {
		return "", fmt.Errorf("cannot turn the terminal's echo off for the %s: %w", prompt, err)
	}
	in.discard()
	in.secret = true
	fmt.Fprintf(out, "%s: ", prompt)
	l, err := in.readLine(ctx)
	in.discard()
	in.secret = false
	rerr := restore()
	fmt.Fprintln(out)
	if err != nil {
		return "", err
	}
	if rerr != nil {
		return "", fmt.Errorf("cannot restore the terminal after the %s: %w", prompt, rerr)
	}
	return strings.TrimSuffix(l, "\r"), nil
}

// discard drops (and wipes) what was read and not returned.
func (in *lineInput) discard() {
	clear(in.buf)
	in.buf = in.buf[:0]
}

// readLine returns the next line without its newline (the last one may have
// none); ctx.Err() when ctx ends first; ErrWaitingForOperator when the input
// has ended. The bytes returned are wiped from the buffer.
func (in *lineInput) readLine(ctx context.Context) (string, error) {
	for {
		if i := bytes.IndexByte(in.buf, '\n'); i >= 0 {
			l := string(in.buf[:i])
			clear(in.buf[:i+1])
			in.buf = append(in.buf[:0], in.buf[i+1:]...)
			return l, nil
		}
		if in.err != nil {
			if len(in.buf) > 0 {
				l := string(in.buf)
				in.discard()
				return l, nil
			}
			if errors.Is(in.err, io.EOF) {
				return "", fmt.Errorf("%w: input closed", steps.ErrWaitingForOperator)
			}
			return "", fmt.Errorf("%w: reading input: %v", steps.ErrWaitingForOperator, in.err)
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := in.read(ctx, in.chunk[:])
		in.buf = append(in.buf, in.chunk[:n]...)
		clear(in.chunk[:n])
		if err != nil {
			if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
				return "", cerr
			}
			in.err = err
		}
	}
}
