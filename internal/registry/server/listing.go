package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// paginate applies ?n=&last= to a sorted list. It returns the page, whether
// more follow, and ok=false (after answering 400) for a bad n.
func (s *Server) paginate(w http.ResponseWriter, r *http.Request, all []string) ([]string, int, bool, bool) {
	q := r.URL.Query()
	n := -1
	if v := q.Get("n"); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil || x < 0 {
			writeError(w, r, errPaginationInvalid, "n must be a non-negative integer, got "+strconv.Quote(v))
			return nil, 0, false, false
		}
		n = min(x, s.maxCatalog)
	}
	if last := q.Get("last"); last != "" {
		i := sort.SearchStrings(all, last)
		if i < len(all) && all[i] == last {
			i++
		}
		all = all[i:]
	}
	if n == 0 {
		return []string{}, 0, false, true
	}
	if n < 0 || n >= len(all) {
		return all, n, false, true
	}
	return all[:n], n, true, true
}

func writeJSON(w http.ResponseWriter, r *http.Request, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, r, errUnknown, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

func nextLink(path string, n int, last string) string {
	v := url.Values{}
	v.Set("n", strconv.Itoa(n))
	v.Set("last", last)
	return "<" + path + "?" + v.Encode() + `>; rel="next"`
}

// tagsList serves GET /v2/<name>/tags/list[?n=&last=].
func (s *Server) tagsList(w http.ResponseWriter, r *http.Request, req *request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET, HEAD")
		return
	}
	tags, err := s.store.Tags(r.Context(), req.name)
	if err != nil {
		writeError(w, r, classify(err, errNameUnknown, errNameInvalid), err)
		return
	}
	page, n, more, ok := s.paginate(w, r, tags)
	if !ok {
		return
	}
	if more {
		w.Header().Set("Link", nextLink("/v2/"+req.name+"/tags/list", n, page[len(page)-1]))
	}
	writeJSON(w, r, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{req.name, page})
}

// catalog serves GET /v2/_catalog[?n=&last=], listing the repositories the
// caller may read. n is capped at 1000.
func (s *Server) catalog(w http.ResponseWriter, r *http.Request, req *request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET, HEAD")
		return
	}
	if req.claims != nil && !req.claims.allows("registry", "catalog", "*") {
		s.challengeBearer(w, r, scopeFor(r, req), "insufficient_scope")
		return
	}
	repos, err := s.store.Catalog(r.Context())
	if err != nil {
		writeError(w, r, errUnknown, err)
		return
	}
	visible := []string{}
	for _, repo := range repos {
		if s.allowed(req.user, repo, false) {
			visible = append(visible, repo)
		}
	}
	if r.URL.Query().Get("n") == "" && len(visible) > s.maxCatalog {
		q := r.URL.Query()
		q.Set("n", strconv.Itoa(s.maxCatalog))
		r.URL.RawQuery = q.Encode()
	}
	page, n, more, ok := s.paginate(w, r, visible)
	if !ok {
		return
	}
	if more {
		w.Header().Set("Link", nextLink("/v2/_catalog", n, page[len(page)-1]))
	}
	writeJSON(w, r, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{page})
}

// referrers serves GET /v2/<name>/referrers/<digest>[?artifactType=].
func (s *Server) referrers(w http.ResponseWriter, r *http.Request, req *request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET, HEAD")
		return
	}
	d, err := storage.ParseDigest(req.arg)
	if err != nil {
		writeError(w, r, errDigestInvalid, err)
		return
	}
	at := r.URL.Query().Get("artifactType")
	descs, err := s.store.Referrers(r.Context(), req.name, d, at)
	if err != nil {
		writeError(w, r, classify(err, errNameUnknown, errNameInvalid), err)
		return
	}
	if at != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	writeJSON(w, r, ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specsVersioned,
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: descs,
	})
}

var specsVersioned = specs.Versioned{SchemaVersion: 2}
