package client

import (
	"bytes"
	"context"
	_ "crypto/sha512" // sha512 digests
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mediatype"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var (
	_ content.Provider     = (*Repository)(nil)
	_ content.InfoProvider = (*Repository)(nil)
	_ content.Ingester     = (*Repository)(nil)
)

// Info implements content.InfoProvider with a HEAD request. A missing blob
// is errdefs.ErrNotFound.
func (r *Repository) Info(ctx context.Context, dgst digest.Digest) (content.Info, error) {
	if err := dgst.Validate(); err != nil {
		return content.Info{}, errdefs.InvalidArgumentf("invalid digest %q: %v", dgst, err)
	}
	req, err := r.request(ctx, http.MethodHead, "blobs/"+dgst.String(), nil, nil)
	if err != nil {
		return content.Info{}, err
	}
	resp, err := r.c.do(ctx, r.h, req, r.pullScope())
	if err != nil {
		return content.Info{}, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return content.Info{Digest: dgst, Size: resp.ContentLength}, nil
	case http.StatusNotFound:
		return content.Info{}, errdefs.NotFoundf("blob %s not found in %s", dgst, r.h.addr+"/"+r.path)
	}
	return content.Info{}, responseError(resp, "checking blob "+dgst.String())
}

// Exists reports whether the repository has the blob (HEAD).
func (r *Repository) Exists(ctx context.Context, dgst digest.Digest) (bool, error) {
	return content.Exists(ctx, r, dgst)
}

// Open implements content.Provider: the size comes from a HEAD request and
// the bytes stream on demand (see Fetch for verification and resumption).
func (r *Repository) Open(ctx context.Context, dgst digest.Digest) (content.Reader, error) {
	info, err := r.Info(ctx, dgst)
	if err != nil {
		return nil, err
	}
	return r.newBlobReader(ctx, dgst, info.Size), nil
}

// Fetch returns the content of desc: manifests and indexes from the
// manifests endpoint (verified), other blobs as a reader that checks size and
// digest while streaming (a mismatch is an errdefs.ErrDataLoss error from
// the final Read) and resumes with Range requests when the connection drops.
func (r *Repository) Fetch(ctx context.Context, desc ocispec.Descriptor) (content.Reader, error) {
	if mediatype.IsManifest(desc.MediaType) {
		b, err := r.FetchManifest(ctx, desc)
		if err != nil {
			return nil, err
		}
		return nopCloser{bytes.NewReader(b)}, nil
	}
	if err := desc.Digest.Validate(); err != nil {
		return nil, errdefs.InvalidArgumentf("invalid digest %q: %v", desc.Digest, err)
	}
	size := desc.Size
	if size <= 0 {
		size = -1
	}
	br := r.newBlobReader(ctx, desc.Digest, size)
	// Open eagerly so that a missing blob is reported here.
	if err := br.open(); err != nil {
		return nil, err
	}
	return br, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// blobReader streams one blob, verifying and resuming.
type blobReader struct {
	ctx  context.Context
	r    *Repository
	dgst digest.Digest
	size int64 // -1: unknown

	off      int64
	body     io.ReadCloser
	hash     hash.Hash
	verify   bool // false after a seek away from sequential reading
	failures int  // consecutive failures without progress
	err      error
	done     bool
}

func (r *Repository) newBlobReader(ctx context.Context, dgst digest.Digest, size int64) *blobReader {
	return &blobReader{ctx: ctx, r: r, dgst: dgst, size: size, hash: dgst.Algorithm().Hash(), verify: true}
}

// open issues the GET for the bytes from b.off on.
func (b *blobReader) open() error {
	req, err := b.r.request(b.ctx, http.MethodGet, "blobs/"+b.dgst.String(), nil, nil)
	if err != nil {
		return err
	}
	if b.off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(b.off, 10)+"-")
	}
	resp, err := b.r.c.do(b.ctx, b.r.h, req, b.r.pullScope())
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if b.size < 0 && b.off == 0 && resp.ContentLength >= 0 {
			b.size = resp.ContentLength
		}
		if b.off > 0 { // no Range support: skip what we have
			if _, err := io.CopyN(io.Discard, resp.Body, b.off); err != nil {
				resp.Body.Close()
				return fmt.Errorf("blob %s: skipping to offset %d: %w", b.dgst, b.off, err)
			}
		}
	case http.StatusPartialContent:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != b.off {
			resp.Body.Close()
			return fmt.Errorf("blob %s: registry answered range %q for offset %d", b.dgst, resp.Header.Get("Content-Range"), b.off)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		resp.Body.Close()
		if b.size >= 0 && b.off >= b.size {
			b.body = io.NopCloser(strings.NewReader(""))
			return nil
		}
		return errdefs.InvalidArgumentf("blob %s: registry refused range from offset %d", b.dgst, b.off)
	case http.StatusNotFound:
		return responseError(resp, "blob "+b.dgst.String()+" in "+b.r.h.addr+"/"+b.r.path)
	default:
		return responseError(resp, "fetching blob "+b.dgst.String())
	}
	b.body = resp.Body
	return nil
}

