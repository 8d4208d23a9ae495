package images

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/snapshot"
)

// This file is the store's storage as its users need it: leases, blobs
// read and written by transfers, and the layers of the images. The
// database, the content store and the layer store themselves stay inside
// the image store, which alone decides what a deletion removes.

// Blobs is the store's content as a transfer uses it: read, stat and write
// blobs. Deletion is not in it: blobs go only through the store's rules
// (rmi, prune, DiscardBlobs).
type Blobs interface {
	content.Provider
	content.InfoProvider
	content.Ingester
}

// Blobs is the store's content for transfers. Claim a blob (ClaimBlobs)
// before it becomes visible, under a lease, so that no prune removes it
// before an image record names it.
func (s *Store) Blobs() Blobs { return s.cs }

// ClaimBlobs adds the blobs to ctx's lease (and claims them from the
// trash), so that a concurrent deletion of an equal blob cannot remove
// the one a new image will name.
func (s *Store) ClaimBlobs(ctx context.Context, ds ...digest.Digest) error {
	res := make([]string, len(ds))
	for i, d := range ds {
		res[i] = layers.BlobResource(d)
	}
	return s.db.AddResources(ctx, res...)
}

// OverlayKind is the kind of overlay mount the store's layers are stacked
// with (mount.KernelOverlay or mount.FuseOverlay).
func (s *Store) OverlayKind() string { return s.ls.OverlayKind() }

// HasLayer reports whether the layer chainID is recorded.
func (s *Store) HasLayer(ctx context.Context, chainID digest.Digest) (bool, error) {
	_, err := s.ls.Get(ctx, chainID)
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// LayerChain is the layers from the base up to chainID.
func (s *Store) LayerChain(ctx context.Context, chainID digest.Digest) ([]layers.Layer, error) {
	return s.ls.Chain(ctx, chainID)
}

// StageLayer unpacks a layer while its blob arrives (layers.Store.Stage);
// CreateLayers or CreateFromBlobs records it.
func (s *Store) StageLayer(ctx context.Context, r io.Reader, opts layers.StageOptions) (*layers.Staged, error) {
	return s.ls.Stage(ctx, r, opts)
}

// StageLayerBlob unpacks a stored layer blob (layers.Store.StageBlob).
func (s *Store) StageLayerBlob(ctx context.Context, blob ocispec.Descriptor, diffID digest.Digest) (*layers.Staged, error) {
	return s.ls.StageBlob(ctx, blob, diffID)
}

// CreateLayers makes sure the layers of the stored blobs exist, recording
// the staged ones (layers.Store.CreateChain). Call it under a lease.
func (s *Store) CreateLayers(ctx context.Context, blobs []ocispec.Descriptor, diffIDs []digest.Digest, staged map[digest.Digest]*layers.Staged) ([]layers.Layer, error) {
	return s.ls.CreateChain(ctx, blobs, diffIDs, staged)
}

// Snapshotter prepares root filesystems over the store's layers and
// commits their changes as new layers (build steps); its working
// directories are under dir.
func (s *Store) Snapshotter(dir string) *snapshot.Overlay {
	return &snapshot.Overlay{Layers: s.ls, Dir: dir}
}

// EmptyTrash deletes the files of the layers and blobs a committed
// ReleaseLayers put in the trash.
func (s *Store) EmptyTrash(ctx context.Context) error { return s.ls.EmptyTrash(ctx) }

// WithLease returns ctx under a new lease of the store's database: what is
// created or held (Hold) under it is kept from every prune and rmi until
// done is called.
func (s *Store) WithLease(ctx context.Context) (context.Context, func(), error) {
	return s.db.WithLease(ctx)
}

// DiffDirs unpacks the image's layers that are not unpacked yet (a
// committed layer is unpacked on first use) and returns their directories,
// base first, with their chain IDs.
func (s *Store) DiffDirs(ctx context.Context, f *Full) (dirs []string, chainIDs []digest.Digest, err error) {
	if err := s.ls.Materialize(ctx, f.Layers...); err != nil {
		return nil, nil, err
	}
	for _, l := range f.Layers {
		dirs = append(dirs, s.ls.DiffDir(l.ChainID))
		chainIDs = append(chainIDs, l.ChainID)
	}
	return dirs, chainIDs, nil
}

// CreateLayerFromTar stores the layer tar r on top of the chain parent
// (layers.Store.Create, Deferred: only the blob is written; the directory is
// unpacked on first use). Call it under a lease (WithLease) until an image
// record holds the layer.
func (s *Store) CreateLayerFromTar(ctx context.Context, parent digest.Digest, r io.Reader) (layers.Layer, error) {
	return s.ls.Create(ctx, parent, r, layers.TarOptions{Deferred: true})
}
