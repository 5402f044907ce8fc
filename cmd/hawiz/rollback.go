package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

func newRollbackCmd() *cobra.Command { return newRollbackCmdWith(defaultDeps()) }

func newRollbackCmdWith(d deps) *cobra.Command {
	var (
		of        outFlags
		statePath string
		confirm   []string
	)
	c := &cobra.Command{
		Use:   "rollback --state FILE",
		Short: "Undo the changes a run recorded, newest first, from its state file",
		Long: "Undo what a finished, failed or interrupted run changed, from the change journal\n" +
			"in its state file. The plan comes first: every file to restore (from the backup the\n" +
			"run's write kept) or remove (the run created it), every service to return to the\n" +
			"state it had before the run. Then, after every host was checked (a symbolic link\n" +
			"where hawiz wrote a file stops it before anything is written), newest change first:\n" +
			"a file is restored or removed only while it holds exactly what hawiz wrote (a file\n" +
			"changed since is left as it is and named), each service is returned to its earlier\n" +
			"state, and each undo is verified. Progress is checkpointed in FILE's .rollback.json\n" +
			"beside it: run the same command again to continue a rollback that was stopped.\n" +
			"Where there is no technical undo (Ops Manager has no downgrade path) the rollback\n" +
			"shows the documented recovery as manual steps (--confirm STEP once done).",
		Example: "  hawiz rollback --state ~/.local/state/hawiz/micetro-central-ha-central.json\n" +
			"  hawiz rollback --state run.json --yes        # no questions (automation)",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if statePath == "" {
				return usageErrorf("--state: name the state file of the run to roll back")
			}
			st, err := steps.ReadState(statePath)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return usageErrorf("--state: no state file %s", statePath)
				}
				return withCode(steps.ExitCode(err), err)
			}
			if pid, locked := steps.LockedBy(statePath); locked {
				return withCode(steps.ExitRefused, fmt.Errorf("state file %s is in use by a running hawiz (pid %s): roll back once that run has stopped", statePath, pid))
			}
			src, err := d.find(st.Procedure)
			if err != nil {
				return withCode(steps.ExitRefused, fmt.Errorf("state file %s is a run of procedure %q, which this hawiz does not know", statePath, st.Procedure))
			}
			p, err := steps.RollbackProcedure(st, src)
			if err != nil {
				return withCode(steps.ExitCode(err), err)
			}
			// a file the answers name that is gone (a TSIG key file) does not stop
			// the rollback: the DNS undo takes the key from HAWIZ_TSIG_KEY or asks
			a, notes, err := steps.LoadRollbackAnswers(src, []byte(st.Answers))
			if err != nil {
				return withCode(steps.ExitRefused, fmt.Errorf("the answers in %s are not valid for this hawiz's %s: %w", statePath, src.Name, err))
			}
			for _, n := range notes {
				fmt.Fprintf(c.ErrOrStderr(), "hawiz: note: %s\n", n)
			}
			path := steps.RollbackStatePath(statePath)
			_, serr := os.Stat(path)
			resume := serr == nil
			out := c.OutOrStdout()
			if of.json {
				out = c.ErrOrStderr()
			}
			if err := steps.WritePlan(out, p, a); err != nil {
				return withCode(steps.ExitCode(err), err)
			}
			s, err := of.session(c, d)
			if err != nil {
				return err
			}
			ok, err := s.operator.Confirm(c.Context(), "Roll back these changes?", false)
			s.close()
			if err != nil {
				return withCode(steps.ExitCode(err), fmt.Errorf("%w (to roll back without the question: hawiz rollback --state %s --yes)", err, remote.ShArg(statePath)))
			}
			if !ok {
				return withCode(steps.ExitStopped, errors.New("rollback not started: nothing was changed"))
			}
			return runEngine(c, d, &of, steps.RunConfig{
				Procedure: p, Answers: a, AnswersFile: st.AnswersFile, StatePath: path, Resume: resume,
				RunName: st.RunName, Confirm: confirm,
				// not hawiz resume: the rollback's state is continued by this command
				ResumeCommand: "hawiz rollback --state " + remote.ShArg(statePath),
			})
		},
	}
	c.Flags().StringVar(&statePath, "state", "", "state FILE of the run to roll back (required)")
	c.Flags().StringSliceVar(&confirm, "confirm", nil, "record that manual STEP of the rollback was done by hand (repeatable)")
	of.add(c)
	return c
}
