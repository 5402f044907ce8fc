package steps

// Selection: which steps a run takes (--from, --only), and the warnings
// when --from, --only, --skip or --redo break the documented order.

import (
	"fmt"
	"slices"
	"strings"
)

// selection returns the indexes of the steps to run.
func (r *runner) selection() []int {
	var sel []int
	from := 0
	for i, s := range r.list {
		if s.ID == r.cfg.From {
			from = i
		}
	}
	for i, s := range r.list {
		switch {
		case r.cfg.Only != "":
			if s.ID == r.cfg.Only {
				sel = append(sel, i)
			}
		case i >= from:
			sel = append(sel, i)
		}
	}
	return sel
}

func (r *runner) prereqs(i int) []string {
	s := r.list[i]
	if s.After != nil {
		return s.After
	}
	var ids []string
	for _, p := range r.list[:i] {
		ids = append(ids, p.ID)
	}
	return ids
}

func (r *runner) stepDone(id string) bool {
	ss := r.st.Step(id)
	return ss != nil && ss.Status() == StatusDone
}

// warnOrder warns where --from/--only/--skip/--redo break the documented order.
func (r *runner) warnOrder(sel []int) {
	if len(sel) > 0 && (r.cfg.From != "" || r.cfg.Only != "") {
		first := sel[0]
		var missing []string
		for _, id := range r.prereqs(first) {
			if !r.stepDone(id) {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			r.emit(Event{Kind: EventWarning, Step: r.list[first].ID, Message: fmt.Sprintf("unsafe order: %s runs before %s %s done (the documented order puts them first)",
				r.list[first].ID, strings.Join(missing, ", "), isAre(len(missing)))})
		}
	}
	for _, sk := range r.cfg.Skip {
		for i := range r.list {
			if slices.Contains(r.prereqs(i), sk) && slices.Contains(sel, i) {
				r.emit(Event{Kind: EventWarning, Step: sk, Message: fmt.Sprintf("skipping %s: %s depends on it and will run without it", sk, r.list[i].ID)})
				break
			}
		}
	}
	for _, rd := range r.cfg.Redo {
		r.emit(Event{Kind: EventWarning, Step: rd, Message: fmt.Sprintf("redoing %s even if its check says done; the steps after it are re-checked", rd)})
	}
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
