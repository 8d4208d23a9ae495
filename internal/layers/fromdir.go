package layers

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

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
	// Claim (and lease) the digest before the blob becomes visible, as
	// unpack does: a concurrent deletion of an equal blob (rmi, prune
	// emptying the trash) cannot then remove ours.
	if err := s.db.AddResources(ctx, BlobResource(w.Digest())); err != nil {
		return Layer{}, err
	}
	info, err := w.Commit(ctx, -1, "")
	if err != nil {
		return Layer{}, err
	}
	diffID := info.Digest // the blob is the uncompressed tar
	size, err := layerSize(diff)
	if err != nil {
		return Layer{}, err
	}
	if err := syncFS(diff); err != nil {
		return Layer{}, fmt.Errorf("syncing layer: %w", err)
	}
	u := &Staged{s: s, tmp: tmp, synced: true, diffID: diffID, size: size,
		blob: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: info.Digest, Size: info.Size}}
	l, err := s.commit(ctx, parent, u)
	if err != nil {
		return Layer{}, err
	}
	committed = true
	return l, nil
}

// layerSize is a layer directory's size as docker counts it (and as
// archive.Apply reports it): the size of every entry that is not a
// directory, symlinks included (their target's length), hardlinks once.
func layerSize(dir string) (int64, error) {
	var n int64
	seen := map[uint64]bool{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		n += fi.Size()
		return nil
	})
	return n, err
}
