package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
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
			f, err := engine.ParseFilters(filters, "until", "label")
			if err != nil {
				return filterFailure(err)
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
func (e *env) pruneContainers(ctx context.Context, f engine.Filters) (int64, error) {
	ids, n, err := e.engine().PruneContainers(ctx, f)
	if len(ids) > 0 {
		fmt.Fprintln(e.out, "Deleted Containers:")
		for _, id := range ids {
			fmt.Fprintln(e.out, id)
		}
		fmt.Fprintln(e.out)
	}
	return n, err
}
