package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
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

// Proxy is the upstream of a pull-through cache: manifests and blobs
// missing from the store are fetched from it (through hoist's registry
// client: auth challenges, retries, digest checks) and stored before they
// are served; tags are revalidated after a TTL.
type Proxy struct {
	remote string
	ttl    time.Duration
	client *client.Client
	log    *slog.Logger
	group  singleflight.Group // one fetch of a thing at a time
}

// NewProxy checks cfg and returns the proxy to its upstream.
func NewProxy(cfg ProxyConfig, log *slog.Logger) (*Proxy, error) {
	u, err := url.Parse(cfg.RemoteURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("registry: proxy remoteurl %q: want http(s)://host[:port] without a path", cfg.RemoteURL)
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, errors.New("registry: proxy username and password go together")
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("registry: negative proxy ttl %s", time.Duration(cfg.TTL))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var creds auth.CredentialFunc
	if cfg.Username != "" {
		c := auth.Credentials{Username: cfg.Username, Password: cfg.Password}
		creds = func(context.Context, string) (auth.Credentials, error) { return c, nil }
	}
	return &Proxy{
		remote: u.Scheme + "://" + u.Host,
		ttl:    time.Duration(cfg.TTL),
		client: client.New(client.Options{Credentials: creds, UserAgent: "hoist-registry-proxy", Logger: log}),
		log:    log,
	}, nil
}

// Remote is the upstream's URL.
func (p *Proxy) Remote() string { return p.remote }

// WithProxy makes the server a pull-through cache of p's upstream: pulls
// fill the store from it and writes are refused (UNSUPPORTED, 405).
func WithProxy(p *Proxy) Option { return func(s *Server) { s.proxy = p } }

func (p *Proxy) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), upstreamTimeout)
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
	rr, err := p.client.RemoteRepository(p.remote, repo)
	if err != nil {
		return err
	}
	desc, err := rr.Resolve(ctx, tag)
	if err != nil {
		return err
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
	rr, err := p.client.RemoteRepository(p.remote, repo)
	if err != nil {
		return err
	}
	body, desc, err := rr.GetManifest(ctx, d.String())
	if err != nil {
		return err
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
		rr, err := p.client.RemoteRepository(p.remote, repo)
		if err != nil {
			return nil, err
		}
		if st.BlobExists(ctx, d) {
			if _, err := rr.Info(ctx, d); err != nil {
				return nil, err
			}
			return nil, st.LinkBlob(ctx, repo, d)
		}
		rc, err := rr.Fetch(ctx, ocispec.Descriptor{Digest: d})
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		_, err = st.PutBlob(ctx, repo, rc, -1, d)
		if err == nil {
			p.log.Info("registry proxy: cached blob", "repository", repo, "digest", d)
		}
		return nil, err
	})
	return err
}

// blobSize asks the upstream for the size of blob d (a HEAD for a blob not
// cached yet stores nothing).
func (p *Proxy) blobSize(ctx context.Context, repo string, d digest.Digest) (int64, error) {
	rr, err := p.client.RemoteRepository(p.remote, repo)
	if err != nil {
		return 0, err
	}
	info, err := rr.Info(ctx, d)
	return info.Size, err
}
