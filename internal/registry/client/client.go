package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
)

// DockerHub is the registry name of Docker Hub in references, and
// dockerHubV2 its distribution API host.
const (
	DockerHub   = "docker.io"
	dockerHubV2 = "registry-1.docker.io"
)

// Options configure a Client.
type Options struct {
	Config Config
	// Credentials returns the credentials for a registry (named as in
	// references: "docker.io", "127.0.0.1:5000"); nil means anonymous.
	Credentials auth.CredentialFunc
	// UserAgent is sent with every request ("hoist" when empty).
	UserAgent string
	// CertsDirs are searched for per-registry certificates
	// (DefaultCertsDirs() when nil).
	CertsDirs []string
	// MaxRetries is the number of retries of an idempotent request or of a
	// transfer that failed (0: 4; negative: none).
	MaxRetries int
	// RetryBackoff is the first retry delay, doubled at each retry (0: 250ms).
	RetryBackoff time.Duration
	// ChunkSize is the memory buffer of an upload through Writer (sent as
	// one PATCH when full); blobs up to this size are uploaded in one PUT
	// (0: 16 MiB).
	ChunkSize int64
	// MaxPatchSize bounds one PATCH of PushBlob (0: unbounded; the rest of
	// the blob streams in one request, resumed from the registry's offset
	// after a failure).
	MaxPatchSize int64
	// Logger receives debug logs (discarded when nil).
	Logger *slog.Logger
}

// Client talks to registries. It is safe for concurrent use.
type Client struct {
	opts       Options
	tr         *hostTransport
	http       *http.Client
	isInsecure func(host string) bool

	mu    sync.Mutex
	hosts map[string]*host
}

// New returns a Client.
func New(opts Options) *Client {
	if opts.UserAgent == "" {
		opts.UserAgent = "hoist"
	}
	if opts.CertsDirs == nil {
		opts.CertsDirs = DefaultCertsDirs()
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 4
	} else if opts.MaxRetries < 0 {
		opts.MaxRetries = 0
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = 250 * time.Millisecond
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 16 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{opts: opts, hosts: map[string]*host{}, isInsecure: opts.Config.IsInsecure}
	c.tr = newHostTransport(opts.CertsDirs, func(h string) bool { return c.isInsecure(h) })
	c.http = &http.Client{
		Transport:     &uaTransport{ua: opts.UserAgent, base: &retryTransport{base: c.tr, max: opts.MaxRetries, backoff: opts.RetryBackoff}},
		CheckRedirect: checkRedirect,
	}
	return c
}

// Close releases idle connections.
func (c *Client) Close() { c.tr.closeIdle() }

type uaTransport struct {
	ua   string
	base http.RoundTripper
}

func (t *uaTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", t.ua)
	}
	return t.base.RoundTrip(req)
}

// host is one registry endpoint with its authorizer.
type host struct {
	name     string // as in references: "docker.io", "127.0.0.1:5000"
	addr     string // network address: "registry-1.docker.io"
	scheme   string // fixed scheme (a mirror's), or "" to discover
	insecure bool
	auth     *auth.Authorizer

	mu     sync.Mutex
	base   *url.URL // scheme://addr once pinged
	pinged bool
}

// registryAddr maps a registry name to the address of its API.
func registryAddr(name string) string {
	if name == DockerHub || name == "index.docker.io" {
		return dockerHubV2
	}
	return name
}

// host returns (creating once) the endpoint for registry name. scheme fixes
// the scheme ("" : https, or discovered for insecure registries); credsName
// is the registry name whose credentials are used.
func (c *Client) host(name, addr, scheme, credsName string) *host {
	key := scheme + "://" + addr + "|" + credsName
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.hosts[key]; ok {
		return h
	}
	creds := c.opts.Credentials
	var cf auth.CredentialFunc
	if creds != nil {
		cf = func(ctx context.Context, _ string) (auth.Credentials, error) { return creds(ctx, credsName) }
	}
	h := &host{
		name:     name,
		addr:     addr,
		scheme:   scheme,
		insecure: c.isInsecure(addr),
		auth:     auth.New(addr, c.http, cf, auth.Options{}),
	}
	c.hosts[key] = h
	return h
}

// registry returns the endpoint for a registry name as found in references.
func (c *Client) registry(name string) *host {
	return c.host(name, registryAddr(name), "", name)
}

// ensure pings h once (discovering the scheme and the auth challenge).
func (c *Client) ensure(ctx context.Context, h *host) (*url.URL, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pinged {
		return h.base, nil
	}
	base, err := c.ping(ctx, h, h.auth)
	if err != nil {
		return nil, err
	}
	h.base, h.pinged = base, true
	return base, nil
}

