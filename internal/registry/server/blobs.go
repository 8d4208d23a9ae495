package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
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
		f, info, err := s.store.OpenBlob(r.Context(), req.name, d)
		if err != nil {
			writeError(w, r, classify(err, errBlobUnknown, errDigestInvalid), err)
			return
		}
		defer f.Close()
		if r.Method == http.MethodHead {
			// A client probing before a push: keep the blob out of GC's way.
			s.store.TouchBlob(r.Context(), d, s.touchAfter())
		}
		h := w.Header()
		h.Set("Docker-Content-Digest", d.String())
		h.Set("Content-Type", "application/octet-stream")
		h.Set("ETag", `"`+d.String()+`"`)
		h.Set("Cache-Control", "max-age=31536000")
		h.Set("Accept-Ranges", "bytes")
		if r.Method == http.MethodHead {
			h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
			w.WriteHeader(http.StatusOK)
			return
		}
		// ServeContent handles Range/If-Range and hands the *os.File to
		// the connection's ReadFrom (sendfile).
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
