package cli

import "github.com/spf13/cobra"

func newRestartCmd(e *env) *cobra.Command {
	var timeout int
	c := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := e.containers()
			if err != nil {
				return err
			}
			var t *int
			if cmd.Flags().Changed("time") {
				t = &timeout
			}
			return eachContainer(e, args, func(ref string) error { return m.Restart(cmd.Context(), ref, t) })
		},
	}
	c.Flags().IntVarP(&timeout, "time", "t", 10, "Seconds to wait for stop before killing the container")
	return c
}
