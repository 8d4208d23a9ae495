package distribution

import (
	"context"
	"fmt"
	"sync"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// Statuses of the unpacking stage, in docker's words.
const (
	StatusExtracting   = "Extracting"
	StatusPullComplete = "Pull complete"
)

// PullOptions tune Pull.
type PullOptions struct {
	Platform *ocispec.Platform // nil: client.DefaultPlatform()
	Parallel int               // concurrent layer downloads (0: 3)
	Progress client.ProgressFunc
}

// PullResult describes a finished pull.
type PullResult struct {
	Name    reference.Named // what was pulled (name:tag or name@digest)
	Digest  digest.Digest   // what the reference resolved to (index or manifest)
	ImageID digest.Digest
	// Fresh is false when the name already pointed at this image ("Image is
	// up to date").
	Fresh bool
}

// Pull pulls name (which has a tag or a digest) into st and tags it (a
// name@digest pull records a repo digest only). The tag is written last.
func Pull(ctx context.Context, c *client.Client, st *images.Store, name reference.Named, opts PullOptions) (PullResult, error) {
	res := PullResult{Name: name}
	ctx, done, err := st.DB().WithLease(ctx)
	if err != nil {
		return res, err
	}
	defer done()
	var prev digest.Digest
	if img, err := st.Resolve(ctx, name.String()); err == nil {
		prev = img.ID
	}

	u := &unpacker{st: st, progress: opts.Progress, manifest: make(chan ocispec.Manifest, 1), done: map[digest.Digest]chan struct{}{}}
	var pr client.PullResult
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		pr, err = client.Pull(gctx, c.PullRepositories(name), client.Ref(name), st.Content(), client.PullOptions{
			Platform: opts.Platform, Parallel: opts.Parallel, Progress: opts.Progress,
			Manifest: func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest) error {
				if err := protect(ctx, st, desc, m); err != nil {
					return err
				}
				u.start(m)
				return nil
			},
			LayerDone: func(ctx context.Context, l ocispec.Descriptor) error {
				u.layerDone(l.Digest)
				return nil
			},
		})
		return err
	})
	g.Go(func() error { return u.run(gctx) })
	if err := g.Wait(); err != nil {
		return res, err
	}
	res.Digest = pr.Manifest.Digest
	if pr.Index != nil {
		res.Digest = pr.Index.Digest
	}
	cfg, err := content.ReadBlob(ctx, st.Content(), pr.Config.Digest, images.MaxConfigSize)
	if err != nil {
		return res, err
	}
	canonical, err := reference.WithDigest(name, res.Digest)
	if err != nil {
		return res, err
	}
	n := images.NewImage{Config: cfg, RepoDigests: []string{canonical.String()}, Manifests: []ocispec.Descriptor{pr.Manifest}}
	if reference.Tag(name) != "" && reference.Digest(name) == "" {
		n.Names = []string{name.String()}
	}
	img, err := st.CreateFromBlobs(ctx, n, pr.Layers)
	if err != nil {
		return res, err
	}
	res.ImageID = img.ID
	res.Fresh = img.ID != prev
	return res, nil
}

// protect adds the image's blobs to the pull's lease so that no prune
// removes them before the image record holds them.
func protect(ctx context.Context, st *images.Store, desc ocispec.Descriptor, m ocispec.Manifest) error {
	return st.DB().Update(ctx, func(tx *metadata.Tx) error {
		for _, d := range append([]ocispec.Descriptor{desc, m.Config}, m.Layers...) {
			if err := metadata.AddResource(ctx, tx, layers.BlobResource(d.Digest)); err != nil {
				return err
			}
		}
		return nil
	})
}

// unpacker unpacks layers in order as their blobs arrive.
type unpacker struct {
	st       *images.Store
	progress client.ProgressFunc
	manifest chan ocispec.Manifest

	mu   sync.Mutex
	done map[digest.Digest]chan struct{}
}

func (u *unpacker) start(m ocispec.Manifest) {
	u.mu.Lock()
	for _, l := range m.Layers {
		if u.done[l.Digest] == nil {
			u.done[l.Digest] = make(chan struct{})
		}
	}
	u.mu.Unlock()
	u.manifest <- m
}

func (u *unpacker) layerDone(d digest.Digest) {
	u.mu.Lock()
	ch := u.done[d]
	u.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
}

func (u *unpacker) run(ctx context.Context) error {
	var m ocispec.Manifest
	select {
	case m = <-u.manifest:
	case <-ctx.Done():
		return ctx.Err()
	}
	raw, err := content.ReadBlob(ctx, u.st.Content(), m.Config.Digest, images.MaxConfigSize)
	if err != nil {
		return err
	}
	cfg, err := images.ParseConfig(raw)
	if err != nil {
		return err
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return fmt.Errorf("image config %s lists %d layers, its manifest %d", m.Config.Digest, len(cfg.RootFS.DiffIDs), len(m.Layers))
	}
	var parent digest.Digest
	for i, l := range m.Layers {
		u.mu.Lock()
		ch := u.done[l.Digest]
		u.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		chain := layers.ChainIDs(cfg.RootFS.DiffIDs[:i+1])
		_, gerr := u.st.Layers().Get(ctx, chain[i])
		fresh := gerr != nil
		if fresh {
			u.emit(l, StatusExtracting)
		}
		layer, err := u.st.Layers().CreateFromBlob(ctx, parent, l, cfg.RootFS.DiffIDs[i], layers.CreateOptions{
			KeepCompressed: true, Digest: l.Digest, MediaType: l.MediaType,
		})
		if err != nil {
			return fmt.Errorf("unpacking layer %s: %w", l.Digest, err)
		}
		if fresh {
			u.emit(l, StatusPullComplete)
		}
		parent = layer.ChainID
	}
	return nil
}

func (u *unpacker) emit(l ocispec.Descriptor, status string) {
	if u.progress != nil {
		u.progress(client.Event{Digest: l.Digest, ID: client.ShortID(l.Digest), Status: status, Total: l.Size})
	}
}
