package builder

import (
	"context"

	"github.com/hoistproject/hoist/internal/builder/runc"
	"github.com/hoistproject/hoist/internal/snapshot"

	"github.com/opencontainers/go-digest"
)

// The builder talks to the rest of hoist only through the small roles below
// (and cache.Store). Real implementations are adapters onto the image
// store (local.go), the layer store (internal/snapshot) and the container
// runtime (build/runc); the tests use fakes.

// BaseImage is a resolved image: its ID (the digest of its config), the
// config bytes and the chainID of its top layer ("" for an image without
// layers).
type BaseImage struct {
	ID      digest.Digest
	Config  []byte
	ChainID digest.Digest
}

// ImageSource resolves FROM and COPY --from image references.
type ImageSource interface {
	// Resolve returns the local image named ref (a name, name:tag,
	// name@digest or an ID). An unknown image is an errdefs.NotFound error.
	Resolve(ctx context.Context, ref string) (BaseImage, error)
}

// Puller fetches an image from its registry into the local store (FROM or
// COPY --from of an image that is not local, and --pull).
type Puller interface {
	Pull(ctx context.Context, ref string) (BaseImage, error)
}

// The snapshot types are package snapshot's, whose Overlay is the
// Snapshotter and Squasher over the layer store.
type (
	Layer         = snapshot.Layer
	Snapshot      = snapshot.Snapshot
	CommitOptions = snapshot.CommitOptions
)

// Snapshotter prepares root filesystems over layer chains.
type Snapshotter interface {
	// Prepare returns a writable snapshot over the chain whose top layer is
	// parent ("" for scratch).
	Prepare(ctx context.Context, parent digest.Digest) (Snapshot, error)
	// View returns a read-only tree of the chain (for COPY --from and RUN
	// --mount from=) and a function to release it.
	View(ctx context.Context, chainID digest.Digest) (dir string, release func() error, err error)
}

// The request of a RUN step's process, defined by the runtime adapter
// (package build/runc) so that it needs nothing of the builder.
type (
	RunMount   = runc.Mount
	RunRequest = runc.Request
	Resources  = runc.Resources
)

// Runner runs one process in a prepared root filesystem and returns its
// exit code. An error means the process could not be run at all.
type Runner interface {
	Run(ctx context.Context, req RunRequest) (exitCode int, err error)
}

// Squasher merges layers (--squash): Squash stores, on top of base (a
// chainID, "" for none), one layer holding every change from the tree of
// base to the tree of top (top's chain must include base). A path added and
// deleted again above base is absent; a path of base deleted above it is a
// whiteout.
type Squasher interface {
	Squash(ctx context.Context, base, top digest.Digest, opts CommitOptions) (Layer, error)
}

// NewImage is what a finished build stores.
type NewImage struct {
	Config  []byte        // the config blob (its digest is the image ID)
	ChainID digest.Digest // top layer, "" for none
	Parent  digest.Digest // the base image's ID, "" for scratch
	Tags    []string      // names to tag, already validated
}

// ImageWriter stores a built image: config blob first, then the record, the
// tags last, so a failure never leaves a tag pointing at a half image.
type ImageWriter interface {
	WriteImage(ctx context.Context, img NewImage) (digest.Digest, error)
}
