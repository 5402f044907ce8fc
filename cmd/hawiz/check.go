package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/steps"
)

func newCheckCmd() *cobra.Command { return newCheckCmdWith(defaultDeps()) }

func newCheckCmdWith(d deps) *cobra.Command {
	var (
		of      outFlags
		answers string
	)
	var statePath string
	c := &cobra.Command{
		Use:   "check [PROCEDURE -a FILE] [--state FILE]",
		Short: "Audit the live hosts without changing anything: every step's check and verification",
		Long: "Connect to the hosts and run every step's check and verification, changing\n" +
			"nothing (no apply, no manual waits, no state written). Exit 0 when everything\n" +
			"holds, 1 with the list of what does not (drift). With --state, the facts that run\n" +
			"recorded (e.g. confirmations of manual steps) are used, and without PROCEDURE\n" +
			"and -a the procedure and answers come from that state file.",
		Example: "  hawiz check micetro-central-ha -a central.yaml\n" +
			"  hawiz check --state ~/.local/state/hawiz/micetro-central-ha-central.json",
		Args:              procedureArg(d, true),
		ValidArgsFunction: completeProcedure(d),
		RunE: func(c *cobra.Command, args []string) error {
			var (
				p   *steps.Procedure
				a   steps.Answers
				err error
			)
			switch {
			case len(args) == 1:
				if p, err = d.find(args[0]); err != nil {
					return err
				}
				if a, err = d.loadAnswers(p, answers); err != nil {
					return err
				}
			case statePath != "":
				st, err := steps.ReadState(statePath)
				if err != nil {
					return withCode(steps.ExitCode(err), err)
				}
				if p, err = d.find(st.Procedure); err != nil {
					return withCode(steps.ExitRefused, fmt.Errorf("state file %s is a run of procedure %q, which this hawiz does not know", statePath, st.Procedure))
				}
			default:
				return usageErrorf("name a procedure and its answers (check PROCEDURE -a FILE), or a run (--state FILE)")
			}
			s, err := of.session(c, d)
			if err != nil {
				return err
			}
			defer s.close()
			_, err = steps.Audit(c.Context(), steps.RunConfig{
				Procedure: p, Answers: a, StatePath: statePath, Renderer: s.renderer, Operator: s.operator,
				Redactor: s.redactor, Logger: s.logger, Yes: of.yes, Getenv: d.getenv, Remote: of.remoteOptions(d),
			})
			return withCode(steps.ExitCode(err), err)
		},
	}
	c.Flags().StringVarP(&answers, "answers", "a", "", "answers FILE (YAML)")
	_ = c.MarkFlagFilename("answers", "yaml", "yml")
	c.Flags().StringVar(&statePath, "state", "", "use the facts (and, without PROCEDURE, the procedure and answers) of the run in state FILE; read only")
	of.add(c)
	return c
}
