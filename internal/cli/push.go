package cli

import (
	"errors"
	"fmt"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/spf13/cobra"
)

func newPushCmd(e *env) *cobra.Command {
	var allTags, quiet bool
	var compression string
	var trust contentTrustFlag
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Long:  "Upload an image to a registry.\nWithout a tag, every local tag of the repository is pushed.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := trust.check(); err != nil {
				return err
			}
			n, err := reference.ParseNamed(args[0])
			if err != nil {
				return err
			}
			if allTags && reference.Tag(n) != "" {
				return errors.New("tag can't be used with --all-tags/-a")
			}
			o := engine.PushOptions{Compression: compression}
			if !quiet {
				fmt.Fprintf(e.out, "The push refers to repository [%s]\n", n.Name())
				o.Progress = newProgress(e.out, e.outputTTY()).Event
			}
			o.Pushed = func(p engine.PushedTag) {
				if quiet {
					r, _ := reference.WithTag(n, p.Tag)
					fmt.Fprintln(e.out, r.String())
					return
				}
				fmt.Fprintf(e.out, "%s: digest: %s size: %d\n", p.Tag, p.Digest, p.Size)
			}
			err = e.engine().Push(cmd.Context(), n, o)
			if err != nil {
				if errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrUnauthorized) || errors.Is(err, errdefs.ErrUnavailable) ||
					errors.Is(err, errdefs.ErrForbidden) || errors.Is(err, errdefs.ErrInvalidArgument) {
					return e.registryError(err, reference.Domain(n))
				}
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&allTags, "all-tags", "a", false, "Push all tags of an image to the repository")
	f.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	f.StringVar(&compression, "compression", "gzip", `Compression of layers stored uncompressed ("gzip"|"zstd")`)
	trust.register(f)
	return cmd
}
