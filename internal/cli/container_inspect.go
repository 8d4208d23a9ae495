package cli

import "github.com/spf13/cobra"

func newContainerInspectCmd(e *env) *cobra.Command {
	var format string
	var size bool
	c := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.inspectAll(cmd.Context(), args, "container", format, size)
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	c.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return c
}
