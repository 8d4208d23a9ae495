package snapshot

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"
)

// Layer is a committed layer: the digest of its uncompressed tar (diffID)
// and its chainID.
type Layer struct {
	DiffID  digest.Digest
	ChainID digest.Digest
}

// Snapshot is a writable root filesystem prepared on top of a layer chain.
type Snapshot interface {
	// Root is the merged tree (the rootfs a step works in).
	Root() string
	// Upper is the directory holding the snapshot's changes in overlay form,
	// where COPY may write new paths directly (paths that do not exist in
	// Root, once their parents exist in Upper with Root's metadata); "" when
	// the snapshot has no such directory. Writes there must not be read
	// back through Root.
	Upper() string
	// Commit turns the changes into a new layer on top of the parent chain
	// and releases the snapshot. empty is true (and Layer zero) when
	// nothing changed.
	Commit(ctx context.Context, opts CommitOptions) (l Layer, empty bool, err error)
	// Release discards the snapshot (unmounts, removes its directories). It
	// is a no-op after Commit and safe to call more than once.
	Release(ctx context.Context) error
}

// CommitOptions tune Snapshot.Commit.
type CommitOptions struct {
	// SourceDateEpoch clamps the times in the layer tar (reproducible builds).
	SourceDateEpoch *time.Time
}
