package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newLogoutCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Long:  "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			r, err := e.engine().Logout(cmd.Context(), server)
			if err != nil {
				return err
			}
			if !r.LoggedIn {
				fmt.Fprintf(e.out, "Not logged in to %s\n", r.Shown)
				return nil
			}
			fmt.Fprintf(e.out, "Removing login credentials for %s\n", r.Shown)
			if r.EraseErr != nil {
				fmt.Fprintf(e.errOut, "WARNING: could not erase credentials: %v\n", r.EraseErr)
			}
			return nil
		},
	}
}
