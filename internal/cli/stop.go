package cli

import (
	"context"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/spf13/cobra"
)

func newStopCmd(e *env) *cobra.Command {
	return newTimedContainerCmd(e, "stop", "Stop one or more running containers", "Seconds to wait for stop before killing it",
		func(ctx context.Context, en *engine.Engine, ref string, t *int) error { return en.Stop(ctx, ref, t) })
}

func newRestartCmd(e *env) *cobra.Command {
	return newTimedContainerCmd(e, "restart", "Restart one or more containers", "Seconds to wait for stop before killing the container",
		func(ctx context.Context, en *engine.Engine, ref string, t *int) error { return en.Restart(ctx, ref, t) })
}

// newTimedContainerCmd is a verb over containers with docker's -t/--time
// stop timeout (stop, restart); the timeout is passed only when given.
func newTimedContainerCmd(e *env, verb, short, timeHelp string, do func(context.Context, *engine.Engine, string, *int) error) *cobra.Command {
	var timeout int
	c := &cobra.Command{
		Use:   verb + " [OPTIONS] CONTAINER [CONTAINER...]",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t *int
			if cmd.Flags().Changed("time") {
				t = &timeout
			}
			return eachContainer(e, args, func(ref string) error { return do(cmd.Context(), e.engine(), ref, t) })
		},
	}
	c.Flags().IntVarP(&timeout, "time", "t", 10, timeHelp)
	return c
}
