package layers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Pending is a layer unpacked into layers/tmp and not yet recorded. The
// directory of a layer does not depend on the layers below it, so the
// layers of an image can be unpacked in parallel, each while its blob
// streams in (pull), and then committed in order, each on top of the one
// below. A Pending is committed or discarded exactly once.
type Pending struct {
	s *Store
	u *unpacked
}

// Unpack streams a layer blob from r in one pass: the bytes as read go into
// the content store (kept compressed: opts.KeepCompressed is implied) and
// are verified against opts.Digest when set; the decompressed tar is hashed
// for the diffID (checked against opts.DiffID when set) and applied to a
// new directory in layers/tmp. r must be read to its end: an error from its
// last Read (a registry's digest mismatch) fails the unpack. On error
// nothing is stored. The blob is in the content store when Unpack returns;
// carry a lease in ctx to keep it until the layer is committed.
func (s *Store) Unpack(ctx context.Context, r io.Reader, opts CreateOptions) (*Pending, error) {
	opts.KeepCompressed = true
	u, err := s.unpack(ctx, r, opts, nil)
	return s.pending(u, err)
}

// pending makes sure the unpacked directory is durable (syncfs: cheap when
// unpack synced it already) before it can be committed.
func (s *Store) pending(u *unpacked, err error) (*Pending, error) {
	if err != nil {
		return nil, err
	}
	if err := syncFS(u.tmp); err != nil {
		os.RemoveAll(u.tmp)
		return nil, fmt.Errorf("syncing layer: %w", err)
	}
	return &Pending{s: s, u: u}, nil
}

// UnpackBlob is Unpack of a blob already in the content store.
func (s *Store) UnpackBlob(ctx context.Context, blob ocispec.Descriptor, opts CreateOptions) (*Pending, error) {
	rc, err := s.cs.Open(ctx, blob.Digest)
	if err != nil {
		return nil, fmt.Errorf("layer blob %s: %w", blob.Digest, err)
	}
	defer rc.Close()
	u, err := s.unpack(ctx, rc, opts, &blob)
	return s.pending(u, err)
}

// DiffID is the digest of the unpacked layer's tar.
func (p *Pending) DiffID() digest.Digest { return p.u.diffID }

// Blob is the stored layer blob.
func (p *Pending) Blob() ocispec.Descriptor { return p.u.blob }

// Commit records the layer on top of parent (a chainID, "" for a base
// layer), which must exist. When an equal layer exists already, that one is
// returned and this copy removed. The Pending is used up either way.
func (p *Pending) Commit(ctx context.Context, parent digest.Digest) (Layer, error) {
	if p.u == nil {
		return Layer{}, errors.New("pending layer already committed or discarded")
	}
	u := p.u
	p.u = nil
	l, err := p.s.commit(ctx, parent, u)
	if err != nil {
		os.RemoveAll(u.tmp)
	}
	return l, err
}

// Discard removes an uncommitted layer directory; it does nothing after
// Commit.
func (p *Pending) Discard() {
	if p != nil && p.u != nil {
		os.RemoveAll(p.u.tmp)
		p.u = nil
	}
}
