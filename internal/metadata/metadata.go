package metadata

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Tx is a bbolt transaction; the packages owning buckets use it directly.
type Tx = bolt.Tx

// Bucket is a bbolt bucket.
type Bucket = bolt.Bucket

// FileName is the name of the database file under a hoist root.
const FileName = "metadata.db"

// DB names the database file. It holds no open handle: every View and
// Update opens and closes the file.
type DB struct {
	path string
	// LockTimeout bounds the wait for another process's lock (default 2 minutes).
	LockTimeout time.Duration
}

// Open returns the database at <root>/metadata.db; the file is created on
// first use.
func Open(root string) *DB {
	return &DB{path: filepath.Join(root, FileName), LockTimeout: 2 * time.Minute}
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// pollLock is how long one bbolt open waits for the flock before the context
// is checked again.
const pollLock = 50 * time.Millisecond

func (db *DB) open(ctx context.Context, readOnly bool) (*bolt.DB, error) {
	if readOnly {
		// A missing or empty file (a crash during creation) needs a
		// read-write open, which initialises it.
		if st, err := os.Stat(db.path); errors.Is(err, fs.ErrNotExist) || (err == nil && st.Size() == 0) {
			readOnly = false
		}
	}
	if !readOnly {
		if err := os.MkdirAll(filepath.Dir(db.path), 0o700); err != nil {
			return nil, fmt.Errorf("metadata database %s: %w", db.path, err)
		}
	}
	limit := db.LockTimeout
	if limit <= 0 {
		limit = 2 * time.Minute
	}
	deadline := time.Now().Add(limit)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := bolt.Open(db.path, 0o600, &bolt.Options{Timeout: pollLock, ReadOnly: readOnly})
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("opening metadata database %s: %w", db.path, err)
		}
		if time.Now().After(deadline) {
			return nil, errdefs.Unavailablef("metadata database %s is locked by another hoist process (waited %s)", db.path, limit)
		}
	}
}

// View runs fn in a read-only transaction.
func (db *DB) View(ctx context.Context, fn func(tx *Tx) error) error {
	b, err := db.open(ctx, true)
	if err != nil {
		return err
	}
	defer b.Close()
	return b.View(fn)
}

// Update runs fn in a read-write transaction, committed (and fsynced) when fn
// returns nil.
func (db *DB) Update(ctx context.Context, fn func(tx *Tx) error) error {
	b, err := db.open(ctx, false)
	if err != nil {
		return err
	}
	defer b.Close()
	return b.Update(fn)
}

// ReadBucket returns the bucket at path (nil when it does not exist).
func ReadBucket(tx *Tx, path ...string) *Bucket {
	if len(path) == 0 {
		return nil
	}
	b := tx.Bucket([]byte(path[0]))
	for _, p := range path[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket([]byte(p))
	}
	return b
}

// WriteBucket returns the bucket at path, creating it as needed.
func WriteBucket(tx *Tx, path ...string) (*Bucket, error) {
	if len(path) == 0 {
		return nil, errors.New("metadata: empty bucket path")
	}
	b, err := tx.CreateBucketIfNotExists([]byte(path[0]))
	if err != nil {
		return nil, err
	}
	for _, p := range path[1:] {
		if b, err = b.CreateBucketIfNotExists([]byte(p)); err != nil {
			return nil, err
		}
	}
	return b, nil
}
