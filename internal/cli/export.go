package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
)

func newExportCmd(e *env) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var w io.Writer = e.out
			if output == "" {
				if f, ok := e.out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errdefs.InvalidArgumentf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
			} else {
				err := fsutil.WriteFileAtomic(output, 0o600, func(w io.Writer) error { return e.engine().Export(cmd.Context(), args[0], w) })
				var nr *fsutil.NotRegularError
				if errors.As(err, &nr) {
					return fmt.Errorf("failed to export container: %w", err)
				}
				return err
			}
			return e.engine().Export(cmd.Context(), args[0], w)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return c
}
