package cli

import "github.com/spf13/cobra"

func newPauseCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(e, args, func(ref string) error { return e.engine().Pause(cmd.Context(), ref) })
		},
	}
}
