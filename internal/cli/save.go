package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/imagearchive"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/reference"
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
			st, err := e.imageStore()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			imgs, err := selectForSave(ctx, st, args)
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				if f, ok := e.out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
				return imagearchive.Save(ctx, e.out, st.Content(), imgs, nil)
			}
			if fi, err := os.Stat(filepath.Dir(output)); err != nil || !fi.IsDir() {
				return fmt.Errorf("failed to save image: invalid output path: directory %q does not exist", filepath.Dir(output))
			}
			err = fsutil.WriteFileAtomic(output, 0o644, func(w io.Writer) error {
				return imagearchive.Save(ctx, w, st.Content(), imgs, nil)
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

// selectForSave resolves the arguments of save as docker does: a name with a
// tag (or an ID) selects one image; a repository name alone selects every
// tag of that repository. Names given by ID carry no tag.
func selectForSave(ctx context.Context, st *images.Store, args []string) ([]imagearchive.Image, error) {
	var order []string
	byID := map[string]*imagearchive.Image{}
	add := func(ref string, names []reference.Named) error {
		full, err := st.Get(ctx, ref)
		if err != nil {
			return err
		}
		id := full.ID.String()
		img, ok := byID[id]
		if !ok {
			img = &imagearchive.Image{Config: full.ConfigDescriptor(), Layers: full.LayerDescriptors()}
			byID[id] = img
			order = append(order, id)
		}
	next:
		for _, n := range names {
			for _, have := range img.Names {
				if have.String() == n.String() {
					continue next
				}
			}
			img.Names = append(img.Names, n)
		}
		return nil
	}
	for _, a := range args {
		n, perr := reference.ParseNamed(a)
		switch {
		case perr == nil && reference.Tag(n) == "" && reference.Digest(n) == "" && !isImageID(ctx, st, a):
			all, err := st.List(ctx, images.ListOptions{All: true})
			if err != nil {
				return nil, err
			}
			found := false
			for _, img := range all {
				for _, name := range img.Names {
					tn, err := reference.ParseNamed(name)
					if err != nil || tn.Name() != n.Name() {
						continue
					}
					found = true
					if err := add(img.ID.String(), []reference.Named{tn}); err != nil {
						return nil, err
					}
				}
			}
			if !found {
				return nil, errdefs.NotFoundf("No such image: %s", a)
			}
		case perr == nil && reference.Digest(n) == "" && !isImageID(ctx, st, a):
			if err := add(a, []reference.Named{n}); err != nil {
				return nil, err
			}
		default:
			if err := add(a, nil); err != nil {
				return nil, err
			}
		}
	}
	out := make([]imagearchive.Image, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	return out, nil
}

// isImageID reports whether s names an image by (a prefix of) its ID.
func isImageID(ctx context.Context, st *images.Store, s string) bool {
	if !reference.LooksLikeID(s) {
		return false
	}
	img, err := st.Resolve(ctx, s)
	return err == nil && strings.HasPrefix(img.ID.Encoded(), strings.TrimPrefix(s, "sha256:"))
}
