package layers

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mediatype"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The constructors of a layer, by where it comes from:
//
//	Create         a tar stream (plain, gzip or zstd) that becomes the layer's
//	               own blob, stored as the uncompressed tar (import, build,
//	               squash; Deferred: commit, unpacked on first use)
//	Stage          a tar stream whose bytes are the layer's blob as read
//	               (pull, load), unpacked while the blob arrives; StageBlob
//	               the same from a blob already stored; CreateChain records
//	               staged layers, unpacking from their stored blobs those not
//	               staged
//	CreateFromDir  a directory diff (an overlay upper dir), moved into place

// TarOptions tune Create.
type TarOptions struct {
	// MaxBytes is the decompression-bomb limit passed to archive.Apply
	// (0: none).
	MaxBytes int64
	// Deferred records the layer without unpacking it: the stream must be
	// an uncompressed tar, stored as the blob; the directory is unpacked
	// from the blob on first use (Materialize). Container commit uses it.
	Deferred bool
}

// Create stores the layer tar read from r (plain, gzip or zstd) on top of
// parent (a chainID, "" for a base layer): it is unpacked while the
// uncompressed tar is stored as the layer's blob and hashed for the diffID,
// then synced and recorded. Carry a lease in ctx (metadata.WithLease) to
// keep the layer until an image references it.
func (s *Store) Create(ctx context.Context, parent digest.Digest, r io.Reader, opts TarOptions) (Layer, error) {
	if parent != "" {
		if _, err := s.Get(ctx, parent); err != nil {
			return Layer{}, fmt.Errorf("parent layer: %w", err)
		}
	}
	if opts.Deferred {
		return s.createDeferred(ctx, parent, r)
	}
	u, err := s.unpack(ctx, r, source{mode: storeTar, maxBytes: opts.MaxBytes})
	if err != nil {
		return Layer{}, err
	}
	defer u.Discard()
	if err := u.Sync(); err != nil {
		return Layer{}, err
	}
	return s.commit(ctx, parent, u)
}

// blobMode says where the blob of a layer stream is stored.
type blobMode int

const (
	// storeTar stores the decompressed tar as the blob (Create).
	storeTar blobMode = iota
	// storeAsRead stores the bytes as read (Stage with Store: pull).
	storeAsRead
	// stored: the blob is in the content store already (StageBlob,
	// CreateChain, Materialize).
	stored
	// storedByCaller: the caller stores the bytes itself (Stage without
	// Store: load); the blob is known when the layer is recorded.
	storedByCaller
)

// source describes a layer stream for unpack.
type source struct {
	mode blobMode
	// blob is the blob the stream carries: its digest is verified
	// (storeAsRead) or names the stored blob (stored); its media type is
	// recorded ("" derives it from the sniffed compression).
	blob     ocispec.Descriptor
	diffID   digest.Digest // expected ("" unknown)
	maxBytes int64
}

// newTmp makes a directory for a layer being unpacked by this process:
// layers/tmp/<pid>-<random>, holding diff/.
func (s *Store) newTmp() (tmp, diff string, err error) {
	tmp = filepath.Join(s.dir, "tmp", fmt.Sprintf("%d-%s", os.Getpid(), randHex()))
	diff = filepath.Join(tmp, "diff")
	if err := os.MkdirAll(diff, 0o755); err != nil {
		return "", "", fmt.Errorf("layer store: %w", err)
	}
	return tmp, diff, nil
}

// extract applies a layer tar stream onto diff (overlay form) and reads the
// stream to its end, so that a caller hashing it sees every byte.
func extract(ctx context.Context, diff string, tarStream io.Reader, maxBytes int64) (int64, error) {
	size, err := archive.Apply(ctx, diff, tarStream, archive.ApplyOptions{Overlay: true, MaxBytes: maxBytes})
	if err != nil {
		return 0, errdefs.InvalidArgument(fmt.Errorf("unpacking layer: %w", err))
	}
	if _, err := io.Copy(io.Discard, tarStream); err != nil {
		return 0, errdefs.InvalidArgument(fmt.Errorf("reading layer: %w", err))
	}
	return size, nil
}

