package layers

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Prepared is a layer unpacked ahead of its record: load unpacks each layer
// while it stores the layer's blob, before the archive's manifest says which
// image (so which parent and chainID) the layer belongs to. An overlay layer
// directory does not depend on the layers below it, so the directory is the
// same whatever the parent turns out to be. CreateChainFromBlobs commits it
// (CreateOptions.Prepared) after checking its diffID; Discard removes it
// when no image uses it. Until then it is an ordinary leftover of this
// process in layers/tmp, removed by Cleanup after a crash.
type Prepared struct {
	tmp    string
	diffID digest.Digest // "" for an uncompressed blob: the blob's sha256 digest is its diffID
	size   int64
	comp   archive.Compression
	synced bool
}

// Prepare unpacks the layer blob read from r (a tar, or gzip or zstd of
// one) into layers/tmp, hashing the diffID of a compressed blob (an
// uncompressed blob's diffID is its digest, which the caller computes while
// storing the same bytes). It neither stores the blob nor syncs (see Sync),
// and reads r to its end. On error nothing is left behind.
func (s *Store) Prepare(ctx context.Context, r io.Reader, opts CreateOptions) (_ *Prepared, err error) {
	tmp, diff, err := s.newTmp()
	if err != nil {
		return nil, err
	}
	p := &Prepared{tmp: tmp}
	defer func() {
		if err != nil {
			p.Discard()
		}
	}()
	dec, comp, err := archive.DecompressStream(r)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("layer blob: %v", err)
	}
	defer dec.Close()
	if comp != archive.Uncompressed && comp != archive.Gzip && comp != archive.Zstd {
		return nil, errdefs.InvalidArgumentf("layer blob: unsupported compression %v", comp)
	}
	var tarStream io.Reader = dec
	var d digest.Digester
	if comp != archive.Uncompressed {
		d = digest.Canonical.Digester()
		tarStream = io.TeeReader(dec, d.Hash())
	}
	if p.size, err = extract(ctx, diff, tarStream, opts); err != nil {
		return nil, err
	}
	if _, err = io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	if d != nil {
		p.diffID = d.Digest()
	}
	p.comp = comp
	return p, nil
}

// Sync makes the prepared directory durable (syncfs), so that committing it
// needs no sync of its own. Load calls it as soon as the layer is unpacked,
// so that the flush overlaps what load still does (fsyncing the blob,
// reading the next member).
func (p *Prepared) Sync() error {
	if p == nil || p.tmp == "" || p.synced {
		return nil
	}
	if err := syncFS(p.tmp); err != nil {
		return fmt.Errorf("syncing layer: %w", err)
	}
	p.synced = true
	return nil
}

// Discard removes the prepared directory unless it was committed. It may be
// called more than once.
func (p *Prepared) Discard() {
	if p != nil && p.tmp != "" {
		os.RemoveAll(p.tmp)
		p.tmp = ""
	}
}

// take hands the prepared directory over as the unpacked layer of blob,
// checking that its diffID is the expected one; p is consumed either way.
// It returns nil (and no error) when p cannot tell its diffID (an
// uncompressed blob not named by sha256): the caller unpacks the blob.
func (p *Prepared) take(blob ocispec.Descriptor, diffID digest.Digest, opts CreateOptions) (*unpacked, error) {
	got := p.diffID
	if p.comp == archive.Uncompressed && blob.Digest.Algorithm() == digest.Canonical {
		got = blob.Digest
	}
	if got != diffID {
		p.Discard()
		if got == "" {
			return nil, nil
		}
		return nil, errdefs.DataLossf("layer diffID mismatch: expected %s, got %s", diffID, got)
	}
	opts.KeepCompressed = true
	u := &unpacked{tmp: p.tmp, synced: p.synced, diffID: got, size: p.size, blob: ocispec.Descriptor{MediaType: blobMediaType(opts, &blob, p.comp), Digest: blob.Digest, Size: blob.Size}}
	p.tmp = ""
	return u, nil
}
