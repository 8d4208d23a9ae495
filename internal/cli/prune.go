package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/units"
	"github.com/spf13/cobra"
)

// confirm asks docker's "[y/N]" question on stdin.
func (e *env) confirm(msg string) bool {
	fmt.Fprintf(e.out, "%s\nAre you sure you want to continue? [y/N] ", msg)
	line, _ := bufio.NewReader(e.in).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}

func newImagePruneCmd(e *env) *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := engine.ParseFilters(filters, "until", "label", "dangling")
			if err != nil {
				return filterFailure(err)
			}
			if f.Dangling != nil && !*f.Dangling {
				all = true // docker: dangling=false prunes every unused image
			}
			msg := "WARNING! This will remove all dangling images."
			if all {
				msg = "WARNING! This will remove all images without at least one container associated to them."
			}
			if !force && !e.confirm(msg) {
				return nil
			}
			rep, err := e.engine().PruneImages(cmd.Context(), engine.ImagePruneOptions{All: all, Filters: f})
			if err != nil {
				return err
			}
			printDeletedImages(e, rep)
			fmt.Fprintln(e.out, "Total reclaimed space:", units.HumanSize(rep.Reclaimed, 3))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

// printDeletedImages prints docker's "Deleted Images:" block of a prune.
func printDeletedImages(e *env, rep engine.ImagePruneReport) {
	if len(rep.Items) > 0 {
		fmt.Fprintln(e.out, "Deleted Images:")
		printDeleteItems(e, rep.Items, "untagged: ", "deleted: ")
		fmt.Fprintln(e.out)
	}
}
