package layers

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// Staged is a layer unpacked into layers/tmp and not yet recorded: pull
// and load unpack each layer while its blob arrives, before the layers
// below it are recorded (pull) or before the archive's manifest says which
// image, so which parent, the layer belongs to (load). An overlay layer
// directory does not depend on the layers below it, so the directory is the
// same whatever the parent turns out to be. CreateChain records it, after
// checking its diffID; Discard removes it when no image uses it. Until
// then it is an ordinary leftover of this process in layers/tmp, removed by
// Cleanup after a crash.
type Staged struct {
	s      *Store
	tmp    string // "" once recorded or discarded
	synced bool
	// diffID is "" when the stream was an uncompressed tar the caller
	// stores: its blob's sha256 digest is its diffID.
	diffID digest.Digest
	size   int64
	comp   archive.Compression
	blob   ocispec.Descriptor // zero until known (the caller stores it)
}

// StageOptions describe the layer blob a staged stream carries.
type StageOptions struct {
	// Store writes the stream as read into the content store as the
	// layer's blob, verified against Blob.Digest when set (pull). Without
	// it the caller stores the same bytes itself (load).
	Store bool
	// Blob is the blob the stream is: its digest, and the media type to
	// record ("" derives it from the sniffed compression).
	Blob ocispec.Descriptor
	// DiffID is the expected diffID ("" unknown; CreateChain checks it).
	DiffID digest.Digest
}

// Stage unpacks the layer blob read from r (a tar, or gzip or zstd of one)
// into layers/tmp, hashing its diffID, and stores the bytes as read when
// opts.Store is set. r is read to its end: an error from its last Read (a
// registry's digest mismatch) fails the stage. It does not sync (see
// Sync). On error nothing is left behind and no blob is stored; on success
// a stored blob is in the content store, claimed in ctx's lease.
func (s *Store) Stage(ctx context.Context, r io.Reader, opts StageOptions) (*Staged, error) {
	src := source{mode: storedByCaller, blob: opts.Blob, diffID: opts.DiffID}
	if opts.Store {
		src.mode = storeAsRead
	}
	return s.unpack(ctx, r, src)
}

// StageBlob is Stage of a blob already in the content store.
func (s *Store) StageBlob(ctx context.Context, blob ocispec.Descriptor, diffID digest.Digest) (*Staged, error) {
	rc, err := s.cs.Open(ctx, blob.Digest)
	if err != nil {
		return nil, fmt.Errorf("layer blob %s: %w", blob.Digest, err)
	}
	defer rc.Close()
	return s.unpack(ctx, rc, source{mode: stored, blob: blob, diffID: diffID})
}

// DiffID is the digest of the staged layer's tar ("" for an uncompressed
// stream whose blob the caller stores: the blob's digest).
func (p *Staged) DiffID() digest.Digest { return p.diffID }

// Blob is the stored layer blob (zero when the caller stores it).
func (p *Staged) Blob() ocispec.Descriptor { return p.blob }

// Sync makes the staged directory durable (syncfs), so that recording it
// needs no sync of its own. Pull and load call it as soon as the layer is
// unpacked, so that the flush overlaps what they still do.
func (p *Staged) Sync() error {
	if p == nil || p.tmp == "" || p.synced {
		return nil
	}
	if err := syncFS(p.tmp); err != nil {
		return fmt.Errorf("syncing layer: %w", err)
	}
	p.synced = true
	return nil
}

// Discard removes the staged directory unless it was recorded. It may be
// called more than once, and on nil.
func (p *Staged) Discard() {
	if p != nil && p.tmp != "" {
		os.RemoveAll(p.tmp)
		p.tmp = ""
	}
}

// take hands the directory over to a new Staged (for commit); p is
// consumed.
func (p *Staged) take() *Staged {
	u := *p
	p.tmp = ""
	return &u
}

// takeAs is take for the layer of blob with the expected diffID, checked;
// p is consumed either way. It returns nil (and no error) when p cannot
// tell its diffID (an uncompressed blob not named by sha256): the caller
// unpacks the blob.
func (p *Staged) takeAs(blob ocispec.Descriptor, diffID digest.Digest) (*Staged, error) {
	got := p.diffID
	if got == "" && p.comp == archive.Uncompressed && blob.Digest.Algorithm() == digest.Canonical {
		got = blob.Digest
	}
	if got != diffID {
		p.Discard()
		if got == "" {
			return nil, nil
		}
		return nil, errdefs.DataLossf("layer diffID mismatch: expected %s, got %s", diffID, got)
	}
	u := p.take()
	u.diffID = got
	if u.blob.Digest == "" {
		u.blob = ocispec.Descriptor{MediaType: u.mediaType(blob.MediaType, true), Digest: blob.Digest, Size: blob.Size}
	}
	return u, nil
}

// CreateChain makes sure the layers of an image exist, given their blobs
// (already in the content store, bottom first) and diffIDs. Missing layers
// are taken from staged (by blob digest; their diffID checked, and the
// ones used consumed) when there, else unpacked from their blobs in
// parallel (a layer directory does not depend on the layers below it);
// then one syncfs makes them durable and they are recorded in order, each
// on top of the one below. Existing layers are added to ctx's lease
// without reading their blobs. The Staged it does not use are left to the
// caller to Discard.
func (s *Store) CreateChain(ctx context.Context, blobs []ocispec.Descriptor, diffIDs []digest.Digest, staged map[digest.Digest]*Staged) ([]Layer, error) {
	if len(blobs) != len(diffIDs) {
		return nil, errdefs.InvalidArgumentf("%d layer blobs for %d diffIDs", len(blobs), len(diffIDs))
	}
	chain := ChainIDs(diffIDs)
	out := make([]Layer, len(chain))
	have := make([]bool, len(chain))
	err := s.db.Update(ctx, func(tx *metadata.Tx) error {
		for i, c := range chain {
			l, err := GetTx(tx, c)
			if errdefs.IsNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			out[i], have[i] = l, true
			if err := metadata.AddResource(ctx, tx, Resource(c)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	todo := make([]*Staged, len(chain))
	defer func() {
		for _, u := range todo {
			u.Discard()
		}
	}()
	for i := range chain {
		if p := staged[blobs[i].Digest]; !have[i] && p != nil && p.tmp != "" {
			u, err := p.takeAs(blobs[i], diffIDs[i])
			if err != nil {
				return nil, fmt.Errorf("layer %d (%s): %w", i, blobs[i].Digest, err)
			}
			todo[i] = u // nil when p could not tell its diffID
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, runtime.NumCPU()))
	for i := range chain {
		if have[i] || todo[i] != nil {
			continue
		}
		g.Go(func() error {
			u, err := s.StageBlob(gctx, blobs[i], diffIDs[i])
			if err != nil {
				return fmt.Errorf("layer %d (%s): %w", i, blobs[i].Digest, err)
			}
			todo[i] = u
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// One syncfs makes every new directory durable before any is recorded.
	for _, u := range todo {
		if u != nil && !u.synced {
			if err := u.Sync(); err != nil {
				return nil, fmt.Errorf("syncing layers: %w", err)
			}
			break
		}
	}
	for i := range chain {
		if have[i] {
			continue
		}
		var parent digest.Digest
		if i > 0 {
			parent = chain[i-1]
		}
		if out[i], err = s.commit(ctx, parent, todo[i]); err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, blobs[i].Digest, err)
		}
	}
	return out, nil
}
