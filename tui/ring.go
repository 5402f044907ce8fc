package tui

// ring is a bounded buffer of output lines: once full, the oldest line is
// dropped, so memory stays flat however long a step writes.
type ring struct {
	lines   []string
	start   int // index of the oldest line
	n       int // lines held
	dropped int // lines dropped since the last reset
}

func newRing(capacity int) *ring {
	if capacity < 1 {
		capacity = 1
	}
	return &ring{lines: make([]string, capacity)}
}

// Add appends a line, dropping the oldest when full.
func (r *ring) Add(s string) {
	c := len(r.lines)
	if r.n < c {
		r.lines[(r.start+r.n)%c] = s
		r.n++
		return
	}
	r.lines[r.start] = s
	r.start = (r.start + 1) % c
	r.dropped++
}

// Len is the number of lines held.
func (r *ring) Len() int { return r.n }

// Dropped is the number of lines dropped since Reset.
func (r *ring) Dropped() int { return r.dropped }

// At returns line i (0 = oldest held).
func (r *ring) At(i int) string { return r.lines[(r.start+i)%len(r.lines)] }

// Window returns at most h lines starting at line off (clamped).
func (r *ring) Window(off, h int) []string {
	if h <= 0 || r.n == 0 {
		return nil
	}
	off = max(0, min(off, r.n-1))
	end := min(r.n, off+h)
	out := make([]string, 0, end-off)
	for i := off; i < end; i++ {
		out = append(out, r.At(i))
	}
	return out
}

// Tail returns the last n lines.
func (r *ring) Tail(n int) []string { return r.Window(max(0, r.n-n), n) }

// Reset empties the buffer (the backing array is kept).
func (r *ring) Reset() {
	clear(r.lines)
	r.start, r.n, r.dropped = 0, 0, 0
}
