package server

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/registry/server/storage"
)

// Server is the registry's http.Handler.
type Server struct {
	store       *storage.Store
	log         *slog.Logger
	accessLog   bool
	auth        *Htpasswd
	token       *TokenAuth
	realm       string
	tokenRealm  string // configured realm URL of Bearer challenges
	realmHost   string // host name of the default realm URL
	rules       []AccessRule
	readOnly    bool
	allowSparse bool
	metrics     *Metrics
	maxCatalog  int
	gcGrace     time.Duration
	proxy       *Proxy // set: a pull-through cache
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger (access logs at Info, failures at Warn/Error).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithAccessLog turns per-request access logging on or off (default on).
func WithAccessLog(on bool) Option { return func(s *Server) { s.accessLog = on } }

// WithHtpasswd turns on basic authentication against h; realm is sent in
// the WWW-Authenticate challenge.
func WithHtpasswd(h *Htpasswd, realm string) Option {
	return func(s *Server) { s.auth, s.realm = h, realm }
}

// WithAccessRules restricts repositories to users (only with WithHtpasswd).
func WithAccessRules(rules []AccessRule) Option { return func(s *Server) { s.rules = rules } }

// WithReadOnly refuses every write with UNSUPPORTED (405).
func WithReadOnly(ro bool) Option { return func(s *Server) { s.readOnly = ro } }

// WithAllowSparse accepts image manifests whose layers were not pushed.
func WithAllowSparse(on bool) Option { return func(s *Server) { s.allowSparse = on } }

// WithMetrics records request metrics in m (served at /metrics).
func WithMetrics(m *Metrics) Option { return func(s *Server) { s.metrics = m } }

// WithGCGrace tells the server the grace period of garbage collection on
// its storage (default 1h), so that a blob a client has just found (HEAD)
// is refreshed early enough to survive it (see touchAfter).
func WithGCGrace(d time.Duration) Option { return func(s *Server) { s.gcGrace = d } }

// touchAfter is the age beyond which a HEAD refreshes a blob's GC time: a
// tenth of the grace, at most a minute. A client that has just checked a
// blob thus has at least 90% of the grace to reference it.
func (s *Server) touchAfter() time.Duration { return min(s.gcGrace/10, time.Minute) }

// New returns the registry handler over store: the OCI distribution API
// under /v2/, search under /v1/, /metrics and /healthz.
func New(store *storage.Store, opts ...Option) http.Handler {
	s := &Server{store: store, accessLog: true, realm: "hoist registry", maxCatalog: 1000, gcGrace: time.Hour}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	return s
}

// route identifies an endpoint (metrics label).
type route int

const (
	routeOther route = iota
	routeBase
	routeCatalog
	routeTags
	routeManifest
	routeBlob
	routeUploadStart
	routeUpload
	routeReferrers
	routeSearch
	routeStar
	routeMetrics
	routeHealth
	routeToken
	numRoutes
)

var routeNames = [numRoutes]string{"other", "base", "catalog", "tags", "manifest", "blob", "upload_start", "upload", "referrers", "search", "star", "metrics", "healthz", "token"}

// request is one parsed request.
type request struct {
	route  route
	name   string // repository
	arg    string // reference, digest or upload id
	user   string
	claims *tokenClaims // set when the caller presented a bearer token
}

// parseV2 splits the part of a /v2/ path after "/v2/".
func parseV2(rest string) request {
	switch rest {
	case "":
		return request{route: routeBase}
	case "_catalog":
		return request{route: routeCatalog}
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return request{}
	}
	last, head := rest[i+1:], rest[:i]
	j := strings.LastIndexByte(head, '/')
	if j <= 0 {
		return request{}
	}
	kind, name := head[j+1:], head[:j]
	switch kind {
	case "tags":
		if last == "list" {
			return request{route: routeTags, name: name}
		}
	case "manifests":
		return request{route: routeManifest, name: name, arg: last}
	case "referrers":
		return request{route: routeReferrers, name: name, arg: last}
	case "blobs":
		if last == "uploads" {
			return request{route: routeUploadStart, name: name}
		}
		return request{route: routeBlob, name: name, arg: last}
	case "uploads":
		k := strings.LastIndexByte(name, '/')
		if k > 0 && name[k+1:] == "blobs" {
			if last == "" {
				return request{route: routeUploadStart, name: name[:k]}
			}
			return request{route: routeUpload, name: name[:k], arg: last}
		}
	}
	return request{}
}

func parseRoute(path string) request {
	switch {
	case path == "/v2" || path == "/v2/":
		return request{route: routeBase}
	case strings.HasPrefix(path, "/v2/"):
		return parseV2(path[4:])
	case path == "/v1/search":
		return request{route: routeSearch}
	case strings.HasPrefix(path, "/v1/repositories/") && strings.HasSuffix(path, "/star"):
		return request{route: routeStar, name: strings.TrimSuffix(strings.TrimPrefix(path, "/v1/repositories/"), "/star")}
	case path == "/metrics":
		return request{route: routeMetrics}
	case path == "/healthz":
		return request{route: routeHealth}
	case path == "/token":
		return request{route: routeToken}
	}
	return request{}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	req := parseRoute(r.URL.Path)
	w := &respWriter{ResponseWriter: rw, status: 0}
	var body *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		body = &countingBody{r: r.Body}
		r.Body = body
	}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	s.serve(w, r, &req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var in int64
	if body != nil {
		in = body.n
	}
	d := time.Since(start)
	s.metrics.observe(req.route, r.Method, w.status, d, in, w.n)
	if s.accessLog {
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", w.status), slog.Int64("bytes_in", in), slog.Int64("bytes_out", w.n),
			slog.Duration("duration", d), slog.String("user", req.user), slog.String("remote", r.RemoteAddr))
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, req *request) {
	if req.route == routeHealth {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
		return
	}
	if req.route == routeOther {
		writeError(w, r, errNotFound, "no such endpoint: "+r.URL.Path)
		return
	}
	if req.route == routeToken {
		s.serveToken(w, r, req)
		return
	}
	if !s.authenticate(w, r, req) {
		return
	}
	switch req.route {
	case routeBase:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		if r.Method != http.MethodHead {
			io.WriteString(w, "{}")
		}
		return
	case routeCatalog:
		s.catalog(w, r, req)
		return
	case routeSearch:
		s.search(w, r, req)
		return
	case routeMetrics:
		s.metrics.WriteTo(w)
		return
	}
	if !storage.ValidName(req.name) {
		writeError(w, r, errNameInvalid, "invalid repository name: "+req.name)
		return
	}
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	if write && s.readOnly {
		writeError(w, r, errReadOnly, nil)
		return
	}
	if s.proxy != nil && req.route != routeStar {
		if ns := r.URL.Query().Get("ns"); ns != "" {
			req.name = s.proxy.qualify(ns, req.name)
		}
		switch {
		case s.proxy.Serves(req.name):
			if write {
				writeError(w, r, errProxyWrite, "the registry is a pull-through cache of "+s.proxy.String()+": it accepts no pushes or deletes")
				return
			}
		case !s.proxy.allowPush:
			writeError(w, r, errNameUnknown, "no upstream of this pull-through cache serves repository "+req.name+" (upstreams: "+s.proxy.String()+")")
			return
		}
	}
	// Starring needs read access only.
	if !s.authorize(w, r, req, write && req.route != routeStar) {
		return
	}
	switch req.route {
	case routeTags:
		s.tagsList(w, r, req)
	case routeManifest:
		s.manifest(w, r, req)
	case routeBlob:
		s.blob(w, r, req)
	case routeUploadStart:
		s.uploadStart(w, r, req)
	case routeUpload:
		s.upload(w, r, req)
	case routeReferrers:
		s.referrers(w, r, req)
	case routeStar:
		s.star(w, r, req)
	}
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allowed string) {
	w.Header().Set("Allow", allowed)
	writeError(w, r, errMethodNotAllowed, r.Method+" is not allowed here")
}

// respWriter records the status and bytes written, keeping sendfile
// (ReadFrom) and Flush available.
type respWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *respWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(w.ResponseWriter, r)
	}
	w.n += n
	return n, err
}

func (w *respWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type countingBody struct {
	r io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *countingBody) Close() error { return b.r.Close() }
