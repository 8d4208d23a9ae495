package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newDiffCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changes, err := e.engine().Diff(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			for _, c := range changes {
				fmt.Fprintln(e.out, c.String())
			}
			return nil
		},
	}
}
