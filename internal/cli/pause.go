package cli

import "github.com/spf13/cobra"

func newPauseCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := e.containers()
			if err != nil {
				return err
			}
			return eachContainer(e, args, func(ref string) error { return m.Pause(cmd.Context(), ref) })
		},
	}
}
