package cli

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/images"
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
			opts := images.ImportOptions{Changes: changes, Message: message, Source: "-"}
			if len(args) == 2 {
				opts.Name = args[1]
				if _, err := images.NormalizeName(opts.Name); err != nil {
					return err
				}
			}
			if platform != "" && !strings.HasPrefix(platform, "linux") {
				return errdefs.InvalidArgumentf("unsupported platform %q", platform)
			}
			var src io.Reader
			switch a := args[0]; {
			case a == "-":
				src = e.in
			case strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://"):
				req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, a, nil)
				if err != nil {
					return errdefs.InvalidArgumentf("invalid URL %q: %v", a, err)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return fmt.Errorf("fetching %s: %w", a, err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("fetching %s: %s", a, resp.Status)
				}
				src = resp.Body
				opts.Source = a
			default:
				f, err := os.Open(a)
				if err != nil {
					return fmt.Errorf("open %s: %w", a, err)
				}
				defer f.Close()
				src = f
			}
			s, err := e.imageStore()
			if err != nil {
				return err
			}
			img, err := s.Import(cmd.Context(), src, opts)
			if err != nil {
				return err
			}
			e.events().Record("image", "import", img.ID.String(), nil)
			fmt.Fprintln(e.out, img.ID)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	cmd.Flags().StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	cmd.Flags().StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}
