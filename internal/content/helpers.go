package content

import (
	"context"
	"fmt"
	"io"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// WriteBlob streams r into the store as one blob and commits it, checking
// the expected size (-1: unknown) and digest ("" : unknown). The algorithm is
// taken from expected when it is given.
func WriteBlob(ctx context.Context, ing Ingester, r io.Reader, size int64, expected digest.Digest) (Info, error) {
	alg := digest.Canonical
	if expected != "" {
		if err := expected.Validate(); err != nil {
			return Info{}, errdefs.InvalidArgumentf("invalid digest %q: %v", expected, err)
		}
		alg = expected.Algorithm()
	}
	w, err := ing.Writer(ctx, alg)
	if err != nil {
		return Info{}, err
	}
	defer w.Close()
	if _, err := copyCtx(ctx, w, r); err != nil {
		return Info{}, fmt.Errorf("writing blob %s: %w", orUnknown(expected), err)
	}
	return w.Commit(ctx, size, expected)
}

// ReadBlob reads a whole blob, refusing blobs larger than limit bytes
// (limit <= 0: no limit). Use it for configs and manifests only.
func ReadBlob(ctx context.Context, p Provider, dgst digest.Digest, limit int64) ([]byte, error) {
	r, err := p.Open(ctx, dgst)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var src io.Reader = r
	if limit > 0 {
		src = io.LimitReader(r, limit+1)
	}
	b, err := io.ReadAll(src)
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", dgst, err)
	}
	if limit > 0 && int64(len(b)) > limit {
		return nil, errdefs.InvalidArgumentf("blob %s is larger than the limit of %d bytes", dgst, limit)
	}
	return b, nil
}

// Exists reports whether the blob is present.
func Exists(ctx context.Context, p InfoProvider, dgst digest.Digest) (bool, error) {
	_, err := p.Info(ctx, dgst)
	if err == nil {
		return true, nil
	}
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	return false, err
}

func orUnknown(d digest.Digest) string {
	if d == "" {
		return "(digest not yet known)"
	}
	return d.String()
}

// copyCtx copies with a large buffer and stops when ctx is cancelled.
func copyCtx(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		nr, rerr := src.Read(buf)
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
