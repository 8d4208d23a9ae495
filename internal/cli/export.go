package cli

import (
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hoistproject/hoist/internal/errdefs"
)

func newExportCmd(e *env) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := e.containers()
			if err != nil {
				return err
			}
			var w io.Writer = e.out
			if output == "" {
				if f, ok := e.out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errdefs.InvalidArgumentf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
			} else {
				tmp := filepath.Join(filepath.Dir(output), "."+filepath.Base(output)+".tmp")
				f, err := os.Create(tmp)
				if err != nil {
					return err
				}
				defer os.Remove(tmp)
				if err := m.Export(cmd.Context(), args[0], f); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
				return os.Rename(tmp, output)
			}
			return m.Export(cmd.Context(), args[0], w)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return c
}
