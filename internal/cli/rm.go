package cli

import (
	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
)

func newRmCmd(e *env) *cobra.Command {
	var o engine.RemoveOptions
	c := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(e, args, func(ref string) error { return e.engine().RemoveContainer(cmd.Context(), ref, o) })
		},
	}
	c.Flags().BoolVarP(&o.Force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	c.Flags().BoolVarP(&o.Volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	return c
}
