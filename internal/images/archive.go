package images

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/imagearchive"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/reference"
)

// SaveSet is what one archive of Save holds: images and their names.
type SaveSet struct{ imgs []imagearchive.Image }

// SelectForSave resolves the arguments of save as docker does (see
// selectForSave).
func (st *Store) SelectForSave(ctx context.Context, args []string) (SaveSet, error) {
	imgs, err := st.selectForSave(ctx, args)
	return SaveSet{imgs}, err
}

// Save writes the images of set to w as one archive (imagearchive.Save).
func (st *Store) Save(ctx context.Context, w io.Writer, set SaveSet) error {
	return imagearchive.Save(ctx, w, st.cs, set.imgs, nil)
}

// LoadOptions are the options of Load and LoadDir.
type LoadOptions struct {
	// Progress, if set, is called while each blob member is stored.
	Progress func(member string, current, total int64)
	// Loaded, if set, is called with each image as it is recorded, with
	// the names the archive gives it.
	Loaded func(img Image, names []reference.Named)
	// Moved, if set, is called before Loaded for each of those names that
	// named another image until now (docker's load then says that the old
	// one is renamed to empty string).
	Moved func(name reference.Named, old digest.Digest)
}

// Load reads an image archive (an uncompressed tar stream; see
// imagearchive.Load) into the store and records its images and names.
// The blobs are claimed under one lease until the records hold them.
func (st *Store) Load(ctx context.Context, r io.Reader, opts LoadOptions) error {
	return st.load(ctx, opts, func(ctx context.Context, o imagearchive.Options) ([]imagearchive.Loaded, error) {
		return imagearchive.Load(ctx, r, st.cs, o)
	})
}

// LoadDir is Load from an OCI layout directory.
func (st *Store) LoadDir(ctx context.Context, dir string, opts LoadOptions) error {
	return st.load(ctx, opts, func(ctx context.Context, o imagearchive.Options) ([]imagearchive.Loaded, error) {
		return imagearchive.LoadDir(ctx, dir, st.cs, o)
	})
}

func (st *Store) load(ctx context.Context, lo LoadOptions, read func(context.Context, imagearchive.Options) ([]imagearchive.Loaded, error)) error {
	ctx, done, err := st.db.WithLease(ctx)
	if err != nil {
		return err
	}
	defer done()
	opts := imagearchive.Options{
		Claim: func(ctx context.Context, d digest.Digest) error {
			return st.db.AddResources(ctx, layers.BlobResource(d))
		},
		Discard: st.DiscardBlobs,
		Stage: func(ctx context.Context, r io.Reader) (*layers.Staged, error) {
			return st.ls.Stage(ctx, r, layers.StageOptions{})
		},
		Progress: lo.Progress,
	}
	loaded, err := read(ctx, opts)
	if err != nil {
		return err
	}
	return st.recordLoaded(ctx, loaded, lo)
}

// recordLoaded unpacks the loaded images' layers and records them with
// their names.
func (st *Store) recordLoaded(ctx context.Context, loaded []imagearchive.Loaded, lo LoadOptions) error {
	defer imagearchive.DiscardStaged(loaded)
	for _, l := range loaded {
		raw, err := content.ReadBlob(ctx, st.cs, l.Config.Digest, MaxConfigSize)
		if err != nil {
			return err
		}
		n := NewImage{Config: raw, Staged: l.Staged}
		for _, name := range l.Names {
			n.Names = append(n.Names, name.String())
		}
		before, err := st.nameTargets(ctx, n.Names)
		if err != nil {
			return err
		}
		img, err := st.CreateFromBlobs(ctx, n, l.Layers)
		if err != nil {
			return fmt.Errorf("loading image %s: %w", l.Config.Digest, err)
		}
		for i, name := range n.Names {
			if old := before[name]; old != "" && old != img.ID && lo.Moved != nil {
				lo.Moved(l.Names[i], old)
			}
		}
		if lo.Loaded != nil {
			lo.Loaded(img, l.Names)
		}
	}
	return nil
}

// selectForSave resolves the arguments of save as docker does: a name with a
// tag (or an ID) selects one image; a repository name alone selects every
// tag of that repository. Names given by ID carry no tag.
func (st *Store) selectForSave(ctx context.Context, args []string) ([]imagearchive.Image, error) {
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
		case perr == nil && reference.Tag(n) == "" && reference.Digest(n) == "" && !st.isImageID(ctx, a):
			all, err := st.List(ctx, ListOptions{All: true})
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
				return nil, noSuchImage(a)
			}
		case perr == nil && reference.Digest(n) == "" && !st.isImageID(ctx, a):
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
func (st *Store) isImageID(ctx context.Context, s string) bool {
	if !reference.LooksLikeID(s) {
		return false
	}
	img, err := st.Resolve(ctx, s)
	return err == nil && strings.HasPrefix(img.ID.Encoded(), strings.TrimPrefix(s, "sha256:"))
}
