package layers

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// createDeferred records the uncompressed layer tar read from r on top of
// parent WITHOUT unpacking it (Create with Deferred; commit: the tar of a
// container's upper dir): the tar is stored as the layer's blob, its
// diffID and size computed while it streams, and the layer recorded with
// an empty layers/<chainID>/ and no diff/. The diff dir is unpacked from
// the blob on first use (Materialize, called by LowerDirs). The tar's
// entries are checked then, by archive.Apply; here only its framing is
// parsed.
func (s *Store) createDeferred(ctx context.Context, parent digest.Digest, r io.Reader) (Layer, error) {
	w, err := s.cs.Writer(ctx, digest.Canonical)
	if err != nil {
		return Layer{}, err
	}
	defer w.Close()
	// Large reads and writes: the tar reader itself reads 512-byte blocks.
	bw := bufio.NewWriterSize(w, 1<<20)
	size, err := tarContentSize(ctx, bufio.NewReaderSize(io.TeeReader(r, bw), 1<<20))
	if err != nil {
		return Layer{}, errdefs.InvalidArgument(fmt.Errorf("reading layer tar: %w", err))
	}
	if err := bw.Flush(); err != nil {
		return Layer{}, err
	}
	// Claim (and lease) the digest before the blob becomes visible, so that
	// a concurrent deletion of an equal blob cannot remove ours.
	if err := s.db.AddResources(ctx, BlobResource(w.Digest())); err != nil {
		return Layer{}, err
	}
	info, err := w.Commit(ctx, -1, "")
	if err != nil {
		return Layer{}, err
	}
	tmp := filepath.Join(s.dir, "tmp", fmt.Sprintf("%d-%s", os.Getpid(), randHex()))
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return Layer{}, fmt.Errorf("layer store: %w", err)
	}
	u := &Staged{s: s, tmp: tmp, synced: true, diffID: info.Digest, size: size,
		blob: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: info.Digest, Size: info.Size}}
	defer u.Discard()
	return s.commit(ctx, parent, u)
}

// tarContentSize reads a tar stream to its end (padding included) and
// returns the layer size as archive.Apply counts it: regular file content
// plus symlink target lengths.
func tarContentSize(ctx context.Context, r io.Reader) (int64, error) {
	tr := tar.NewReader(r)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		if err := archive.RejectSparse(hdr); err != nil {
			return 0, err
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			n += hdr.Size
		case tar.TypeSymlink:
			n += int64(len(hdr.Linkname))
		}
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return 0, err
	}
	return n, nil
}

// Materialize makes sure every layer of chain has its diff dir, unpacking
// (in parallel) the blob of each layer that has none: one recorded by
// Create with Deferred, or one whose directory was lost. Each is unpacked into
// layers/tmp and synced, then renamed into place inside a metadata
// transaction that checks the record still exists (so a concurrent removal
// never leaves a directory without a record); when another process
// materialized the layer meanwhile, its directory is kept and ours dropped.
func (s *Store) Materialize(ctx context.Context, chain ...Layer) error {
	var missing []Layer
	for _, l := range chain {
		_, err := os.Lstat(s.DiffDir(l.ChainID))
		if errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, l)
		} else if err != nil {
			return fmt.Errorf("layer %s: %w", l.ChainID, err)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, runtime.NumCPU()))
	for _, l := range missing {
		g.Go(func() error {
			if err := s.materialize(gctx, l); err != nil {
				return fmt.Errorf("unpacking layer %s: %w", l.ChainID, err)
			}
			return nil
		})
	}
	return g.Wait()
}

func (s *Store) materialize(ctx context.Context, l Layer) error {
	u, err := s.StageBlob(ctx, l.Blob, l.DiffID)
	if err != nil {
		return err
	}
	defer u.Discard()
	if err := u.Sync(); err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx *metadata.Tx) error {
		if _, err := GetTx(tx, l.ChainID); err != nil {
			return err
		}
		dir := s.Dir(l.ChainID)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(u.tmp, "diff"), unix.AT_FDCWD, s.DiffDir(l.ChainID), unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EEXIST) {
			return nil // materialized by another process meanwhile
		}
		if err != nil {
			return fmt.Errorf("moving the unpacked layer into place: %w", err)
		}
		return syncDir(dir)
	})
}
