package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newSaveCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			set, err := e.engine().SelectForSave(ctx, args)
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				if f, ok := e.out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
				return e.engine().Save(ctx, e.out, set)
			}
			if fi, err := os.Stat(filepath.Dir(output)); err != nil || !fi.IsDir() {
				return fmt.Errorf("failed to save image: invalid output path: directory %q does not exist", filepath.Dir(output))
			}
			// 0600: docker's client writes a temp file and renames it
			err = fsutil.WriteFileAtomic(output, 0o600, func(w io.Writer) error {
				return e.engine().Save(ctx, w, set)
			})
			var nr *fsutil.NotRegularError
			if errors.As(err, &nr) {
				return fmt.Errorf("failed to save image: %w", err)
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}
