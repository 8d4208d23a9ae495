package layers

// This file was added by the builder (branch build) for `hoist build`'s
// commit path; the layer store's owner may fold it into layers.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DirTar writes the layer tar of an overlay-format directory (whiteouts as
// char 0/0, opaque xattrs) to w: archive.DiffOverlay, passed in by the
// caller so that this file needs no new import.
type DirTar func(ctx context.Context, w io.Writer, dir string) error

// CreateFromDir records dir, an overlay-format layer directory on the same
// filesystem as the store (an overlay upper dir after unmount), as a new
// layer on parent WITHOUT re-extracting it: dir is renamed into the store
// and its layer tar, written by tarFn, is stored once as the blob (the
// uncompressed tar) while its diffID is computed. dir is consumed (moved)
// on success and left in place on failure. Carry a lease in ctx.
func (s *Store) CreateFromDir(ctx context.Context, parent digest.Digest, dir string, tarFn DirTar) (Layer, error) {
	if parent != "" {
		if _, err := s.Get(ctx, parent); err != nil {
			return Layer{}, fmt.Errorf("parent layer: %w", err)
		}
	}
	tmp := filepath.Join(s.dir, "tmp", fmt.Sprintf("%d-%s", os.Getpid(), randHex()))
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return Layer{}, fmt.Errorf("layer store: %w", err)
	}
	diff := filepath.Join(tmp, "diff")
	if err := os.Rename(dir, diff); err != nil {
		os.RemoveAll(tmp)
		return Layer{}, fmt.Errorf("moving %s into the layer store: %w", dir, err)
	}
	committed := false
	defer func() {
		if !committed {
			// Give the directory back, then drop the temp entry.
			os.Rename(diff, dir)
			os.RemoveAll(tmp)
		}
	}()
	w, err := s.cs.Writer(ctx, digest.Canonical)
	if err != nil {
		return Layer{}, err
	}
	defer w.Close()
	if err := tarFn(ctx, w, diff); err != nil {
		return Layer{}, fmt.Errorf("writing layer tar of %s: %w", dir, err)
	}
	info, err := w.Commit(ctx, -1, "")
	if err != nil {
		return Layer{}, err
	}
	diffID := info.Digest // the blob is the uncompressed tar
	size, err := regularSize(diff)
	if err != nil {
		return Layer{}, err
	}
	if err := syncFS(diff); err != nil {
		return Layer{}, fmt.Errorf("syncing layer: %w", err)
	}
	l := Layer{
		ChainID: chainOf(parent, diffID),
		DiffID:  diffID,
		Parent:  parent,
		Size:    size,
		Blob:    ocispec.Descriptor{MediaType: MediaTypeTar, Digest: info.Digest, Size: info.Size},
		Created: time.Now().UTC(),
	}
	var existing *Layer
	err = s.db.Update(ctx, func(tx *metadata.Tx) error {
		b, err := metadata.WriteBucket(tx, Bucket)
		if err != nil {
			return err
		}
		if v := b.Get([]byte(l.ChainID)); v != nil {
			var old Layer
			if err := json.Unmarshal(v, &old); err != nil {
				return errdefs.DataLossf("layer record %s: %v", l.ChainID, err)
			}
			existing = &old
			return metadata.AddResource(ctx, tx, Resource(l.ChainID))
		}
		if parent != "" && b.Get([]byte(parent)) == nil {
			return errdefs.NotFoundf("parent layer %s was removed concurrently", parent)
		}
		if _, err := s.cs.Info(ctx, l.Blob.Digest); err != nil {
			return fmt.Errorf("layer blob %s was removed concurrently: %w", l.Blob.Digest, err)
		}
		final := s.Dir(l.ChainID)
		if _, err := os.Lstat(final); err == nil {
			trash := filepath.Join(s.dir, "tmp", "del-"+randHex())
			if err := os.Rename(final, trash); err != nil {
				return fmt.Errorf("moving stale layer dir aside: %w", err)
			}
			defer os.RemoveAll(trash)
		}
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("committing layer %s: %w", l.ChainID, err)
		}
		committed = true
		if err := syncDir(s.dir); err != nil {
			return err
		}
		v, _ := json.Marshal(l)
		if err := b.Put([]byte(l.ChainID), v); err != nil {
			return err
		}
		if err := metadata.Claim(tx, BlobResource(l.Blob.Digest)); err != nil {
			return err
		}
		return metadata.AddResource(ctx, tx, Resource(l.ChainID))
	})
	if err != nil {
		if committed {
			os.Rename(s.Dir(l.ChainID), tmp)
			committed = false
		}
		return Layer{}, err
	}
	if existing != nil {
		// Same content already stored: this copy is not needed.
		os.RemoveAll(tmp)
		committed = true
		return *existing, nil
	}
	return l, nil
}

func regularSize(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
