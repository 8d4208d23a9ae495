package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/opencontainers/go-digest"
)

// uploadStart serves POST /v2/<name>/blobs/uploads/: monolithic upload
// (?digest=), cross-repository and anonymous mount (?mount=[&from=]), or a
// new session (optionally ?digest-algorithm=).
func (s *Server) uploadStart(w http.ResponseWriter, r *http.Request, req *request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, "POST")
		return
	}
	q := r.URL.Query()
	ctx := r.Context()
	if m := q.Get("mount"); m != "" {
		d, err := storage.ParseDigest(m)
		if err != nil {
			writeError(w, r, errDigestInvalid, err)
			return
		}
		if s.tryMount(r, req, d, q.Get("from")) {
			blobCreated(w, req.name, d)
			return
		}
		// Fall through: an upload session, as if no mount was asked for.
	}
	if ds := q.Get("digest"); ds != "" {
		d, err := storage.ParseDigest(ds)
		if err != nil {
			writeError(w, r, errDigestInvalid, err)
			return
		}
		if _, err := s.store.PutBlob(ctx, req.name, r.Body, r.ContentLength, d); err != nil {
			writeError(w, r, uploadErr(err), err)
			return
		}
		blobCreated(w, req.name, d)
		return
	}
	alg := digest.Algorithm(q.Get("digest-algorithm"))
	u, err := s.store.NewUpload(ctx, req.name, alg, clientOf(r, req))
	if err != nil {
		writeError(w, r, classify(err, errNameUnknown, errDigestInvalid), err)
		return
	}
	uploadAccepted(w, u, http.StatusAccepted)
}

// clientOf names the client an upload session belongs to (for the
// per-client cap): the authenticated user, else the remote IP address.
func clientOf(r *http.Request, req *request) string {
	if req.user != "" {
		return "user:" + req.user
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}

// tryMount links an existing blob into req.name when the caller may read
// the source repository (or, with no source, when the blob exists anywhere).
// Refusals are silent so that nothing leaks about unreadable repositories.
func (s *Server) tryMount(r *http.Request, req *request, d digest.Digest, from string) bool {
	ctx := r.Context()
	if from != "" {
		if !storage.ValidName(from) || !s.canRead(req, from) {
			return false
		}
		if _, err := s.store.StatBlob(ctx, from, d); err != nil {
			return false
		}
	} else if !s.store.BlobExists(ctx, d) {
		return false
	} else if s.auth != nil && len(s.rules) > 0 && !s.readableSomewhere(r, req, d) {
		// With access rules, "exists anywhere" must not reach into
		// repositories the caller cannot read.
		return false
	}
	return s.store.LinkBlob(ctx, req.name, d) == nil
}

// readableSomewhere reports whether d is in a repository the caller may read.
func (s *Server) readableSomewhere(r *http.Request, req *request, d digest.Digest) bool {
	repos, err := s.store.Catalog(r.Context())
	if err != nil {
		return false
	}
	for _, repo := range repos {
		if s.allowed(req.user, repo, false) {
			if _, err := s.store.StatBlob(r.Context(), repo, d); err == nil {
				return true
			}
		}
	}
	return false
}

func blobCreated(w http.ResponseWriter, name string, d digest.Digest) {
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/blobs/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

func uploadLocation(u *storage.Upload) string {
	return "/v2/" + u.Repository() + "/blobs/uploads/" + u.ID()
}

func rangeHeader(off int64) string {
	end := off - 1
	if end < 0 {
		end = 0
	}
	return "0-" + strconv.FormatInt(end, 10)
}

func uploadAccepted(w http.ResponseWriter, u *storage.Upload, status int) {
	h := w.Header()
	h.Set("Location", uploadLocation(u))
	h.Set("Docker-Upload-UUID", u.ID())
	h.Set("Range", rangeHeader(u.Offset()))
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
}

func uploadErr(err error) errKind {
	var invalid errKind = errDigestInvalid
	if errors.Is(err, errdefs.ErrDataLoss) && strings.Contains(err.Error(), "size mismatch") {
		return errSizeInvalid
	}
	return classify(err, errBlobUploadUnknown, invalid)
}

// parseContentRange reads "start-end" (a "bytes " or "bytes=" prefix is
// tolerated); it returns start and length.
func parseContentRange(v string) (int64, int64, error) {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "bytes=")
	v = strings.TrimPrefix(v, "bytes ")
	if i := strings.IndexByte(v, '/'); i >= 0 {
		v = v[:i]
	}
	a, b, ok := strings.Cut(v, "-")
	if !ok {
		return 0, 0, fmt.Errorf("invalid Content-Range %q", v)
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start-1 {
		return 0, 0, fmt.Errorf("invalid Content-Range %q", v)
	}
	return start, end - start + 1, nil
}

// upload serves GET (status), PATCH (chunk), PUT (finish) and DELETE
// (cancel) on /v2/<name>/blobs/uploads/<id>.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	u, err := s.store.GetUpload(ctx, req.name, req.arg)
	if err != nil {
		writeError(w, r, classify(err, errBlobUploadUnknown, errBlobUploadInvalid), err)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		uploadAccepted(w, u, http.StatusNoContent)
	case http.MethodDelete:
		if err := u.Cancel(ctx); err != nil {
			writeError(w, r, classify(err, errBlobUploadUnknown, errBlobUploadInvalid), err)
			return
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch, http.MethodPut:
		var d digest.Digest
		if r.Method == http.MethodPut {
			d, err = storage.ParseDigest(r.URL.Query().Get("digest"))
			if err != nil {
				writeError(w, r, errDigestInvalid, err)
				return
			}
		}
		start, size := int64(-1), r.ContentLength
		if cr := r.Header.Get("Content-Range"); cr != "" {
			var n int64
			start, n, err = parseContentRange(cr)
			if err != nil {
				writeError(w, r, errRangeInvalid, err)
				return
			}
			if size >= 0 && n != size {
				writeError(w, r, errSizeInvalid, fmt.Sprintf("Content-Range announces %d bytes but Content-Length is %d", n, size))
				return
			}
			size = n
		}
		if r.Method == http.MethodPatch || size != 0 {
			if _, err := u.Append(ctx, r.Body, start, size); err != nil {
				kind := classify(err, errBlobUploadUnknown, errBlobUploadInvalid)
				if errors.Is(err, errdefs.ErrDataLoss) {
					kind = errSizeInvalid
				}
				if kind == errRangeInvalid {
					h := w.Header()
					h.Set("Location", uploadLocation(u))
					h.Set("Range", rangeHeader(u.Offset()))
					h.Set("Docker-Upload-UUID", u.ID())
				}
				writeError(w, r, kind, err)
				return
			}
		}
		if r.Method == http.MethodPatch {
			uploadAccepted(w, u, http.StatusAccepted)
			return
		}
		if _, err := u.Commit(ctx, d); err != nil {
			writeError(w, r, classify(err, errBlobUploadUnknown, errDigestInvalid), err)
			return
		}
		blobCreated(w, req.name, d)
	default:
		methodNotAllowed(w, r, "GET, PATCH, PUT, DELETE")
	}
}
