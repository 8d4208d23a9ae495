package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func newContainerPruneCmd(e *env) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !e.confirm("WARNING! This will remove all stopped containers.") {
				return nil
			}
			if err := e.pruneContainers(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintln(e.out, "Total reclaimed space: 0B")
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return c
}

// pruneContainers removes the stopped containers, printing docker's
// "Deleted Containers:" block (container prune, system prune).
func (e *env) pruneContainers(ctx context.Context) error {
	m, err := e.containers()
	if err != nil {
		return err
	}
	ids, err := m.Prune(ctx)
	if len(ids) > 0 {
		fmt.Fprintln(e.out, "Deleted Containers:")
		for _, id := range ids {
			fmt.Fprintln(e.out, id)
		}
		fmt.Fprintln(e.out)
	}
	return err
}