// nopWriter stands in for a content writer when the blob is stored
// elsewhere.
type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// unpack streams a layer into layers/tmp (and its blob into content, as
// src.mode says), hashing the diffID where no other hash gives it. It does
// not sync: the caller syncs (Staged.Sync) before recording. On error
// nothing is left behind.
func (s *Store) unpack(ctx context.Context, r io.Reader, src source) (*Staged, error) {
	tmp, diff, err := s.newTmp()
	if err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(tmp)
		}
	}()

	alg := digest.Canonical
	if src.mode == storeAsRead && src.blob.Digest != "" {
		if err := src.blob.Digest.Validate(); err != nil {
			return nil, errdefs.InvalidArgumentf("invalid layer digest %q: %v", src.blob.Digest, err)
		}
		alg = src.blob.Digest.Algorithm()
	}
	var w content.Writer
	var sink io.Writer = nopWriter{}
	if src.mode == storeTar || src.mode == storeAsRead {
		if w, err = s.cs.Writer(ctx, alg); err != nil {
			return nil, err
		}
		defer w.Close()
		sink = w
	}
	asRead := src.mode != storeTar // the blob is the stream as read

	// raw: the blob as read. It goes into content when stored as read.
	raw := r
	if src.mode == storeAsRead {
		raw = io.TeeReader(r, sink)
	}
	dec, comp, err := archive.DecompressStream(raw)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("layer blob: %v", err)
	}
	defer dec.Close()
	if asRead && comp != archive.Gzip && comp != archive.Zstd && comp != archive.Uncompressed {
		return nil, errdefs.InvalidArgumentf("layer blob %s: unsupported compression (only gzip and zstd layers can be stored)", src.blob.Digest)
	}
	// The diffID is the sha256 of the uncompressed tar. Hash it only when no
	// other hash already gives it: an uncompressed stored blob is named by
	// it (and was verified when stored; for one the caller stores, the
	// digest it computes is checked when the layer is recorded), and an
	// uncompressed tar written to content here is hashed by the content
	// writer.
	var diffIDer digest.Digester
	var tarStream io.Reader = dec
	switch {
	case src.mode == stored && comp == archive.Uncompressed && src.blob.Digest.Algorithm() == digest.Canonical:
	case src.mode == storedByCaller && comp == archive.Uncompressed:
	case src.mode == storeTar && alg == digest.Canonical:
		tarStream = io.TeeReader(tarStream, sink)
	default:
		diffIDer = digest.Canonical.Digester()
		tarStream = io.TeeReader(dec, diffIDer.Hash())
		if src.mode == storeTar {
			tarStream = io.TeeReader(tarStream, sink)
		}
	}
	size, err := extract(ctx, diff, tarStream, src.maxBytes)
	if err != nil {
		return nil, err
	}
	if asRead {
		// the rest of the blob (past the end of the compressed stream)
		if _, err := io.Copy(io.Discard, raw); err != nil {
			return nil, fmt.Errorf("reading layer blob: %w", err)
		}
	}
	u := &Staged{s: s, tmp: tmp, size: size, comp: comp}
	switch {
	case diffIDer != nil:
		u.diffID = diffIDer.Digest()
	case src.mode == stored:
		u.diffID = src.blob.Digest
	case src.mode == storeTar:
		u.diffID = w.Digest()
	}
	if src.diffID != "" && u.diffID != "" && src.diffID != u.diffID {
		return nil, errdefs.DataLossf("layer diffID mismatch: expected %s, got %s", src.diffID, u.diffID)
	}
	switch src.mode {
	case stored:
		u.blob = src.blob
	case storeTar, storeAsRead:
		// Claim (and lease) the digest before the blob becomes visible, so
		// that a concurrent deletion of an equal blob cannot remove ours.
		if err := s.db.AddResources(ctx, BlobResource(w.Digest())); err != nil {
			return nil, err
		}
		var expected digest.Digest
		if src.mode == storeAsRead {
			expected = src.blob.Digest
		}
		info, err := w.Commit(ctx, -1, expected)
		if err != nil {
			return nil, err
		}
		u.blob = ocispec.Descriptor{MediaType: src.blob.MediaType, Digest: info.Digest, Size: info.Size}
	}
	if u.blob.Digest != "" {
		u.blob.MediaType = u.mediaType(u.blob.MediaType, asRead)
	}
	keep = true
	return u, nil
}

// mediaType is the media type recorded for the layer's blob: given, for a
// blob kept as read, else the one of its sniffed compression; a stored tar
// is an uncompressed layer.
func (u *Staged) mediaType(given string, asRead bool) string {
	switch {
	case !asRead:
		return ocispec.MediaTypeImageLayer
	case given != "":
		return given
	}
	return mediatype.Layer(u.comp.String(), true)
}
