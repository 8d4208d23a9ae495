package cli

import "github.com/spf13/cobra"

func newStopCmd(e *env) *cobra.Command {
	var timeout int
	c := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
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
			return eachContainer(e, args, func(ref string) error { return m.Stop(cmd.Context(), ref, t) })
		},
	}
	c.Flags().IntVarP(&timeout, "time", "t", 10, "Seconds to wait for stop before killing it")
	return c
}
