package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newSystemRestoreCmd is `hoist system restore`: what dockerd does at
// its start for containers with a restart policy, for a daemonless
// engine (run at boot by the hoist-restore systemd unit).
func newSystemRestoreCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "restore",
		Short: "Start the containers whose restart policy says they should run (at boot, or after their monitors were killed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.engine().RestoreContainers(cmd.Context())
			if err != nil {
				return err
			}
			failed := 0
			for _, r := range res {
				if r.Err != nil {
					failed++
					fmt.Fprintf(e.errOut, "Error: restore %s: %v\n", r.Name, r.Err)
					continue
				}
				fmt.Fprintln(e.out, r.Name)
			}
			if failed > 0 {
				return &StatusError{Code: 1}
			}
			return nil
		},
	}
}
