package cli

import (
	"errors"
	"fmt"
	"os"
	"path"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/reference"
)

func newLoadCmd(e *env) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := engine.LoadOptions{Input: input, Stdin: e.in, Loaded: func(img engine.Image, names []reference.Named) {
				if len(names) == 0 {
					fmt.Fprintf(e.out, "Loaded image ID: %s\n", img.ID)
				}
				for _, name := range names {
					fmt.Fprintf(e.out, "Loaded image: %s\n", reference.Familiar(name))
				}
			}, Moved: func(name reference.Named, old string) {
				// docker's notice (on stdout, also with -q)
				fmt.Fprintf(e.out, "The image %s already exists, renaming the old one with ID %s to empty string\n", reference.Familiar(name), old)
			}}
			if input == "" {
				if _, isTTY := e.inputTTY(); isTTY {
					return errors.New("requested load from stdin, but stdin is empty")
				}
			}
			if f, ok := e.out.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !quiet {
				p := newProgress(e.out, true)
				o.Progress = func(member string, cur, total int64) {
					id := path.Base(member)
					if len(id) > 12 {
						id = id[:12]
					}
					p.Update(id, "Loading layer", cur, total)
				}
			}
			return e.engine().Load(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&input, "input", "i", "", "Read from tar archive file (or OCI layout directory), instead of STDIN")
	f.BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}
