package main

import (
	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/steps"
)

func newPlanCmd() *cobra.Command { return newPlanCmdWith(defaultDeps()) }

func newPlanCmdWith(d deps) *cobra.Command {
	var answers string
	c := &cobra.Command{
		Use:   "plan PROCEDURE -a FILE",
		Short: "Print every step, its hosts and remote actions; connects nowhere",
		Example: "  hawiz answers micetro-central-ha > central.yaml\n" +
			"  hawiz plan micetro-central-ha -a central.yaml",
		Args:              procedureArg(d, false),
		ValidArgsFunction: completeProcedure(d),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := d.find(args[0])
			if err != nil {
				return err
			}
			a, err := d.loadAnswers(p, answers)
			if err != nil {
				return err
			}
			if err := steps.WritePlan(c.OutOrStdout(), p, a); err != nil {
				return withCode(steps.ExitCode(err), err)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&answers, "answers", "a", "", "answers FILE (YAML)")
	_ = c.MarkFlagFilename("answers", "yaml", "yml")
	return c
}
