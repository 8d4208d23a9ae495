package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newWaitCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := false
			for _, ref := range args {
				code, err := e.engine().Wait(cmd.Context(), ref)
				if err != nil {
					fmt.Fprintln(e.errOut, "Error response from daemon:", err)
					failed = true
					continue
				}
				fmt.Fprintln(e.out, code)
			}
			if failed {
				return &StatusError{Code: 1}
			}
			return nil
		},
	}
}
