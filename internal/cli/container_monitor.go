package cli

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/engine"
)

// newContainerMonitorCmd is the hidden `hoist container-monitor ID`: the
// per-container monitor that hoist starts (re-executing itself) to hold a
// container's lifetime. fd 3 is its sync socket with the starting command.
func newContainerMonitorCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    monitorVerb + " ID",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMonitor(cmd.Context(), e, args[0])
		},
	}
}

// monitorVerb is the hidden verb of the monitor (execute runs it directly
// when hoist starts it).
const monitorVerb = engine.MonitorVerb

func runMonitor(ctx context.Context, e *env, id string) error {
	return engine.RunMonitor(ctx, engine.Options{Root: e.g.Root, Logger: e.logger()}, id, os.NewFile(3, "sync"))
}

// newContainerInitCmd is the hidden `hoist container-init -- CMD...`: the
// init process that --init runs as PID 1 inside a container.
func newContainerInitCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:                "container-init -- COMMAND [ARG...]",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return &StatusError{Code: spec.RunInit(args)}
		},
	}
	return c
}
