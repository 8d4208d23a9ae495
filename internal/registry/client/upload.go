package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// upload is one upload session.
type upload struct {
	r        *Repository
	loc      *url.URL
	off      int64 // bytes the registry has
	failures int
	// progress, when set, hears of the waits before retries (docker's
	// "Retrying in N seconds") of the blob dgst.
	progress ProgressFunc
	dgst     digest.Digest
	size     int64
}

// errUploadLost means the registry forgot the upload session.
var errUploadLost = errors.New("upload session lost")

// startUpload opens an upload session (POST).
func (r *Repository) startUpload(ctx context.Context) (*upload, error) {
	req, err := r.request(ctx, http.MethodPost, "blobs/uploads/", nil, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.c.do(ctx, r.h, req, r.pushScope())
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, responseError(resp, "starting upload to "+r.h.addr+"/"+r.path)
	}
	resp.Body.Close()
	loc, err := location(resp)
	if err != nil {
		return nil, err
	}
	return &upload{r: r, loc: loc}, nil
}

// Mount asks the registry to link blob dgst from repository from (a path
// in the same registry, e.g. "library/busybox"). It reports whether the blob
// is now in r; when the registry declines, nothing is left behind and the
// blob must be uploaded.
func (r *Repository) Mount(ctx context.Context, dgst digest.Digest, from string) (bool, error) {
	q := url.Values{"mount": {dgst.String()}, "from": {from}}
	req, err := r.request(ctx, http.MethodPost, "blobs/uploads/", q, nil)
	if err != nil {
		return false, err
	}
	scopes := append(r.pushScope(), auth.RepositoryScope(from, "pull"))
	resp, err := r.c.do(ctx, r.h, req, scopes)
	if err != nil {
		return false, err
	}
	switch resp.StatusCode {
	case http.StatusCreated:
		resp.Body.Close()
		return true, nil
	case http.StatusAccepted:
		resp.Body.Close()
		if loc, err := location(resp); err == nil {
			(&upload{r: r, loc: loc}).cancel(ctx)
		}
		return false, nil
	}
	return false, responseError(resp, "mounting blob "+dgst.String()+" from "+from)
}

// PushBlob uploads the blob desc, reading its bytes from src: in one PUT when
// it is at most the chunk size, else in chunks (PATCH with Content-Range).
// After a failure the upload resumes from the offset the registry reports
// (or starts over when the registry lost the session).
func (r *Repository) PushBlob(ctx context.Context, desc ocispec.Descriptor, src io.ReaderAt) error {
	return r.PushBlobWithProgress(ctx, desc, src, nil)
}

// PushBlobWithProgress is PushBlob telling progress of each wait before a
// retry, as docker does: "Retrying in N seconds", counting down.
func (r *Repository) PushBlobWithProgress(ctx context.Context, desc ocispec.Descriptor, src io.ReaderAt, progress ProgressFunc) error {
	if err := desc.Digest.Validate(); err != nil {
		return errdefs.InvalidArgumentf("invalid digest %q: %v", desc.Digest, err)
	}
	restarts := 0
	for {
		u, err := r.startUpload(ctx)
		if err != nil {
			return err
		}
		u.progress, u.dgst, u.size = progress, desc.Digest, desc.Size
		// A blob that fits one chunk goes whole with the PUT.
		if desc.Size > r.c.opts.ChunkSize {
			err = u.send(ctx, src, 0, desc.Size, r.c.opts.MaxPatchSize)
		}
		if err == nil {
			err = u.commit(ctx, desc.Digest, src, desc.Size)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, errUploadLost) {
			u.cancel(context.WithoutCancel(ctx))
			return err
		}
		// The session is gone: maybe the blob made it anyway.
		if ok, _ := r.Exists(ctx, desc.Digest); ok {
			return nil
		}
		if restarts >= r.c.opts.MaxRetries {
			return fmt.Errorf("pushing blob %s: %w", desc.Digest, err)
		}
		restarts++
	}
}

// send uploads bytes [u.off, end) of src in chunks; src holds the bytes from
// offset base on. Failures are retried from the registry's offset.
func (u *upload) send(ctx context.Context, src io.ReaderAt, base, end, chunk int64) error {
	for u.off < end {
		if u.off < base {
			return fmt.Errorf("registry %s lost uploaded data before byte %d; cannot resume", u.r.h.addr, base)
		}
		n := end - u.off
		if chunk > 0 {
			n = min(n, chunk)
		}
		err := u.patch(ctx, io.NewSectionReader(src, u.off-base, n), u.off, n)
		if err == nil {
			u.failures = 0
			continue
		}
		if err := u.recover(ctx, err); err != nil {
			return err
		}
	}
	return nil
}

