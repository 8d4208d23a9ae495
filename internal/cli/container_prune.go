package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/units"
)

func newContainerPruneCmd(e *env) *cobra.Command {
	var force bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := images.ParseFilters(filters, "until", "label")
			if err != nil {
				return &shapedErr{err: err, daemon: true} // docker's daemon checks filters
			}
			if !force && !e.confirm("WARNING! This will remove all stopped containers.") {
				return nil
			}
			n, err := e.pruneContainers(cmd.Context(), f)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, "Total reclaimed space:", units.HumanSize(n, 3))
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	c.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return c
}

// pruneContainers removes the stopped containers that pass f (until,
// label), printing docker's "Deleted Containers:" block (container prune,
// system prune), and returns the bytes reclaimed.
func (e *env) pruneContainers(ctx context.Context, f images.Filters) (int64, error) {
	m, err := e.containers()
	if err != nil {
		return 0, err
	}
	now := time.Now()
	ids, n, err := m.Prune(ctx, func(c *container.Container) bool { return f.Keep(c.Created, c.Config.Labels, now) })
	if len(ids) > 0 {
		fmt.Fprintln(e.out, "Deleted Containers:")
		for _, id := range ids {
			fmt.Fprintln(e.out, id)
		}
		fmt.Fprintln(e.out)
	}
	return n, err
}
