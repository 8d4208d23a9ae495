package cli

import (
	"fmt"

	"github.com/hoistproject/hoist/internal/registry/client/credentials"
	"github.com/spf13/cobra"
)

func newLogoutCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Long:  "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			shown := credentials.IndexServer
			server := credentials.IndexServer
			if len(args) == 1 {
				server = args[0]
				shown = credentials.Hostname(server)
			}
			creds, err := credentials.Load(e.engine().CredentialsPath())
			if err != nil {
				return err
			}
			if !creds.Has(server) {
				fmt.Fprintf(e.out, "Not logged in to %s\n", shown)
				return nil
			}
			fmt.Fprintf(e.out, "Removing login credentials for %s\n", shown)
			if _, err := creds.Erase(cmd.Context(), server); err != nil {
				fmt.Fprintf(e.errOut, "WARNING: could not erase credentials: %v\n", err)
			}
			return nil
		},
	}
}
