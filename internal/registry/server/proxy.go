package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/auth"
	"github.com/hoistproject/hoist/internal/registry/server/storage"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/singleflight"
)

// upstreamTimeout bounds one fetch from the upstream. Fetches are detached
// from the request that started them: a client that gives up does not
// waste what the cache has already received.
const upstreamTimeout = 30 * time.Minute

// Proxy is a pull-through cache's view of its upstreams: manifests and
// blobs missing from the store are fetched from the repository's upstream
// (through hoist's registry client: auth challenges, retries, digest
// checks) and stored before they are served; tags are revalidated after a
// TTL.
//
// Upstreams are chosen by the repository's first path component: a
// repository named <host>/<path> with <host> one of ProxyConfig.Remotes is
// <path> at that upstream (the way podman and CRI-O mirror several
// registries through one prefix each, e.g. cache:5000/ghcr.io/owner/app);
// any other name is itself at the default upstream (remoteurl: the Docker
// Hub mirror docker's registry-mirrors expects). A name no upstream serves
// is a local repository when pushes are allowed, else unknown.
type Proxy struct {
	def       *upstream            // the default upstream (nil: none)
	hosts     map[string]*upstream // upstreams by host
	allowPush bool
	ttl       time.Duration
	log       *slog.Logger
	group     singleflight.Group // one fetch of a thing at a time
}

// upstream is one registry a Proxy caches.
type upstream struct {
	remote string // scheme://host[:port]
	client *client.Client
}

// NewProxy checks cfg and returns the proxy to its upstreams.
func NewProxy(cfg ProxyConfig, log *slog.Logger) (*Proxy, error) {
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("registry: negative proxy ttl %s", time.Duration(cfg.TTL))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{hosts: map[string]*upstream{}, allowPush: cfg.AllowPush, ttl: time.Duration(cfg.TTL), log: log}
	var err error
	if cfg.RemoteURL != "" || cfg.Username != "" || cfg.Password != "" {
		if p.def, err = newUpstream("proxy remoteurl", ProxyRemote{RemoteURL: cfg.RemoteURL, Username: cfg.Username, Password: cfg.Password}, log); err != nil {
			return nil, err
		}
	}
	for host, r := range cfg.Remotes {
		if !ValidProxyHost(host) {
			return nil, fmt.Errorf("registry: proxy remote %q: want a registry host name such as ghcr.io (lowercase, with a dot, no port): it is the first path component of the cached repositories", host)
		}
		if p.hosts[host], err = newUpstream("proxy remote "+host, r, log); err != nil {
			return nil, err
		}
	}
	if p.def == nil && len(p.hosts) == 0 {
		return nil, errors.New("registry: proxy: no upstream (remoteurl or remotes) configured")
	}
	return p, nil
}

func newUpstream(what string, r ProxyRemote, log *slog.Logger) (*upstream, error) {
	u, err := url.Parse(r.RemoteURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("registry: %s %q: want http(s)://host[:port] without a path or credentials", what, r.RemoteURL)
	}
	if (r.Username == "") != (r.Password == "") {
		return nil, fmt.Errorf("registry: %s: username and password go together", what)
	}
	var creds auth.CredentialFunc
	if r.Username != "" {
		c := auth.Credentials{Username: r.Username, Password: r.Password}
		creds = func(context.Context, string) (auth.Credentials, error) { return c, nil }
	}
	return &upstream{
		remote: u.Scheme + "://" + u.Host,
		client: client.New(client.Options{Credentials: creds, UserAgent: "hoist-registry-proxy", Logger: log}),
	}, nil
}

// ValidProxyHost reports whether host can key an upstream: a lowercase
// registry host name with a dot (or localhost), which is also a valid
// first path component of a repository name.
func ValidProxyHost(host string) bool {
	return !strings.Contains(host, "/") && storage.ValidName(host) && (strings.Contains(host, ".") || host == "localhost")
}

// route names the upstream serving repository repo of the cache and the
// repository's name there; nil when no upstream serves it.
func (p *Proxy) route(repo string) (*upstream, string) {
	if host, rest, ok := strings.Cut(repo, "/"); ok {
		if up := p.hosts[host]; up != nil {
			return up, rest
		}
	}
	return p.def, repo
}

// Serves reports whether an upstream serves repository repo.
func (p *Proxy) Serves(repo string) bool {
	up, _ := p.route(repo)
	return up != nil
}

// qualify is the cache's name of repository repo of registry ns
// (containerd's mirror requests carry ?ns=<host>): <ns>/<repo> when ns is
// an upstream host, else repo.
func (p *Proxy) qualify(ns, repo string) string {
	if p.hosts[ns] == nil || strings.HasPrefix(repo, ns+"/") {
		return repo
	}
	return ns + "/" + repo
}

// String lists the upstreams ("https://a (default), ghcr.io=https://b").
func (p *Proxy) String() string {
	var parts []string
	if p.def != nil {
		parts = append(parts, p.def.remote+" (default)")
	}
	for _, h := range slices.Sorted(maps.Keys(p.hosts)) {
		parts = append(parts, h+"="+p.hosts[h].remote)
	}
	return strings.Join(parts, ", ")
}

// WithProxy makes the server a pull-through cache of p's upstreams: pulls
// fill the store from them and writes to their repositories are refused
// (UNSUPPORTED, 405).
func WithProxy(p *Proxy) Option { return func(s *Server) { s.proxy = p } }

