package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/opencontainers/go-digest"
)

// fakeReg is an in-memory registry with fault injection, for tests.
type fakeReg struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	blobs     map[digest.Digest][]byte
	repoBlobs map[string]map[digest.Digest]bool
	manifests map[string]map[string]fakeManifest
	uploads   map[string][]byte
	nextID    int

	authMode   string // "", "basic", "bearer"
	user, pass string
	tokenCalls []string // scopes asked

	// fault injection
	cutBlobAt      int64 // GETs of blobs cut the connection after this many bytes
	cutsLeft       int
	corrupt        bool   // blob GETs flip a byte
	redirectBlobs  string // base URL blob GETs redirect to
	failPatches    int    // PATCHes answered 500 after keeping half the chunk
	ignoreRange    bool
	manifestDigest string // wrong Docker-Content-Digest header
	noHeadDigest   bool
	search         []SearchResult

	log []string // "METHOD path auth"
}

type fakeManifest struct {
	mt   string
	data []byte
}

func newFakeReg(t *testing.T) *fakeReg {
	f := &fakeReg{t: t, blobs: map[digest.Digest][]byte{}, repoBlobs: map[string]map[digest.Digest]bool{},
		manifests: map[string]map[string]fakeManifest{}, uploads: map[string][]byte{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeReg) host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

// client returns a Client for f with fast retries.
func (f *fakeReg) client(creds auth.Credentials) *Client {
	return New(Options{
		Credentials:  func(context.Context, string) (auth.Credentials, error) { return creds, nil },
		RetryBackoff: time.Millisecond,
		ChunkSize:    1 << 10,
		CertsDirs:    []string{},
	})
}

func (f *fakeReg) repo(c *Client, name string) *Repository {
	n, err := reference.ParseNamed(f.host() + "/" + name)
	if err != nil {
		f.t.Fatal(err)
	}
	return c.Repository(n)
}

func (f *fakeReg) addBlob(repo string, b []byte) digest.Digest {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := digest.FromBytes(b)
	f.blobs[d] = b
	if f.repoBlobs[repo] == nil {
		f.repoBlobs[repo] = map[digest.Digest]bool{}
	}
	f.repoBlobs[repo][d] = true
	return d
}

func (f *fakeReg) addManifest(repo, tag, mt string, b []byte) digest.Digest {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := digest.FromBytes(b)
	if f.manifests[repo] == nil {
		f.manifests[repo] = map[string]fakeManifest{}
	}
	f.manifests[repo][d.String()] = fakeManifest{mt, b}
	if tag != "" {
		f.manifests[repo][tag] = fakeManifest{mt, b}
	}
	return d
}

func (f *fakeReg) logged() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

// authorized checks the request's credentials for the scope it needs.
func (f *fakeReg) authorized(w http.ResponseWriter, r *http.Request, scope string) bool {
	switch f.authMode {
	case "basic":
		u, p, ok := r.BasicAuth()
		if ok && u == f.user && p == f.pass {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
		writeErr(w, 401, "UNAUTHORIZED", "authentication required")
		return false
	case "bearer":
		h := r.Header.Get("Authorization")
		if tok, ok := strings.CutPrefix(h, "Bearer T|"); ok && (scope == "" || tokenAllows(tok, scope)) {
			return true
		}
		v := `Bearer realm="` + f.srv.URL + `/token",service="fake"`
		if scope != "" {
			v += `,scope="` + scope + `"`
		}
		w.Header().Set("WWW-Authenticate", v)
		writeErr(w, 401, "UNAUTHORIZED", "authentication required")
		return false
	}
	return true
}

// tokenAllows: every action of scope is granted by some scope in tok.
func tokenAllows(tok, scope string) bool {
	want, _ := auth.ParseScope(scope)
	for _, s := range strings.Split(tok, " ") {
		got, ok := auth.ParseScope(s)
		if !ok || got.Name != want.Name {
			continue
		}
		all := true
		for _, a := range want.Actions {
			has := false
			for _, g := range got.Actions {
				has = has || g == a
			}
			all = all && has
		}
		if all {
			return true
		}
	}
	return false
}

func (f *fakeReg) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.log = append(f.log, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
	f.mu.Unlock()
	p := r.URL.Path
	switch {
	case p == "/token":
		u, pw, ok := r.BasicAuth()
		if f.user != "" && ok && (u != f.user || pw != f.pass) {
			w.WriteHeader(401)
			w.Write([]byte(`{"details":"incorrect username or password"}`))
			return
		}
		scopes := r.URL.Query()["scope"]
		f.mu.Lock()
		f.tokenCalls = append(f.tokenCalls, strings.Join(scopes, " "))
		f.mu.Unlock()
		if r.Method == http.MethodPost { // OAuth2 refresh-token grant
			r.ParseForm()
			if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != "REFRESH-"+f.user {
				w.WriteHeader(401)
				w.Write([]byte(`{"error":"invalid_grant"}`))
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"access_token": "T|" + r.PostForm.Get("scope"), "expires_in": 300})
			return
		}
		if f.user != "" && !ok { // anonymous gets nothing
			scopes = nil
		}
		resp := map[string]any{"token": "T|" + strings.Join(scopes, " "), "expires_in": 300}
		if r.URL.Query().Get("offline_token") == "true" && ok {
			resp["refresh_token"] = "REFRESH-" + u
		}
		json.NewEncoder(w).Encode(resp)
		return
	case p == "/v2/" || p == "/v2":
		if !f.authorized(w, r, "") {
			return
		}
		w.WriteHeader(200)
		return
	case p == "/v1/search":
		if !f.authorized(w, r, "") {
			return
		}
		q := r.URL.Query().Get("q")
		var res []SearchResult
		for _, s := range f.search {
			if strings.Contains(s.Name, q) {
				res = append(res, s)
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"num_results": len(res), "query": q, "results": res})
		return
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	for _, sep := range []string{"/blobs/uploads/", "/blobs/", "/manifests/", "/tags/list"} {
		if i := strings.LastIndex(rest, sep); i > 0 {
			name, arg := rest[:i], rest[i+len(sep):]
			action := "pull"
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				action = "pull,push"
			}
			if !f.authorized(w, r, "repository:"+name+":"+action) {
				return
			}
			switch sep {
			case "/blobs/uploads/":
				f.serveUpload(w, r, name, arg)
			case "/blobs/":
				f.serveBlob(w, r, name, digest.Digest(arg))
			case "/manifests/":
				f.serveManifest(w, r, name, arg)
			default:
				f.serveTags(w, r, name)
			}
			return
		}
	}
	http.NotFound(w, r)
}

func (f *fakeReg) serveBlob(w http.ResponseWriter, r *http.Request, name string, d digest.Digest) {
	f.mu.Lock()
	b, ok := f.blobs[d]
	ok = ok && f.repoBlobs[name][d]
	cut := f.cutBlobAt
	cutNow := f.cutsLeft > 0 && r.Method == http.MethodGet
	if cutNow {
		f.cutsLeft--
	}
	corrupt, redirect, ignoreRange := f.corrupt, f.redirectBlobs, f.ignoreRange
	f.mu.Unlock()
	if !ok {
		writeErr(w, 404, "BLOB_UNKNOWN", "blob unknown to registry")
		return
	}
	if redirect != "" && r.Method == http.MethodGet {
		http.Redirect(w, r, redirect+"/storage/"+d.Encoded(), http.StatusTemporaryRedirect)
		return
	}
	if corrupt {
		b = append([]byte(nil), b...)
		b[len(b)/2] ^= 0xff
	}
	w.Header().Set("Docker-Content-Digest", d.String())
	start := int64(0)
	if rg := r.Header.Get("Range"); rg != "" && !ignoreRange {
		s, e, _ := strings.Cut(strings.TrimPrefix(rg, "bytes="), "-")
		start, _ = strconv.ParseInt(s, 10, 64)
		end := int64(len(b)) - 1
		if e != "" {
			end, _ = strconv.ParseInt(e, 10, 64)
		}
		if start >= int64(len(b)) {
			w.WriteHeader(416)
			return
		}
		end = min(end, int64(len(b))-1)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, len(b)))
		w.Header().Set("Content-Length", strconv.FormatInt(end-start+1, 10))
		w.WriteHeader(206)
		if r.Method == http.MethodGet {
			f.write(w, b[start:end+1], cutNow, cut)
		}
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(200)
	if r.Method == http.MethodGet {
		f.write(w, b, cutNow, cut)
	}
}

// write sends b, or only its first cut bytes and then drops the connection.
func (f *fakeReg) write(w http.ResponseWriter, b []byte, cutNow bool, cut int64) {
	if cutNow && cut < 0 { // headers only, then drop
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	if !cutNow || cut == 0 || cut >= int64(len(b)) {
		w.Write(b)
		return
	}
	w.Write(b[:cut])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

func (f *fakeReg) serveUpload(w http.ResponseWriter, r *http.Request, name, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	base := "/v2/" + name + "/blobs/uploads/"
	if id == "" {
		if r.Method != http.MethodPost {
			writeErr(w, 405, "UNSUPPORTED", "")
			return
		}
		q := r.URL.Query()
		if m := digest.Digest(q.Get("mount")); m != "" {
			from := q.Get("from")
			okFrom := f.authMode != "bearer" || tokenAllows(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer T|"), "repository:"+from+":pull")
			if okFrom && f.repoBlobs[from][m] {
				if f.repoBlobs[name] == nil {
					f.repoBlobs[name] = map[digest.Digest]bool{}
				}
				f.repoBlobs[name][m] = true
				w.Header().Set("Location", "/v2/"+name+"/blobs/"+m.String())
				w.WriteHeader(201)
				return
			}
		}
		f.nextID++
		uid := "u" + strconv.Itoa(f.nextID)
		f.uploads[uid] = nil
		w.Header().Set("Location", base+uid+"?_state=x")
		w.Header().Set("Range", "0-0")
		w.WriteHeader(202)
		return
	}
	data, ok := f.uploads[id]
	if !ok {
		writeErr(w, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
		return
	}
	setStatus := func(code int) {
		w.Header().Set("Location", base+id+"?_state=y")
		end := len(f.uploads[id]) - 1
		if end < 0 {
			end = 0
		}
		w.Header().Set("Range", fmt.Sprintf("0-%d", end))
		w.WriteHeader(code)
	}
	switch r.Method {
	case http.MethodGet:
		setStatus(204)
	case http.MethodDelete:
		delete(f.uploads, id)
		w.WriteHeader(204)
	case http.MethodPatch:
		body, _ := io.ReadAll(r.Body)
		if cr := r.Header.Get("Content-Range"); cr != "" {
			s, _, _ := strings.Cut(cr, "-")
			if n, _ := strconv.Atoi(s); n != len(data) {
				writeErr(w, 416, "BLOB_UPLOAD_INVALID", "out of order chunk")
				return
			}
		}
		if f.failPatches > 0 {
			f.failPatches--
			f.uploads[id] = append(data, body[:len(body)/2]...)
			writeErr(w, 500, "UNKNOWN", "storage hiccup")
			return
		}
		f.uploads[id] = append(data, body...)
		setStatus(202)
	case http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		data = append(data, body...)
		d := digest.Digest(r.URL.Query().Get("digest"))
		if digest.FromBytes(data) != d {
			writeErr(w, 400, "DIGEST_INVALID", "provided digest did not match uploaded content")
			return
		}
		delete(f.uploads, id)
		f.blobs[d] = data
		if f.repoBlobs[name] == nil {
			f.repoBlobs[name] = map[digest.Digest]bool{}
		}
		f.repoBlobs[name][d] = true
		w.Header().Set("Docker-Content-Digest", d.String())
		w.Header().Set("Location", "/v2/"+name+"/blobs/"+d.String())
		w.WriteHeader(201)
	default:
		writeErr(w, 405, "UNSUPPORTED", "")
	}
}

func (f *fakeReg) serveManifest(w http.ResponseWriter, r *http.Request, name, ref string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		m, ok := f.manifests[name][ref]
		if !ok {
			writeErr(w, 404, "MANIFEST_UNKNOWN", "manifest unknown")
			return
		}
		w.Header().Set("Content-Type", m.mt)
		dg := digest.FromBytes(m.data).String()
		if f.manifestDigest != "" {
			dg = f.manifestDigest
		}
		if !(f.noHeadDigest && r.Method == http.MethodHead) {
			w.Header().Set("Docker-Content-Digest", dg)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
		if r.Method == http.MethodGet {
			w.Write(m.data)
		}
	case http.MethodPut:
		b, _ := io.ReadAll(r.Body)
		if len(b) > MaxManifestSize {
			writeErr(w, 413, "MANIFEST_INVALID", "manifest too big")
			return
		}
		d := digest.FromBytes(b)
		if f.manifests[name] == nil {
			f.manifests[name] = map[string]fakeManifest{}
		}
		m := fakeManifest{r.Header.Get("Content-Type"), b}
		f.manifests[name][d.String()] = m
		f.manifests[name][ref] = m
		w.Header().Set("Docker-Content-Digest", d.String())
		w.WriteHeader(201)
	default:
		writeErr(w, 405, "UNSUPPORTED", "")
	}
}

func (f *fakeReg) serveTags(w http.ResponseWriter, r *http.Request, name string) {
	f.mu.Lock()
	var tags []string
	for k := range f.manifests[name] {
		if !strings.Contains(k, ":") {
			tags = append(tags, k)
		}
	}
	f.mu.Unlock()
	if len(tags) == 0 {
		writeErr(w, 404, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	sort.Strings(tags)
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("n"))
	if n <= 0 {
		n = 2 // small pages to exercise pagination
	}
	last := q.Get("last")
	var page []string
	for _, t := range tags {
		if t > last && len(page) < n {
			page = append(page, t)
		}
	}
	if len(page) > 0 && page[len(page)-1] != tags[len(tags)-1] {
		w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?n=%d&last=%s>; rel="next"`, name, n, url.QueryEscape(page[len(page)-1])))
	}
	json.NewEncoder(w).Encode(map[string]any{"name": name, "tags": page})
}

var _ = bytes.NewReader

func mustName(t testing.TB, s string) reference.Named {
	t.Helper()
	n, err := reference.ParseNamed(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