// ping GETs /v2/ anonymously, recording a challenge in az. For insecure
// registries HTTPS is tried first, then plain HTTP.
func (c *Client) ping(ctx context.Context, h *host, az *auth.Authorizer) (*url.URL, error) {
	schemes := []string{"https"}
	if h.scheme != "" {
		schemes = []string{h.scheme}
	} else if h.insecure {
		schemes = []string{"https", "http"}
	}
	var firstErr error
	for _, s := range schemes {
		base := &url.URL{Scheme: s, Host: h.addr}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.String()+"/v2/", nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if firstErr == nil {
				firstErr = c.transportError(h, err)
			}
			c.opts.Logger.Debug("registry ping failed", "url", req.URL.String(), "err", err)
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			az.SetChallenge(resp)
			return base, nil
		case resp.StatusCode < 300:
			return base, nil
		case resp.StatusCode == http.StatusNotFound:
			return nil, errdefs.NotImplementedf("%s does not speak the registry API v2 (GET %s: 404)", h.name, req.URL)
		default:
			return nil, classify(resp.StatusCode, fmt.Errorf("registry %s: GET %s: %s", h.name, req.URL, resp.Status))
		}
	}
	return nil, firstErr
}

// transportError classes a failed request: TLS errors name the host and the
// fix, everything else is Unavailable.
func (c *Client) transportError(h *host, err error) error {
	if isTLSError(err) {
		return errdefs.Unavailablef("%w", explainTLS(h.addr, err))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return errdefs.Unavailablef("%w", err)
}

// do sends req (built against h) authorized for scopes. On a 401 it answers
// the challenge and retries once when the body can be replayed.
func (c *Client) do(ctx context.Context, h *host, req *http.Request, scopes []auth.Scope) (*http.Response, error) {
	return c.doWith(ctx, h, h.auth, req, scopes)
}

func (c *Client) doWith(ctx context.Context, h *host, az *auth.Authorizer, req *http.Request, scopes []auth.Scope) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		if err := az.Authorize(ctx, req, scopes); err != nil {
			return nil, err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, c.transportError(h, err)
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return resp, nil
		}
		newScopes, retry := az.HandleUnauthorized(resp, scopes)
		if !retry {
			return resp, nil
		}
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return resp, nil
			}
			body, err := req.GetBody()
			if err != nil {
				return resp, nil
			}
			req.Body = body
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		req.Header.Del("Authorization")
		scopes = newScopes
	}
}

// Repository returns the remote repository named by n (its tag or digest is
// ignored). The registry is contacted lazily.
func (c *Client) Repository(n reference.Named) *Repository {
	dom := reference.Domain(n)
	if dom == DockerHub && c.opts.Config.DefaultRegistry != "" {
		dom = c.opts.Config.DefaultRegistry
	}
	return &Repository{c: c, h: c.registry(dom), name: n, path: reference.Path(n)}
}

// PullRepositories are the places to pull n from, in order: the configured
// mirrors for Docker Hub names, then the registry itself.
func (c *Client) PullRepositories(n reference.Named) []*Repository {
	var out []*Repository
	if reference.Domain(n) == DockerHub && c.opts.Config.DefaultRegistry == "" {
		for _, m := range c.opts.Config.RegistryMirrors {
			mi, err := parseMirror(m)
			if err != nil {
				continue
			}
			h := c.host(DockerHub, mi.host, mi.scheme, mi.host)
			out = append(out, &Repository{c: c, h: h, name: n, path: reference.Path(n), mirror: true})
		}
	}
	return append(out, c.Repository(n))
}

// endpoint joins base and an API path ("/v2/..." with query).
func endpoint(base *url.URL, path string, q url.Values) string {
	u := *base
	u.Path = path
	u.RawPath = ""
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// location resolves a Location header against the request that returned it.
func location(resp *http.Response) (*url.URL, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, fmt.Errorf("registry answered %s without a Location header", resp.Status)
	}
	u, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("registry sent an invalid Location %q: %v", loc, err)
	}
	return u, nil
}

// describeRef renders a reference in messages ("127.0.0.1:5000/x:tag").
func describeRef(n reference.Named, ref string) string {
	name := reference.FamiliarName(n)
	if strings.Contains(ref, ":") {
		return name + "@" + ref
	}
	return name + ":" + ref
}

// RemoteRepository is the repository path on the registry at endpoint
// ("https://host[:port]" or "http://host:port", no path, as a mirror is
// written), authenticated with the credentials of the registry name
// host[:port]. A pull-through cache reaches its upstream this way.
func (c *Client) RemoteRepository(endpoint, path string) (*Repository, error) {
	mi, err := parseMirror(endpoint)
	if err != nil {
		return nil, err
	}
	n, err := reference.ParseNamed(mi.host + "/" + path)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("repository %q on %s: %v", path, mi.host, err)
	}
	return &Repository{c: c, h: c.host(mi.host, mi.host, mi.scheme, mi.host), name: n, path: path}, nil
}
