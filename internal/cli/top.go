package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newTopCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.engine().Top(cmd.Context(), args[0], args[1:]...)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.out, 20, 1, 3, ' ', 0) // docker's table
			fmt.Fprintln(tw, strings.Join(res.Titles, "\t"))
			for _, p := range res.Processes {
				fmt.Fprintln(tw, strings.Join(p, "\t"))
			}
			return tw.Flush()
		},
	}
	c.Flags().SetInterspersed(false) // what follows CONTAINER is ps's
	return c
}