func contentRangeStart(h string) (int64, bool) {
	h = strings.TrimPrefix(h, "bytes ")
	s, _, ok := strings.Cut(h, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func (b *blobReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	for {
		if b.body == nil {
			if err := b.open(); err != nil {
				if b.ctx.Err() != nil || !retryableTransfer(err) || b.failures >= b.r.c.opts.MaxRetries {
					b.err = err
					return 0, err
				}
				b.failures++
				if err := sleepCtx(b.ctx, backoffDelay(b.r.c.opts.RetryBackoff, b.failures-1)); err != nil {
					b.err = err
					return 0, err
				}
				continue
			}
		}
		n, err := b.body.Read(p)
		if n > 0 {
			if b.size >= 0 && b.off+int64(n) > b.size {
				b.fail(errdefs.DataLossf("blob %s from %s: more than the expected %d bytes", b.dgst, b.r.h.addr, b.size))
				return 0, b.err
			}
			if b.verify {
				b.hash.Write(p[:n])
			}
			b.off += int64(n)
			b.failures = 0
		}
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF && (b.size < 0 || b.off == b.size):
			b.body.Close()
			b.body = nil
			if verr := b.check(); verr != nil {
				b.fail(verr)
				return 0, verr
			}
			b.done = true
			return n, io.EOF
		}
		// The connection dropped (or ended short): resume from b.off.
		b.body.Close()
		b.body = nil
		if b.ctx.Err() != nil {
			b.err = b.ctx.Err()
			return n, nil
		}
		if b.failures >= b.r.c.opts.MaxRetries {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			b.err = fmt.Errorf("blob %s from %s: connection lost at byte %d of %d: %w", b.dgst, b.r.h.addr, b.off, b.size, err)
			return n, nil
		}
		b.failures++
		b.r.c.opts.Logger.Debug("resuming blob download", "digest", b.dgst, "offset", b.off, "err", err)
		if n > 0 {
			return n, nil
		}
	}
}

func retryableTransfer(err error) bool {
	return errors.Is(err, errdefs.ErrUnavailable) || (!errors.Is(err, errdefs.ErrNotFound) &&
		!errors.Is(err, errdefs.ErrUnauthorized) && !errors.Is(err, errdefs.ErrForbidden) &&
		!errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, errdefs.ErrDataLoss) &&
		!errors.Is(err, errdefs.ErrNotImplemented))
}

func (b *blobReader) fail(err error) {
	b.err = err
	if b.body != nil {
		b.body.Close()
		b.body = nil
	}
}

// check verifies size and digest at the end of a sequential read.
func (b *blobReader) check() error {
	if b.size >= 0 && b.off != b.size {
		return errdefs.DataLossf("blob %s from %s: got %d bytes, expected %d", b.dgst, b.r.h.addr, b.off, b.size)
	}
	if !b.verify {
		return nil
	}
	got := digest.NewDigest(b.dgst.Algorithm(), b.hash)
	if got != b.dgst {
		return errdefs.DataLossf("blob %s from %s: content digest is %s", b.dgst, b.r.h.addr, got)
	}
	return nil
}

// Seek implements io.Seeker. Reading from anywhere but the start turns
// digest verification off (the size is still enforced).
func (b *blobReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = b.off + offset
	case io.SeekEnd:
		if b.size < 0 {
			return 0, errors.New("blob reader: size unknown, cannot seek from the end")
		}
		abs = b.size + offset
	default:
		return 0, errors.New("blob reader: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("blob reader: negative position")
	}
	if abs == b.off {
		return abs, nil
	}
	if b.body != nil {
		b.body.Close()
		b.body = nil
	}
	b.err, b.done, b.failures = nil, false, 0
	b.off = abs
	b.hash.Reset()
	b.verify = abs == 0
	if b.size >= 0 && abs >= b.size {
		b.done = true
	}
	return abs, nil
}

// ReadAt implements io.ReaderAt with one Range request (not verified).
func (b *blobReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("blob reader: negative offset")
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.size >= 0 && off >= b.size {
		return 0, io.EOF
	}
	req, err := b.r.request(b.ctx, http.MethodGet, "blobs/"+b.dgst.String(), nil, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1))
	resp, err := b.r.c.do(b.ctx, b.r.h, req, b.r.pullScope())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != off {
			return 0, fmt.Errorf("blob %s: registry answered range %q for offset %d", b.dgst, resp.Header.Get("Content-Range"), off)
		}
	case http.StatusOK:
		if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
			return 0, err
		}
	case http.StatusRequestedRangeNotSatisfiable:
		return 0, io.EOF
	default:
		return 0, responseError(resp, "fetching blob "+b.dgst.String())
	}
	n, err := io.ReadFull(resp.Body, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

func (b *blobReader) Close() error {
	if b.body != nil {
		b.body.Close()
		b.body = nil
	}
	if b.err == nil {
		b.err = errors.New("blob reader closed")
	}
	return nil
}
