package main

import (
	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/steps"
)

func newCheckCmd() *cobra.Command { return newCheckCmdWith(defaultDeps()) }

func newCheckCmdWith(d deps) *cobra.Command {
	var (
		of      outFlags
		answers string
	)
	c := &cobra.Command{
		Use:   "check PROCEDURE -a FILE",
		Short: "Audit the live hosts without changing anything: every step's check and verification",
		Long: "Connect to the hosts and run every step's check and verification, changing\n" +
			"nothing (no apply, no manual waits, no state file). Exit 0 when everything holds,\n" +
			"1 with the list of what does not (drift).",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := d.find(args[0])
			if err != nil {
				return err
			}
			a, err := d.loadAnswers(p, answers)
			if err != nil {
				return err
			}
			s, err := of.session(c, d)
			if err != nil {
				return err
			}
			defer s.close()
			_, err = steps.Audit(c.Context(), steps.RunConfig{
				Procedure: p, Answers: a, Renderer: s.renderer, Operator: s.operator,
				Redactor: s.redactor, Logger: s.logger, Yes: of.yes, Getenv: d.getenv, Remote: d.remote,
			})
			return withCode(steps.ExitCode(err), err)
		},
	}
	c.Flags().StringVarP(&answers, "answers", "a", "", "answers `FILE` (YAML)")
	of.add(c)
	return c
}
