package cli

import "github.com/spf13/cobra"

func newRenameCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.engine().Rename(cmd.Context(), args[0], args[1]); err != nil {
				return &shapedErr{err: err, daemon: true, then: "failed to rename container named " + args[0]}
			}
			return nil
		},
	}
}