// recover decides whether err is worth a retry and re-reads the registry's
// offset.
func (u *upload) recover(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, errUploadLost) {
		return err
	}
	if !retryableTransfer(err) && !errors.Is(err, errdefs.ErrInvalidArgument) {
		return err
	}
	var re *Error
	if errors.As(err, &re) && re.Status != http.StatusRequestedRangeNotSatisfiable && re.Status < 500 && re.Status != http.StatusTooManyRequests {
		return err
	}
	// Back off and ask the registry for its offset until it answers, as
	// docker does, within the failure budget (each status GET is itself
	// retried by the transport): a registry unreachable for a while (a
	// restart) does not end the push.
	for {
		if u.failures >= u.r.c.opts.MaxRetries {
			return err
		}
		u.failures++
		if err := u.wait(ctx, backoffDelay(u.r.c.opts.RetryBackoff, u.failures-1)); err != nil {
			return err
		}
		u.r.c.opts.Logger.Debug("resuming upload", "location", u.loc.String(), "err", err)
		serr := u.status(ctx)
		if serr == nil || errors.Is(serr, errUploadLost) || ctx.Err() != nil || !retryableTransfer(serr) {
			return serr
		}
		err = serr
	}
}

// wait sleeps d before a retry; with progress it counts the whole seconds
// down as docker does ("Retrying in 3 seconds", ... "Retrying in 1 second").
func (u *upload) wait(ctx context.Context, d time.Duration) error {
	if u.progress == nil {
		return sleepCtx(ctx, d)
	}
	for d > 0 {
		secs := (d + time.Second - 1) / time.Second
		u.progress.emit(u.dgst, RetryingStatus(int(secs)), u.off, u.size)
		step := d - (secs-1)*time.Second
		if err := sleepCtx(ctx, step); err != nil {
			return err
		}
		d -= step
	}
	return nil
}

func (u *upload) newRequest(ctx context.Context, method string, q url.Values, body io.Reader) (*http.Request, error) {
	loc := *u.loc
	if q != nil {
		vals := loc.Query()
		for k, vs := range q {
			vals[k] = vs
		}
		loc.RawQuery = vals.Encode()
	}
	return http.NewRequestWithContext(ctx, method, loc.String(), body)
}

// update takes the next Location and the Range from an upload response.
func (u *upload) update(resp *http.Response, sent int64) {
	if loc, err := location(resp); err == nil {
		u.loc = loc
	}
	if next, ok := parseRange(resp.Header.Get("Range")); ok && next > 1 {
		u.off = next
	} else {
		u.off = sent
	}
}

func (u *upload) patch(ctx context.Context, body *io.SectionReader, off, n int64) error {
	req, err := u.newRequest(ctx, http.MethodPatch, nil, body)
	if err != nil {
		return err
	}
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(body, 0, n)), nil }
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, off+n-1))
	resp, err := u.r.c.do(ctx, u.r.h, req, u.r.pushScope())
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNoContent {
		if resp.StatusCode == http.StatusNotFound {
			resp.Body.Close()
			return errUploadLost
		}
		return responseError(resp, "uploading to "+u.r.h.addr+"/"+u.r.path)
	}
	resp.Body.Close()
	u.update(resp, off+n)
	return nil
}

// status asks the registry how much of the upload it has.
func (u *upload) status(ctx context.Context) error {
	req, err := u.newRequest(ctx, http.MethodGet, nil, nil)
	if err != nil {
		return err
	}
	resp, err := u.r.c.do(ctx, u.r.h, req, u.r.pushScope())
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusOK, http.StatusAccepted:
		resp.Body.Close()
		if loc, err := location(resp); err == nil {
			u.loc = loc
		}
		u.off = 0
		if next, ok := parseRange(resp.Header.Get("Range")); ok && next > 1 {
			u.off = next
		}
		return nil
	case http.StatusNotFound:
		resp.Body.Close()
		return errUploadLost
	}
	return responseError(resp, "upload status")
}

// commit finishes the upload with PUT ?digest=, sending the bytes not yet
// sent ([u.off, size) of src, which holds bytes from base on) as its body.
func (u *upload) commit(ctx context.Context, dgst digest.Digest, src io.ReaderAt, size int64) error {
	return u.commitFrom(ctx, dgst, src, 0, size)
}

func (u *upload) commitFrom(ctx context.Context, dgst digest.Digest, src io.ReaderAt, base, size int64) error {
	for {
		if u.off < base {
			return fmt.Errorf("registry %s lost uploaded data before byte %d; cannot resume", u.r.h.addr, base)
		}
		n := size - u.off
		var body *io.SectionReader
		if n > 0 {
			body = io.NewSectionReader(src, u.off-base, n)
		}
		err := u.put(ctx, dgst, body, u.off, n)
		if err == nil {
			return nil
		}
		if err := u.recover(ctx, err); err != nil {
			return err
		}
	}
}

