package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
)

func newRmiCmd(e *env) *cobra.Command {
	var opts engine.ImageDeleteOptions
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := false
			for _, ref := range args {
				items, err := e.engine().RemoveImage(cmd.Context(), ref, opts)
				if err != nil {
					fmt.Fprintln(e.errOut, "Error response from daemon:", err)
					failed = true
					continue
				}
				printDeleteItems(e, items, "Untagged: ", "Deleted: ")
			}
			if failed {
				return &StatusError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&opts.NoPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

func printDeleteItems(e *env, items []engine.ImageDeleteItem, untagged, deleted string) {
	for _, it := range items {
		if it.Untagged != "" {
			fmt.Fprintln(e.out, untagged+it.Untagged)
		}
		if it.Deleted != "" {
			fmt.Fprintln(e.out, deleted+it.Deleted)
		}
	}
}
