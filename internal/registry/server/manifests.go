package server

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/server/storage"
)

// manifest serves GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>.
func (s *Server) manifest(w http.ResponseWriter, r *http.Request, req *request) {
	ref := req.arg
	byDigest := strings.Contains(ref, ":")
	if byDigest {
		if _, err := storage.ParseDigest(ref); err != nil {
			writeError(w, r, errDigestInvalid, err)
			return
		}
	} else if !storage.ValidTag(ref) {
		writeError(w, r, errTagInvalid, "invalid tag: "+ref)
		return
	}
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		var m *storage.Manifest
		var err error
		if s.proxy != nil && s.proxy.Serves(req.name) {
			m, err = s.proxy.manifest(ctx, s.store, req.name, ref)
			if err != nil {
				writeError(w, r, classifyUpstream(err, errManifestUnknown), err)
				return
			}
		} else if m, err = s.store.GetManifest(ctx, req.name, ref); err != nil {
			writeError(w, r, classify(err, errManifestUnknown, errManifestInvalid), err)
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{m.MediaType}
		h["Docker-Content-Digest"] = []string{m.Digest.String()}
		h["Etag"] = []string{`"` + m.Digest.String() + `"`}
		h["Content-Length"] = []string{strconv.Itoa(len(m.Body))}
		if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, m.Digest.String()) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(m.Body)
		}
	case http.MethodPut:
		s.putManifest(w, r, req)
	case http.MethodDelete:
		var err error
		if byDigest {
			d, _ := storage.ParseDigest(ref)
			err = s.store.DeleteManifest(ctx, req.name, d)
		} else {
			err = s.store.DeleteTag(ctx, req.name, ref)
		}
		if err != nil {
			writeError(w, r, classify(err, errManifestUnknown, errManifestInvalid), err)
			return
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
	default:
		methodNotAllowed(w, r, "GET, HEAD, PUT, DELETE")
	}
}

func (s *Server) putManifest(w http.ResponseWriter, r *http.Request, req *request) {
	if r.ContentLength > storage.MaxManifestSize {
		writeError(w, r, errManifestTooLarge, "manifest is "+strconv.FormatInt(r.ContentLength, 10)+" bytes, the limit is "+strconv.Itoa(storage.MaxManifestSize))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, storage.MaxManifestSize+1))
	if err != nil {
		writeError(w, r, errSizeInvalid, err)
		return
	}
	if len(body) > storage.MaxManifestSize {
		writeError(w, r, errManifestTooLarge, "manifest exceeds the limit of "+strconv.Itoa(storage.MaxManifestSize)+" bytes")
		return
	}
	var extra []string
	if strings.Contains(req.arg, ":") {
		extra = r.URL.Query()["tag"]
		for _, t := range extra {
			if !storage.ValidTag(t) {
				writeError(w, r, errTagInvalid, "invalid tag: "+t)
				return
			}
		}
	}
	res, err := s.store.PutManifest(r.Context(), req.name, req.arg, r.Header.Get("Content-Type"), body, extra, storage.PutOptions{AllowSparse: s.allowSparse})
	if err != nil {
		kind := classify(err, errManifestBlobUnknown, errManifestInvalid)
		if errors.Is(err, errdefs.ErrDataLoss) {
			kind = errDigestInvalid
		}
		writeError(w, r, kind, err)
		return
	}
	h := w.Header()
	h.Set("Location", "/v2/"+req.name+"/manifests/"+res.Digest.String())
	h.Set("Docker-Content-Digest", res.Digest.String())
	if res.Subject != nil {
		h.Set("OCI-Subject", res.Subject.Digest.String())
	}
	if len(extra) > 0 {
		h.Set("OCI-Tag", strings.Join(extra, ", "))
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}
