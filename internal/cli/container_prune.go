package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newContainerPruneCmd(e *env) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				fmt.Fprint(e.out, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
				line, _ := bufio.NewReader(e.in).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return nil
				}
			}
			m, err := e.containers()
			if err != nil {
				return err
			}
			ids, err := m.Prune(cmd.Context())
			if len(ids) > 0 {
				fmt.Fprintln(e.out, "Deleted Containers:")
				for _, id := range ids {
					fmt.Fprintln(e.out, id)
				}
				fmt.Fprintln(e.out)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, "Total reclaimed space: 0B")
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return c
}
