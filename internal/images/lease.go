package images

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/hoistproject/hoist/internal/layers"
)

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
// (layers.Store.CreateFromTar: only the blob is written; the directory is
// unpacked on first use). Call it under a lease (WithLease) until an image
// record holds the layer.
func (s *Store) CreateLayerFromTar(ctx context.Context, parent digest.Digest, r io.Reader) (layers.Layer, error) {
	return s.ls.CreateFromTar(ctx, parent, r)
}