func (p *Proxy) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), upstreamTimeout)
}

// remoteRepository is repo's repository at its upstream.
func (p *Proxy) remoteRepository(repo string) (*client.Repository, error) {
	up, name := p.route(repo)
	if up == nil {
		return nil, errdefs.NotFoundf("no upstream of this cache serves repository %s (upstreams: %s)", repo, p)
	}
	return up.client.RemoteRepository(up.remote, name)
}

// upstreamErr names the upstream in an error of a fetch from it (keeping
// the error's class).
func (p *Proxy) upstreamErr(repo string, err error) error {
	if err == nil {
		return nil
	}
	up, name := p.route(repo)
	if up == nil {
		return err
	}
	return fmt.Errorf("upstream %s, repository %s: %w", up.remote, name, err)
}

// manifest returns manifest ref of repo: from the store when it is there
// (a tag only while younger than the TTL), else fetched from the upstream
// and stored. A cached tag is served when the upstream cannot be asked.
func (p *Proxy) manifest(ctx context.Context, st *storage.Store, repo, ref string) (*storage.Manifest, error) {
	if d, err := storage.ParseDigest(ref); err == nil {
		if m, err := st.GetManifest(ctx, repo, ref); err == nil || !errdefs.IsNotFound(err) {
			return m, err
		}
		_, err, _ := p.group.Do("manifest\x00"+repo+"@"+ref, func() (any, error) {
			return nil, p.fetchManifest(ctx, st, repo, d, nil)
		})
		if err != nil {
			return nil, err
		}
		return st.GetManifest(ctx, repo, ref)
	}
	have, written, err := st.TagInfo(ctx, repo, ref)
	if err == nil && time.Since(written) < p.ttl {
		return st.GetManifest(ctx, repo, ref)
	}
	_, err, _ = p.group.Do("tag\x00"+repo+":"+ref, func() (any, error) {
		return nil, p.revalidate(ctx, st, repo, ref, have)
	})
	if err != nil {
		if have == "" || errdefs.IsNotFound(err) {
			return nil, err
		}
		p.log.Warn("registry proxy: upstream unavailable, serving the cached tag", "repository", repo, "tag", ref, "digest", have, "err", err)
	}
	return st.GetManifest(ctx, repo, ref)
}

// revalidate asks the upstream what tag points at: the same manifest
// rewrites the tag (its TTL starts again), another is fetched and tagged.
func (p *Proxy) revalidate(ctx context.Context, st *storage.Store, repo, tag string, have digest.Digest) error {
	ctx, cancel := p.detach(ctx)
	defer cancel()
	rr, err := p.remoteRepository(repo)
	if err != nil {
		return err
	}
	desc, err := rr.Resolve(ctx, tag)
	if err != nil {
		return p.upstreamErr(repo, err)
	}
	if desc.Digest == have {
		return st.RewriteTag(ctx, repo, tag, have)
	}
	p.log.Info("registry proxy: caching", "repository", repo, "tag", tag, "digest", desc.Digest)
	return p.fetchManifest(ctx, st, repo, desc.Digest, []string{tag})
}

// fetchManifest fetches manifest d (verified by the client) and stores it,
// under tags too.
func (p *Proxy) fetchManifest(ctx context.Context, st *storage.Store, repo string, d digest.Digest, tags []string) error {
	ctx, cancel := p.detach(ctx)
	defer cancel()
	rr, err := p.remoteRepository(repo)
	if err != nil {
		return err
	}
	body, desc, err := rr.GetManifest(ctx, d.String())
	if err != nil {
		return p.upstreamErr(repo, err)
	}
	_, err = st.PutManifest(ctx, repo, d.String(), desc.MediaType, body, tags, storage.PutOptions{Cached: true})
	return err
}

// blob makes blob d of repo present in the store: a blob the store already
// holds is linked once the upstream confirms repo has it, any other is
// fetched and stored only if its bytes hash to d.
func (p *Proxy) blob(ctx context.Context, st *storage.Store, repo string, d digest.Digest) error {
	_, err, _ := p.group.Do("blob\x00"+repo+"@"+d.String(), func() (any, error) {
		ctx, cancel := p.detach(ctx)
		defer cancel()
		rr, err := p.remoteRepository(repo)
		if err != nil {
			return nil, err
		}
		if st.BlobExists(ctx, d) {
			if _, err := rr.Info(ctx, d); err != nil {
				return nil, p.upstreamErr(repo, err)
			}
			return nil, st.LinkBlob(ctx, repo, d)
		}
		rc, err := rr.Fetch(ctx, ocispec.Descriptor{Digest: d})
		if err != nil {
			return nil, p.upstreamErr(repo, err)
		}
		defer rc.Close()
		_, err = st.PutBlob(ctx, repo, rc, -1, d)
		if err != nil {
			return nil, p.upstreamErr(repo, err)
		}
		p.log.Info("registry proxy: cached blob", "repository", repo, "digest", d)
		return nil, nil
	})
	return err
}

// blobSize asks the upstream for the size of blob d (a HEAD for a blob not
// cached yet stores nothing).
func (p *Proxy) blobSize(ctx context.Context, repo string, d digest.Digest) (int64, error) {
	rr, err := p.remoteRepository(repo)
	if err != nil {
		return 0, err
	}
	info, err := rr.Info(ctx, d)
	return info.Size, p.upstreamErr(repo, err)
}
