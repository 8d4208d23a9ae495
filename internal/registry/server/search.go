package server

import (
	"net/http"
	"strconv"
	"strings"
)

// searchResult is one entry of Docker Hub's v1 search response.
type searchResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	StarCount   int    `json:"star_count"`
	IsOfficial  bool   `json:"is_official"`
	IsAutomated bool   `json:"is_automated"`
}

type searchResponse struct {
	NumResults int            `json:"num_results"`
	NumPages   int            `json:"num_pages"`
	Page       int            `json:"page"`
	PageSize   int            `json:"page_size"`
	Query      string         `json:"query"`
	Results    []searchResult `json:"results"`
}

// search serves GET /v1/search?q=&n=&page= in Docker Hub's shape. A
// repository matches when every word of q occurs (case-insensitively) in its
// name, its description or one of its tags; results are ordered by stars, then name.
func (s *Server) search(w http.ResponseWriter, r *http.Request, req *request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET, HEAD")
		return
	}
	q := r.URL.Query()
	query := q.Get("q")
	n := atoiDefault(q.Get("n"), 25)
	if n < 1 {
		n = 25
	}
	n = min(n, 100)
	page := max(atoiDefault(q.Get("page"), 1), 1)
	words := strings.Fields(strings.ToLower(query))
	repos, err := s.store.Catalog(r.Context())
	if err != nil {
		writeError(w, r, errUnknown, err)
		return
	}
	results := []searchResult{}
	for _, repo := range repos {
		if !s.allowed(req.user, repo, false) {
			continue
		}
		info := s.store.RepositoryInfo(r.Context(), repo)
		tags, _ := s.store.Tags(r.Context(), repo)
		hay := strings.ToLower(repo + " " + info.Description + " " + strings.Join(tags, " "))
		match := true
		for _, wd := range words {
			if !strings.Contains(hay, wd) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		results = append(results, searchResult{
			Name: repo, Description: info.Description, StarCount: info.Stars,
			IsOfficial: strings.HasPrefix(repo, "library/"),
		})
	}
	sortResults(results)
	total := len(results)
	pages := (total + n - 1) / n
	from := min((page-1)*n, total)
	to := min(from+n, total)
	writeJSON(w, r, "application/json", searchResponse{
		NumResults: total, NumPages: pages, Page: page, PageSize: n, Query: query, Results: results[from:to],
	})
}

func sortResults(rs []searchResult) {
	// insertion-stable sort by stars desc, name asc (lists are small)
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && less(rs[j], rs[j-1]); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

func less(a, b searchResult) bool {
	if a.StarCount != b.StarCount {
		return a.StarCount > b.StarCount
	}
	return a.Name < b.Name
}

func atoiDefault(s string, def int) int {
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return v
}

// star serves PUT (star) and DELETE (unstar) /v1/repositories/<name>/star
// for the authenticated user ("anonymous" when auth is off).
func (s *Server) star(w http.ResponseWriter, r *http.Request, req *request) {
	user := req.user
	if user == "" {
		user = "anonymous"
	}
	var on bool
	switch r.Method {
	case http.MethodPut:
		on = true
	case http.MethodDelete:
	case http.MethodGet, http.MethodHead:
		info := s.store.RepositoryInfo(r.Context(), req.name)
		writeJSON(w, r, "application/json", map[string]any{"name": req.name, "star_count": info.Stars})
		return
	default:
		methodNotAllowed(w, r, "GET, PUT, DELETE")
		return
	}
	if err := s.store.Star(r.Context(), req.name, user, on); err != nil {
		writeError(w, r, classify(err, errNameUnknown, errNameInvalid), err)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}
