// Command replay plays a VHS tape's keystrokes into a tmux pane:
//
//	replay -S SOCKET -t TARGET demo.tape
//
// lab/record-demo.sh uses it to record demo.tape with asciinema.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/hawiz/hawiz/lab/fleet/tape"
)

func main() {
	sock := flag.String("S", "", "tmux socket")
	target := flag.String("t", "", "tmux target pane")
	verbose := flag.Bool("v", false, "print every command")
	flag.Parse()
	if flag.NArg() != 1 || *sock == "" || *target == "" {
		fmt.Fprintln(os.Stderr, "usage: replay -S SOCKET -t TARGET FILE.tape")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	t, err := tape.Parse(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var log func(string)
	if *verbose {
		log = func(s string) { fmt.Fprintln(os.Stderr, s) }
	}
	if err := t.Play(context.Background(), tape.Tmux{Socket: *sock, Target: *target}, log); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
