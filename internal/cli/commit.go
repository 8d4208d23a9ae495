package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
)

func newCommitCmd(e *env) *cobra.Command {
	var author, message string
	var changes []string
	var pause bool
	c := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := engine.CommitOptions{Author: author, Message: message, Changes: changes, Pause: pause}
			if len(args) == 2 {
				o.Name = args[1]
			}
			id, err := e.engine().Commit(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, id)
			return nil
		},
	}
	fs := c.Flags()
	fs.StringVarP(&author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	fs.StringVarP(&message, "message", "m", "", "Commit message")
	fs.StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	fs.BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	return c
}
