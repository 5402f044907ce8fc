package remote

import (
	"strings"
	"testing"
)

// A secret that a command's output wraps over several lines never reaches
// the OnLine callback, not even in pieces, and the lines keep their count.
func TestOnLineSecretSplitAcrossLines(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	const secret = "s3cr3t-Pa55word-x"
	o := l.opts()
	o.Redactor = NewRedactor()
	o.Redactor.Add(secret)
	h := l.connect(o, s).Host("web1")
	var lines []string
	res, err := h.Run(ctxT(t), Cmd{Program: "sh", Args: []string{"-c", `printf 'pw=%s\n' "$1" | fold -w 9; echo end`, "x", secret},
		OnLine: func(_, line string) { lines = append(lines, line) }})
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	want := strings.Count(string(res.Stdout), "\n")
	if len(lines) != want {
		t.Fatalf("%d lines, want %d: %q", len(lines), want, lines)
	}
	all := strings.Join(lines, "")
	for _, piece := range []string{secret[:6], secret[6:12], secret[len(secret)-5:]} {
		if strings.Contains(all, piece) {
			t.Fatalf("a piece %q of the secret reached OnLine: %q", piece, lines)
		}
	}
	if lines[len(lines)-1] != "end" {
		t.Fatalf("last line %q", lines[len(lines)-1])
	}
}

// The transcript cuts long output to its head and tail; a secret lying
// across the cut is redacted before the cut, so none of it stays in clear.
func TestTranscriptSecretAcrossTheCut(t *testing.T) {
	const secret = "0123456789-secret-abcdef"
	red := NewRedactor()
	red.Add(secret)
	for _, at := range []int{maxTranscriptOutput/2 - 6, maxTranscriptOutput/2 + 3} {
		out := strings.Repeat("x", at) + secret + strings.Repeat("y", maxTranscriptOutput)
		got := transcriptOutput(red, []byte(out), nil)
		if strings.Contains(got, secret[:6]) || strings.Contains(got, secret[len(secret)-6:]) {
			t.Fatalf("secret at %d: part of it in the transcript: …%q…", at, got[maxTranscriptOutput/2-40:maxTranscriptOutput/2+40])
		}
		// and from the tail's side
		out = strings.Repeat("y", maxTranscriptOutput) + secret + strings.Repeat("x", maxTranscriptOutput/2-at%7-10)
		got = transcriptOutput(red, []byte(out), nil)
		if strings.Contains(got, secret[:6]) || strings.Contains(got, secret[len(secret)-6:]) {
			t.Fatalf("secret near the tail's cut: part of it in the transcript")
		}
	}
}
