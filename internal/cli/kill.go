package cli

import "github.com/spf13/cobra"

func newKillCmd(e *env) *cobra.Command {
	var sig string
	c := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(e, args, func(ref string) error { return e.engine().Kill(cmd.Context(), ref, sig) })
		},
	}
	c.Flags().StringVarP(&sig, "signal", "s", "KILL", "Signal to send to the container")
	return c
}
