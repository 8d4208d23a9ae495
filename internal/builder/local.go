package builder

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/builder/cache"
	"github.com/hoistproject/hoist/internal/builder/copier"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/distribution"
	"github.com/hoistproject/hoist/internal/snapshot"
	"github.com/opencontainers/go-digest"
)

// This file holds the builder's roles over the image store
// (internal/images) and the registry client, and NewLocal, which wires the
// real implementations of every role.

// StoreImages is ImageSource and ImageWriter over the image store.
type StoreImages struct{ Store *images.Store }

// Resolve implements ImageSource. The image is held in the build's lease
// (images.Store.Hold) so that no prune removes its layers mid-build.
func (s StoreImages) Resolve(ctx context.Context, ref string) (BaseImage, error) {
	f, err := s.Store.Hold(ctx, ref)
	if err != nil {
		return BaseImage{}, err
	}
	return BaseImage{ID: f.ID, Config: f.RawConfig, ChainID: f.ChainID}, nil
}

// WriteImage implements ImageWriter: config blob, record and tags in the
// image store's one transaction (tags last).
func (s StoreImages) WriteImage(ctx context.Context, img NewImage) (digest.Digest, error) {
	// A no-op rebuild: the image exists and every tag already names it.
	id := digest.FromBytes(img.Config)
	if cur, err := s.Store.Resolve(ctx, id.String()); err == nil && cur.ID == id {
		same := true
		for _, t := range img.Tags {
			if r, err := s.Store.Resolve(ctx, t); err != nil || r.ID != id {
				same = false
				break
			}
		}
		if same {
			return id, nil
		}
	}
	r, err := s.Store.Create(ctx, images.NewImage{Config: img.Config, Names: img.Tags, Parent: img.Parent})
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// CleanupDead removes what builds killed with -9 left under the hoist root
// root: first the containers of their RUN steps still running (runner's
// Cleanup), then their snapshots (unmounted and removed). Every new
// builder and `system check --repair` call it.
func CleanupDead(root string, runner Runner) {
	if c, ok := runner.(interface{ Cleanup() }); ok {
		c.Cleanup()
	}
	snapshot.CleanupStale(filepath.Join(root, "build", "tmp"))
}

// NewLocal returns a Builder over the stores of a hoist root. runner runs
// RUN steps (nil: builds with RUN fail with a clear error).
func NewLocal(st *images.Store, runner Runner) *Builder {
	dir := filepath.Join(st.Root(), "build")
	CleanupDead(st.Root(), runner)
	snaps := st.Snapshotter(filepath.Join(dir, "tmp"))
	return &Builder{
		Images:    StoreImages{st},
		Writer:    StoreImages{st},
		Snapshots: snaps,
		Squasher:  snaps,
		Cache:     cache.Open(st.Root()),
		Unpacker:  copier.ArchiveUnpacker{},
		Runner:    runner,
		Dir:       dir,
		Lease:     st.WithLease,
		Tar: func(ctx context.Context, w io.Writer, dir string, epoch *time.Time) error {
			return archive.Tar(ctx, w, dir, archive.TarOptions{SourceDateEpoch: epoch})
		},
	}
}

// RegistryPuller is the Puller over the registry client: the image is pulled
// into the store (tag written last) as `hoist pull` does, then resolved.
type RegistryPuller struct {
	Client *client.Client
	Store  *images.Store
}

// Pull implements Puller.
func (p RegistryPuller) Pull(ctx context.Context, ref string) (BaseImage, error) {
	n, err := reference.ParseTagged(ref)
	if err != nil {
		return BaseImage{}, err
	}
	res, err := distribution.Pull(ctx, p.Client, p.Store, n, distribution.PullOptions{})
	if err != nil {
		return BaseImage{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	return StoreImages{p.Store}.Resolve(ctx, res.ImageID.String())
}
