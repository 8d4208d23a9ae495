package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newContainerInspectCmd(e *env) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := e.containers()
			if err != nil {
				return err
			}
			var items []any
			var firstErr error
			for _, ref := range args {
				ctr, err := m.Get(cmd.Context(), ref)
				if err != nil {
					fmt.Fprintln(e.errOut, "Error: No such container:", ref)
					firstErr = &StatusError{Code: 1}
					continue
				}
				items = append(items, ctr.Inspect())
			}
			if err := renderInspect(e.out, format, items); err != nil {
				return err
			}
			return firstErr
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return c
}
