package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newAnswersCmd() *cobra.Command { return newAnswersCmdWith(defaultDeps()) }

func newAnswersCmdWith(d deps) *cobra.Command {
	return &cobra.Command{
		Use:               "answers PROCEDURE",
		ValidArgsFunction: completeProcedure(d),
		Short:             "Print an annotated answers template (YAML) to fill in",
		Example: "  hawiz answers micetro-central-ha > central.yaml\n" +
			"  $EDITOR central.yaml\n  hawiz plan micetro-central-ha -a central.yaml",
		Args: procedureArg(d, false),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := d.find(args[0])
			if err != nil {
				return err
			}
			t := p.Template
			if !strings.HasSuffix(t, "\n") {
				t += "\n"
			}
			_, err = fmt.Fprint(c.OutOrStdout(), t)
			return err
		},
	}
}
