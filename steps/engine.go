package steps

import (
	"context"
	"errors"
)

// Run runs (or, with cfg.Resume, resumes) a procedure: for each step and host
// Check → skip when done → Apply → Verify, writing the state write-ahead after
// every transition. It returns the outcome and, unless the run is done, an
// error whose ExitCode is 1 (a step failed), 3 (stopped / waiting for a manual
// step), 4 (refused for safety) or 2 (bad input, nothing touched).
func Run(ctx context.Context, cfg RunConfig) (Outcome, error) {
	return Outcome{}, errors.New("not implemented yet")
}

// Audit is `hawiz check`: it connects, runs every step's Check and Verify
// (never Apply, never waits for an operator) and reports what does not hold
// as a *DriftError (exit 1). State options in cfg are ignored.
func Audit(ctx context.Context, cfg RunConfig) (Outcome, error) {
	return Outcome{}, errors.New("not implemented yet")
}
