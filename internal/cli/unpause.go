package cli

import "github.com/spf13/cobra"

func newUnpauseCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Unpause all processes within one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(e, args, func(ref string) error { return e.engine().Unpause(cmd.Context(), ref) })
		},
	}
}
