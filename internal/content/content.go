package content

import (
	"context"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// Info describes a stored blob.
type Info struct {
	Digest    digest.Digest
	Size      int64
	CreatedAt time.Time
}

// Reader reads one blob; it can seek and read at offsets (for Range requests).
type Reader interface {
	io.ReadSeekCloser
	io.ReaderAt
}

// Provider opens blobs for reading.
type Provider interface {
	Open(ctx context.Context, dgst digest.Digest) (Reader, error)
}

// InfoProvider answers whether a blob exists and how large it is.
type InfoProvider interface {
	Info(ctx context.Context, dgst digest.Digest) (Info, error)
}

// Writer receives the bytes of one blob. Close without Commit discards them.
type Writer interface {
	io.WriteCloser
	// Digest is the digest of the bytes written so far.
	Digest() digest.Digest
	// Size is the number of bytes written so far.
	Size() int64
	// Commit makes the blob visible. expected may be "" (accept what was
	// written) and size may be -1 (unknown). A mismatch is an
	// errdefs.ErrDataLoss error and nothing becomes visible.
	Commit(ctx context.Context, size int64, expected digest.Digest) (Info, error)
}

// Ingester starts blob writes. alg "" means sha256.
type Ingester interface {
	Writer(ctx context.Context, alg digest.Algorithm) (Writer, error)
}

// Manager lists and deletes blobs.
type Manager interface {
	InfoProvider
	Walk(ctx context.Context, fn func(Info) error) error
	Delete(ctx context.Context, dgst digest.Digest) error
}

// Store is every role together.
type Store interface {
	Provider
	Ingester
	Manager
}