func (u *upload) put(ctx context.Context, dgst digest.Digest, body *io.SectionReader, off, n int64) error {
	var req *http.Request
	var err error
	q := url.Values{"digest": {dgst.String()}}
	if body == nil {
		req, err = u.newRequest(ctx, http.MethodPut, q, nil)
	} else {
		req, err = u.newRequest(ctx, http.MethodPut, q, body)
		if err == nil {
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(body, 0, n)), nil }
			req.ContentLength = n
			req.Header.Set("Content-Type", "application/octet-stream")
			// Always said, from byte 0 too: a request the transport sends
			// again after the registry kept part of it must be refused
			// (416, and the upload resumes from the registry's offset),
			// not appended after what the first attempt left.
			req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, off+n-1))
		}
	}
	if err != nil {
		return err
	}
	resp, err := u.r.c.do(ctx, u.r.h, req, u.r.pushScope())
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusOK, http.StatusNoContent:
		resp.Body.Close()
		if h := digest.Digest(resp.Header.Get("Docker-Content-Digest")); h != "" && h.Validate() == nil && h.Algorithm() == dgst.Algorithm() && h != dgst {
			return errdefs.DataLossf("pushing blob %s: registry stored digest %s", dgst, h)
		}
		return nil
	case http.StatusNotFound:
		resp.Body.Close()
		return errUploadLost
	}
	return responseError(resp, "committing blob "+dgst.String())
}

// cancel deletes the upload session (best effort).
func (u *upload) cancel(ctx context.Context) {
	req, err := u.newRequest(ctx, http.MethodDelete, nil, nil)
	if err != nil {
		return
	}
	if resp, err := u.r.c.do(ctx, u.r.h, req, u.r.pushScope()); err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
}

// Writer implements content.Ingester: the bytes written are uploaded in
// chunks as they come (one chunk is kept in memory to resume a failed
// chunk); Commit checks size and digest locally before finishing the upload,
// so a mismatch never becomes a blob in the registry.
func (r *Repository) Writer(ctx context.Context, alg digest.Algorithm) (content.Writer, error) {
	if alg == "" {
		alg = digest.Canonical
	}
	if !alg.Available() {
		return nil, errdefs.InvalidArgumentf("unsupported digest algorithm %q", alg)
	}
	return &uploadWriter{ctx: ctx, r: r, dg: alg.Digester()}, nil
}

type uploadWriter struct {
	ctx      context.Context
	r        *Repository
	up       *upload
	buf      []byte
	bufStart int64
	dg       digest.Digester
	n        int64
	closed   bool
	err      error
}

type bytesAt []byte

func (b bytesAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (w *uploadWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("upload writer closed")
	}
	if w.err != nil {
		return 0, w.err
	}
	w.dg.Hash().Write(p)
	w.n += int64(len(p))
	w.buf = append(w.buf, p...)
	chunk := w.r.c.opts.ChunkSize
	for int64(len(w.buf)) >= chunk {
		if err := w.flush(chunk); err != nil {
			w.err = err
			return len(p), err
		}
	}
	return len(p), nil
}

// flush sends the first n buffered bytes.
func (w *uploadWriter) flush(n int64) error {
	if w.up == nil {
		up, err := w.r.startUpload(w.ctx)
		if err != nil {
			return err
		}
		w.up = up
	}
	if err := w.up.send(w.ctx, bytesAt(w.buf), w.bufStart, w.bufStart+n, n); err != nil {
		return err
	}
	w.buf = append(w.buf[:0], w.buf[n:]...)
	w.bufStart += n
	return nil
}

func (w *uploadWriter) Digest() digest.Digest { return w.dg.Digest() }
func (w *uploadWriter) Size() int64           { return w.n }

func (w *uploadWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.up != nil {
		w.up.cancel(context.WithoutCancel(w.ctx))
	}
	w.buf = nil
	return nil
}

func (w *uploadWriter) Commit(ctx context.Context, size int64, expected digest.Digest) (content.Info, error) {
	if w.closed {
		return content.Info{}, errors.New("upload writer already closed")
	}
	if w.err != nil {
		w.Close()
		return content.Info{}, w.err
	}
	got := w.dg.Digest()
	if size >= 0 && size != w.n {
		w.Close()
		return content.Info{}, errdefs.DataLossf("blob %s: size mismatch: expected %d bytes, got %d", orUnknown(expected), size, w.n)
	}
	if expected != "" && expected != got {
		w.Close()
		return content.Info{}, errdefs.DataLossf("blob digest mismatch: expected %s, got %s", expected, got)
	}
	if w.up == nil {
		up, err := w.r.startUpload(ctx)
		if err != nil {
			w.closed = true
			return content.Info{}, err
		}
		w.up = up
	}
	w.up.failures = 0
	if err := w.up.commitFrom(ctx, got, bytesAt(w.buf), w.bufStart, w.n); err != nil {
		if errors.Is(err, errUploadLost) {
			if ok, _ := w.r.Exists(ctx, got); ok {
				w.closed, w.buf = true, nil
				return content.Info{Digest: got, Size: w.n}, nil
			}
		}
		w.Close()
		return content.Info{}, fmt.Errorf("pushing blob %s: %w", got, err)
	}
	w.closed = true
	w.buf = nil
	return content.Info{Digest: got, Size: w.n}, nil
}

func orUnknown(d digest.Digest) string {
	if d == "" {
		return "(digest not yet known)"
	}
	return d.String()
}
