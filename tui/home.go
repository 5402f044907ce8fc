package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/hawiz/hawiz/steps"
)

// Resumable is an unfinished run found in the state directory.
type Resumable struct {
	Path      string
	Procedure string
	RunName   string
	Status    steps.Status
	StepIndex int    // 1-based step where it stopped (0 = none started)
	StepTitle string // its title
	Total     int
	Updated   time.Time
	Message   string
}

// ListResumable reads every state file in dir and returns the runs that are
// not done, most recently updated first. Unreadable files are skipped.
func ListResumable(dir string) []Resumable {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var out []Resumable
	for _, p := range paths {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		st, err := steps.ReadState(p)
		if err != nil || st.Status == steps.StatusDone {
			continue
		}
		r := Resumable{Path: p, Procedure: st.Procedure, RunName: st.RunName, Status: st.Status,
			Total: len(st.Steps), Updated: st.Updated, Message: st.Message}
		for i, s := range st.Steps {
			if ss := s.Status(); ss != steps.StatusDone && ss != steps.StatusSkipped {
				r.StepIndex, r.StepTitle = i+1, s.Title
				break
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Updated.After(out[j].Updated) })
	return out
}

// ago says how long ago t was, coarsely.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return t.Format("2006-01-02 15:04")
}
