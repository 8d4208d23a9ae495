package cli

import (
	"fmt"

	dref "github.com/distribution/reference"
	"github.com/spf13/cobra"
)

func newTagCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			// docker's client checks the target first, in its words
			if _, err := dref.ParseNormalizedNamed(args[1]); err != nil {
				return &shapedErr{err: fmt.Errorf("Error parsing reference: %q is not a valid repository/tag: %w", args[1], err)}
			}
			return e.engine().Tag(cmd.Context(), args[0], args[1])
		},
	}
}
