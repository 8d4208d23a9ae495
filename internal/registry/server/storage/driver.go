package storage

import (
	"context"
	"encoding"
	"hash"
	"io"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/opencontainers/go-digest"
)

// Driver is where a Store keeps its state. Names are slash-separated paths
// relative to the storage root ("repositories/a/_manifests/tags/v1"); the
// Store builds them from validated repository names, tags and digests only.
// Two drivers exist: the filesystem (Open) and S3 (OpenS3).
type Driver interface {
	// String names the storage for error messages ("s3 bucket B at URL").
	String() string
	// Blobs is the shared blob store (verifies digests before a blob
	// becomes visible).
	Blobs() content.Store

	// ReadFile reads a small file; a missing file is fs.ErrNotExist.
	ReadFile(ctx context.Context, name string) ([]byte, error)
	// WriteFile replaces a small file atomically (readers see the old or
	// the new content, never a mix), creating parents.
	WriteFile(ctx context.Context, name string, data []byte) error
	// Stat describes a file or directory; missing is fs.ErrNotExist.
	Stat(ctx context.Context, name string) (FileInfo, error)
	// List lists the direct children of a directory (none when missing).
	List(ctx context.Context, dir string) ([]FileInfo, error)
	// Remove removes a file; missing is fs.ErrNotExist.
	Remove(ctx context.Context, name string) error

	// TouchBlob records that blob d was used now, if its last use is older
	// than older (GC's grace runs from the last use).
	TouchBlob(ctx context.Context, d digest.Digest, older time.Duration)
	// LastUsed is when the blob described by info was last written or
	// touched.
	LastUsed(ctx context.Context, info content.Info) time.Time
	// LockGC takes the GC lock shared (manifest PUT) or exclusive (GC
	// deletion). Drivers without a lock return a no-op (see doc.go).
	LockGC(exclusive bool) (func(), error)

	// Upload sessions (see uploads.go).
	newSession(ctx context.Context, id string, st *uploadState) error
	openSession(ctx context.Context, id string) (sessionIO, error)
	readSession(ctx context.Context, id string) (uploadState, time.Time, error)
	sessionIDs(ctx context.Context) ([]string, error)
	purgeSession(ctx context.Context, id string) (gone bool, freed int64)
	purgeOrphans(ctx context.Context, age time.Duration) error
}

// FileInfo describes a file or directory of a Driver.
type FileInfo struct {
	Name    string // base name
	Dir     bool
	Size    int64
	ModTime time.Time
	// Version changes whenever the file is replaced (for caches).
	Version string
}

// sessionIO is one upload session opened for one request: locked where
// the driver can lock, its state loaded and its hash restored.
type sessionIO interface {
	state() *uploadState
	hash() hash.Hash
	// write appends p to the bytes received (the caller hashes it and
	// advances the state's offset).
	write(ctx context.Context, p []byte) error
	// checkpoint makes the bytes written durable and saves the state
	// (with the hash state) atomically.
	checkpoint(ctx context.Context) error
	// readAll copies the bytes received so far to w.
	readAll(ctx context.Context, w io.Writer) error
	// publish makes the bytes received blob d (the caller verified them).
	publish(ctx context.Context, d digest.Digest) error
	// remove deletes the session.
	remove(ctx context.Context)
	close()
}

// restoreHash returns the hash of alg with the saved state, or false when
// the state cannot be used.
func restoreHash(alg digest.Algorithm, saved []byte) (hash.Hash, bool) {
	h := alg.Hash()
	if len(saved) == 0 {
		return h, false
	}
	um, ok := h.(encoding.BinaryUnmarshaler)
	if !ok || um.UnmarshalBinary(saved) != nil {
		return alg.Hash(), false
	}
	return h, true
}

// hashState serializes h (nil when it cannot be).
func hashState(h hash.Hash) []byte {
	if m, ok := h.(encoding.BinaryMarshaler); ok {
		b, _ := m.MarshalBinary()
		return b
	}
	return nil
}
