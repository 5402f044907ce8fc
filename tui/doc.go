// Package tui is everything hawiz shows and asks: the full-screen wizard
// (bubbletea v2, huh forms, lipgloss), its accessible line-by-line twin, and
// the plain and JSON renderers that run, resume and check print through.
//
// The wizard's Model routes each message to the screen in front — home,
// review, form, plan, run, finish; one screen_*.go file each — and the run
// screen to the prompt it shows: host keys, manual step, confirmation,
// secret, failure (prompt_*.go), each with its own update, view and reply
// channel to the engine, and the quit dialog over any of them. The engine
// (package steps) runs in its own goroutine and talks to the screens through
// bridge.go: events in, replies out. tui imports steps, never the reverse.
//
// Entry points: Run (full screen), RunAccessible (line prompts for screen
// readers and TERM=dumb), NewPlainRenderer and NewJSONRenderer (the event
// renderers), NewLineOperator and NonInteractiveOperator (answers at a line
// prompt or from flags).
package tui
