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
		Args:  cobra.ExactArgs(1),
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
	return c
}
