package distribution

import (
	"context"
	"fmt"
	"io"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/layers"
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
	ctx, done, err := st.WithLease(ctx)
	if err != nil {
		return res, err
	}
	defer done()
	var prev digest.Digest
	if img, err := st.Resolve(ctx, name.String()); err == nil {
		prev = img.ID
	}

	u := &unpacker{st: st, progress: opts.Progress, started: make(chan struct{})}
	defer u.discard()
	var pr client.PullResult
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		pr, err = client.Pull(gctx, c.PullRepositories(name), client.Ref(name), st.Blobs(), client.PullOptions{
			Platform: opts.Platform, Parallel: opts.Parallel, Progress: opts.Progress,
			Manifest: func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest) error {
				if err := protect(ctx, st, desc, m); err != nil {
					return err
				}
				return u.start(ctx, m)
			},
			Claim: func(ctx context.Context, d digest.Digest) error {
				return st.ClaimBlobs(ctx, d)
			},
			StoreLayer: u.store,
			LayerDone:  u.layerDone,
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
	cfg, err := content.ReadBlob(ctx, st.Blobs(), pr.Config.Digest, images.MaxConfigSize)
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
	ds := []digest.Digest{desc.Digest, m.Config.Digest}
	for _, l := range m.Layers {
		ds = append(ds, l.Digest)
	}
	return st.ClaimBlobs(ctx, ds...)
}

// unpacker unpacks the layers of one image while their blobs stream in,
// each in its download goroutine (so layers unpack in parallel, and a
// layer unpacks while it downloads), and commits them in order, each on
// top of the one below, as soon as the layers below are committed.
type unpacker struct {
	st       *images.Store
	progress client.ProgressFunc
	started  chan struct{} // closed by start

	// set by start, then read-only
	layers  []ocispec.Descriptor
	diffIDs []digest.Digest
	chain   []digest.Digest
	have    []bool // the layer chain[i] exists already
	slots   map[digest.Digest]*slot
}

// slot is the state of one distinct layer blob.
type slot struct {
	// first is the first index whose layer must be unpacked from this
	// blob (-1: every layer with this blob exists).
	first int
	ready chan struct{} // closed when the blob is stored (and unpacked)
	// staged is the layer unpacked for index first, written before ready
	// is closed.
	staged *layers.Staged
}

// start learns the image's layers: its config is in the store.
func (u *unpacker) start(ctx context.Context, m ocispec.Manifest) error {
	raw, err := content.ReadBlob(ctx, u.st.Blobs(), m.Config.Digest, images.MaxConfigSize)
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
	u.layers, u.diffIDs = m.Layers, cfg.RootFS.DiffIDs
	u.chain = layers.ChainIDs(u.diffIDs)
	u.have = make([]bool, len(u.chain))
	u.slots = map[digest.Digest]*slot{}
	for i, l := range m.Layers {
		if u.have[i], err = u.st.HasLayer(ctx, u.chain[i]); err != nil {
			return err
		}
		s := u.slots[l.Digest]
		if s == nil {
			s = &slot{first: -1, ready: make(chan struct{})}
			u.slots[l.Digest] = s
		}
		if !u.have[i] && s.first < 0 {
			s.first = i
		}
	}
	close(u.started)
	return nil
}

// store unpacks a layer while its blob streams in (and writes the blob to
// content), or only stores the blob when its layers exist already.
func (u *unpacker) store(ctx context.Context, l ocispec.Descriptor, r io.Reader) error {
	s := u.slots[l.Digest]
	if s == nil || s.first < 0 {
		size := l.Size
		if size <= 0 {
			size = -1
		}
		_, err := content.WriteBlob(ctx, u.st.Blobs(), r, size, l.Digest)
		return err
	}
	p, err := u.st.StageLayer(ctx, r, layers.StageOptions{Store: true, Blob: l, DiffID: u.diffIDs[s.first]})
	if err != nil {
		// Bytes that do not match the blob's digest usually fail to
		// decompress before the last byte (where the digest is checked)
		// arrives: read on, to report the mismatch, the real problem.
		if errdefs.IsInvalidArgument(err) {
			if _, rerr := io.Copy(io.Discard, r); rerr != nil {
				return rerr
			}
		}
		return fmt.Errorf("unpacking layer %s: %w", l.Digest, err)
	}
	s.staged = p
	return p.Sync()
}

// layerDone is called when a layer blob is in the store: unpack it now
// unless it was unpacked while it downloaded.
func (u *unpacker) layerDone(ctx context.Context, l ocispec.Descriptor) error {
	s := u.slots[l.Digest]
	if s == nil {
		return nil
	}
	if s.first >= 0 && s.staged == nil {
		p, err := u.st.StageLayerBlob(ctx, l, u.diffIDs[s.first])
		if err == nil {
			s.staged, err = p, p.Sync()
		}
		if err != nil {
			return fmt.Errorf("unpacking layer %s: %w", l.Digest, err)
		}
	}
	close(s.ready)
	return nil
}

// run commits the layers in order as they become ready.
func (u *unpacker) run(ctx context.Context) error {
	select {
	case <-u.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	for i, l := range u.layers {
		s := u.slots[l.Digest]
		select {
		case <-s.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !u.have[i] {
			// the layer was unpacked as its bytes arrived: only the
			// commit is left
			u.emit(l, StatusExtracting, l.Size)
		}
		// The layers below are recorded: this one is the staged one, an
		// existing layer (added to the pull's lease), or the same blob
		// again at another place in the stack (unpacked from it).
		var staged map[digest.Digest]*layers.Staged
		if i == s.first {
			staged = map[digest.Digest]*layers.Staged{l.Digest: s.staged}
		}
		if _, err := u.st.CreateLayers(ctx, u.layers[:i+1], u.diffIDs[:i+1], staged); err != nil {
			return fmt.Errorf("unpacking layer %s: %w", l.Digest, err)
		}
		if !u.have[i] {
			u.emit(l, StatusPullComplete, 0)
		}
	}
	return nil
}

// discard removes the layers unpacked but not committed (after a failure).
func (u *unpacker) discard() {
	for _, s := range u.slots {
		s.staged.Discard()
	}
}
func (u *unpacker) emit(l ocispec.Descriptor, status string, current int64) {
	if u.progress != nil {
		u.progress(client.Event{Digest: l.Digest, ID: client.ShortID(l.Digest), Status: status, Current: current, Total: l.Size})
	}
}
