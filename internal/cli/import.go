package cli

import (
	"fmt"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/spf13/cobra"
)

func newImportCmd(e *env) *cobra.Command {
	var changes []string
	var message, platform string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := engine.ImportOptions{ImportOptions: engine.ImageImportOptions{Changes: changes, Message: message}, Platform: platform}
			if len(args) == 2 {
				o.Name = args[1]
			}
			img, err := e.engine().Import(cmd.Context(), args[0], e.in, o)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, img.ID)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	cmd.Flags().StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	cmd.Flags().StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}
