package server

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/opencontainers/go-digest"
)

// blob serves GET/HEAD (with Range) and DELETE /v2/<name>/blobs/<digest>.
func (s *Server) blob(w http.ResponseWriter, r *http.Request, req *request) {
	d, err := storage.ParseDigest(req.arg)
	if err != nil {
		writeError(w, r, errDigestInvalid, err)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if s.proxy != nil && s.proxy.Serves(req.name) && !s.proxyBlob(w, r, req.name, d) {
			return
		}
		if r.Method == http.MethodGet {
			u, err := s.store.BlobURL(r.Context(), req.name, d)
			if err != nil {
				writeError(w, r, classify(err, errBlobUnknown, errDigestInvalid), err)
				return
			}
			if u != "" {
				w.Header().Set("Docker-Content-Digest", d.String())
				http.Redirect(w, r, u, http.StatusTemporaryRedirect)
				return
			}
		}
		if r.Method == http.MethodHead {
			info, err := s.store.StatBlob(r.Context(), req.name, d)
			if err != nil {
				writeError(w, r, classify(err, errBlobUnknown, errDigestInvalid), err)
				return
			}
			// A client probing before a push: keep the blob out of GC's way.
			s.store.TouchBlob(r.Context(), d, s.touchAfter())
			blobHeaders(w.Header(), d)
			w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
			w.WriteHeader(http.StatusOK)
			return
		}
		f, err := s.store.OpenBlob(r.Context(), req.name, d)
		if err != nil {
			writeError(w, r, classify(err, errBlobUnknown, errDigestInvalid), err)
			return
		}
		defer f.Close()
		blobHeaders(w.Header(), d)
		// ServeContent handles Range/If-Range and copies the body with
		// io.CopyN, which ends in w's ReadFrom: on a filesystem f is the
		// bare *os.File, which the connection's ReadFrom sends with
		// sendfile(2) (respWriter.ReadFrom delegates; TestBlobGetIsSendfile);
		// an S3 reader copies through its WriteRangeTo (several ranged
		// GETs at once).
		if rw, ok := f.(storage.RangeWriter); ok {
			w = rangeBody{w, rw}
		}
		http.ServeContent(w, r, "", time.Time{}, f)
	case http.MethodDelete:
		if err := s.store.UnlinkBlob(r.Context(), req.name, d); err != nil {
			writeError(w, r, classify(err, errBlobUnknown, errDigestInvalid), err)
			return
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
	default:
		methodNotAllowed(w, r, "GET, HEAD, DELETE")
	}
}

// blobHeaders sets the headers of a blob GET or HEAD answer but its length.
func blobHeaders(h http.Header, d digest.Digest) {
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Type", "application/octet-stream")
	h.Set("ETag", `"`+d.String()+`"`)
	h.Set("Cache-Control", "max-age=31536000")
	h.Set("Accept-Ranges", "bytes")
}

// rangeBody hands ServeContent's copy of a blob (io.CopyN: a ReadFrom of
// an *io.LimitedReader of the blob) to the blob reader's WriteRangeTo;
// anything else (a multipart/byteranges body) is copied as usual.
type rangeBody struct {
	http.ResponseWriter
	blob storage.RangeWriter
}

func (b rangeBody) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok && any(lr.R) == any(b.blob) {
		n, err := b.blob.WriteRangeTo(b.ResponseWriter, lr.N)
		lr.N -= n
		return n, err
	}
	return io.Copy(b.ResponseWriter, src)
}

func (b rangeBody) Unwrap() http.ResponseWriter { return b.ResponseWriter }

// proxyBlob makes a pull-through cache hold blob d of repo before it is
// served, fetching it from the upstream (a HEAD for a blob not cached yet
// is answered from the upstream's HEAD). It reports whether the caller
// goes on to serve the blob from the store.
func (s *Server) proxyBlob(w http.ResponseWriter, r *http.Request, repo string, d digest.Digest) bool {
	ctx := r.Context()
	_, err := s.store.StatBlob(ctx, repo, d)
	if err == nil || !errdefs.IsNotFound(err) {
		return true
	}
	if r.Method == http.MethodHead && !s.store.BlobExists(ctx, d) {
		size, err := s.proxy.blobSize(ctx, repo, d)
		if err != nil {
			writeError(w, r, classifyUpstream(err, errBlobUnknown), err)
			return false
		}
		h := w.Header()
		h.Set("Docker-Content-Digest", d.String())
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		return false
	}
	if err := s.proxy.blob(ctx, s.store, repo, d); err != nil {
		writeError(w, r, classifyUpstream(err, errBlobUnknown), err)
		return false
	}
	return true
}
