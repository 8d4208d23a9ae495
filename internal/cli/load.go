package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/hoistproject/hoist/internal/events"
	"io"
	"os"
	"path"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/imagearchive"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newLoadCmd(e *env) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := e.imageStore()
			if err != nil {
				return err
			}
			ctx, done, err := st.DB().WithLease(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			tty := false
			if f, ok := e.out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				tty = true
			}
			opts := imagearchive.Options{
				Claim: func(ctx context.Context, d digest.Digest) error {
					return st.DB().AddResources(ctx, layers.BlobResource(d))
				},
				Discard: st.DiscardBlobs,
				Prepare: func(ctx context.Context, r io.Reader) (*layers.Prepared, error) {
					return st.Layers().Prepare(ctx, r, layers.CreateOptions{})
				},
			}
			if !quiet && tty {
				p := newProgress(e.out, true)
				opts.Progress = func(member string, cur, total int64) {
					id := path.Base(member)
					if len(id) > 12 {
						id = id[:12]
					}
					p.Update(id, "Loading layer", cur, total)
				}
			}
			var loaded []imagearchive.Loaded
			if fi, err := os.Stat(input); input != "" && err == nil && fi.IsDir() {
				loaded, err = imagearchive.LoadDir(ctx, input, st.Content(), opts)
				if err != nil {
					return err
				}
			} else {
				var r io.Reader = e.in
				if input != "" {
					f, err := os.Open(input)
					if err != nil {
						return err
					}
					defer f.Close()
					r = f
				} else if fd, isTTY := e.inputTTY(); isTTY {
					_ = fd
					return errors.New("requested load from stdin, but stdin is empty")
				}
				dr, _, err := archive.DecompressStream(r)
				if err != nil {
					return fmt.Errorf("load: %w", err)
				}
				defer dr.Close()
				loaded, err = imagearchive.Load(ctx, dr, st.Content(), opts)
				if err != nil {
					return err
				}
			}
			return recordLoaded(ctx, e.out, st, loaded, e.events())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&input, "input", "i", "", "Read from tar archive file (or OCI layout directory), instead of STDIN")
	f.BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

// recordLoaded unpacks the loaded images' layers and records them with their
// names, printing docker's "Loaded image" lines.
func recordLoaded(ctx context.Context, out io.Writer, st *images.Store, loaded []imagearchive.Loaded, ev *events.Log) error {
	defer imagearchive.DiscardPrepared(loaded)
	for _, l := range loaded {
		raw, err := content.ReadBlob(ctx, st.Content(), l.Config.Digest, images.MaxConfigSize)
		if err != nil {
			return err
		}
		n := images.NewImage{Config: raw, Prepared: l.Prepared}
		for _, name := range l.Names {
			n.Names = append(n.Names, name.String())
		}
		img, err := st.CreateFromBlobs(ctx, n, l.Layers)
		if err != nil {
			return fmt.Errorf("loading image %s: %w", l.Config.Digest, err)
		}
		ev.Record("image", "load", img.ID.String(), nil)
		if len(l.Names) == 0 {
			fmt.Fprintf(out, "Loaded image ID: %s\n", img.ID)
		}
		for _, name := range l.Names {
			fmt.Fprintf(out, "Loaded image: %s\n", reference.Familiar(name))
		}
	}
	return nil
}
