package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newPullCmd(e *env) *cobra.Command {
	var allTags, quiet bool
	var platform string
	var trust contentTrustFlag
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := trust.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			n, err := reference.ParseNamed(args[0])
			if err != nil {
				return err
			}
			tagged := reference.Tag(n) != "" || reference.Digest(n) != ""
			if allTags && tagged {
				return errors.New("tag can't be used with --all-tags/-a")
			}
			if !allTags && !tagged {
				if !quiet {
					fmt.Fprintln(e.out, "Using default tag: latest")
				}
				n, _ = reference.ParseTagged(args[0])
			}
			var plat *ocispec.Platform // nil: this machine's, and any for single-platform images
			if platform != "" {
				p, err := engine.ParsePlatform(platform)
				if err != nil {
					return err
				}
				plat = &p
			}
			refs := []reference.Named{n}
			if allTags {
				if refs, err = e.engine().Tags(ctx, n); err != nil {
					return e.daemonError(err)
				}
			}
			o := engine.PullOptions{Platform: plat}
			if !quiet {
				o.Pulling = func(r reference.Named) engine.ProgressFunc {
					fmt.Fprintf(e.out, "%s: Pulling from %s\n", engine.PullLabel(r), reference.Path(r))
					return newProgress(e.out, e.outputTTY()).Event
				}
				o.Pulled = func(res engine.PullResult) { fmt.Fprintf(e.out, "Digest: %s\n", res.Digest) }
			}
			rep, err := e.engine().Pull(ctx, refs, o)
			if err != nil {
				if errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrUnauthorized) || errors.Is(err, errdefs.ErrUnavailable) || errors.Is(err, errdefs.ErrForbidden) {
					return e.registryError(err, reference.Domain(n))
				}
				return err
			}
			fresh, last := rep.Fresh, rep.Last
			shown := reference.Familiar(last.Name)
			full := last.Name.String()
			if allTags {
				shown, full = reference.FamiliarName(n), n.Name()
			}
			if !quiet {
				if fresh {
					fmt.Fprintf(e.out, "Status: Downloaded newer image for %s\n", shown)
				} else {
					fmt.Fprintf(e.out, "Status: Image is up to date for %s\n", shown)
				}
			}
			fmt.Fprintln(e.out, full)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&allTags, "all-tags", "a", false, "Download all tagged images in the repository")
	f.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	f.StringVar(&platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	trust.register(f)
	return cmd
}

// outputTTY reports whether stdout is a terminal (progress bars).
func (e *env) outputTTY() bool {
	f, ok := e.out.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
