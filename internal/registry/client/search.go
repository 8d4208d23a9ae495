package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
)

// dockerHubIndex serves Docker Hub's search API.
const dockerHubIndex = "index.docker.io"

// SearchResult is one repository found by a search, in the shape of Docker
// Hub's /v1/search answer.
type SearchResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	StarCount   int    `json:"star_count"`
	IsOfficial  bool   `json:"is_official"`
	IsAutomated bool   `json:"is_automated"`
}

// SearchFilter keeps results with at least Stars stars and, when set, the
// given official/automated flags.
type SearchFilter struct {
	Stars     int
	Official  *bool
	Automated *bool
}

// ParseSearchFilters parses docker's search filters: stars=N,
// is-official=BOOL, is-automated=BOOL.
func ParseSearchFilters(filters []string) (SearchFilter, error) {
	var f SearchFilter
	for _, s := range filters {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return f, errdefs.InvalidArgumentf("bad format of filter (expected name=value)")
		}
		switch strings.ToLower(k) {
		case "stars":
			n, err := strconv.Atoi(v)
			if err != nil {
				return f, errdefs.InvalidArgumentf("invalid filter 'stars=%s'", v)
			}
			f.Stars = max(f.Stars, n)
		case "is-official", "is-automated":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return f, errdefs.InvalidArgumentf("invalid filter '%s=%s'", k, v)
			}
			if strings.ToLower(k) == "is-official" {
				f.Official = &b
			} else {
				f.Automated = &b
			}
		default:
			return f, errdefs.InvalidArgumentf("invalid filter '%s'", k)
		}
	}
	return f, nil
}

func (f SearchFilter) keep(r SearchResult) bool {
	if r.StarCount < f.Stars {
		return false
	}
	if f.Official != nil && r.IsOfficial != *f.Official {
		return false
	}
	if f.Automated != nil && r.IsAutomated != *f.Automated {
		return false
	}
	return true
}

// SplitSearchTerm splits "[REGISTRY/]TERM" as docker does: the first part
// is a registry when it has a dot or a colon or is "localhost".
func SplitSearchTerm(term string) (registry, query string) {
	first, rest, ok := strings.Cut(term, "/")
	if !ok || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return DockerHub, term
	}
	return first, rest
}

// Search asks a registry's /v1/search for term ("[REGISTRY/]TERM", Docker
// Hub when no registry is named) and returns at most limit results (1..100)
// passing f, sorted by stars (most first).
func (c *Client) Search(ctx context.Context, term string, limit int, f SearchFilter) ([]SearchResult, error) {
	if limit < 1 || limit > 100 {
		return nil, errdefs.InvalidArgumentf("limit %d is outside the range of [1, 100]", limit)
	}
	reg, q := SplitSearchTerm(term)
	if reg == "index.docker.io" {
		reg = DockerHub
	}
	if q == "" {
		return nil, errdefs.InvalidArgumentf("search term is empty")
	}
	var h *host
	var base *url.URL
	if reg == DockerHub {
		h = c.host(DockerHub, dockerHubIndex, "https", DockerHub)
		base = &url.URL{Scheme: "https", Host: dockerHubIndex}
	} else {
		h = c.registry(reg)
		var err error
		if base, err = c.ensure(ctx, h); err != nil {
			return nil, err
		}
	}
	u := endpoint(base, "/v1/search", url.Values{"q": {q}, "n": {strconv.Itoa(limit)}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	scopes := []auth.Scope{{Type: "registry", Name: "catalog", Actions: []string{"search"}}}
	resp, err := c.do(ctx, h, req, scopes)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, responseError(resp, fmt.Sprintf("searching %s", reg))
	}
	defer resp.Body.Close()
	var v struct {
		Results []SearchResult `json:"results"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 16<<20)).Decode(&v); err != nil {
		return nil, fmt.Errorf("searching %s: invalid answer: %v", reg, err)
	}
	out := v.Results[:0]
	for _, r := range v.Results {
		if f.keep(r) {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StarCount > out[j].StarCount })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
