package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mediatype"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// Progress statuses, in docker's words.
const (
	StatusPullingFSLayer    = "Pulling fs layer"
	StatusWaiting           = "Waiting"
	StatusDownloading       = "Downloading"
	StatusVerifying         = "Verifying Checksum"
	StatusDownloadComplete  = "Download complete"
	StatusAlreadyExists     = "Already exists"
	StatusPreparing         = "Preparing"
	StatusPushing           = "Pushing"
	StatusPushed            = "Pushed"
	StatusLayerExists       = "Layer already exists"
	StatusMountedFromPrefix = "Mounted from "
)

// RetryingStatus is docker's status of a transfer waiting secs seconds
// before it retries.
func RetryingStatus(secs int) string {
	if secs == 1 {
		return "Retrying in 1 second"
	}
	return fmt.Sprintf("Retrying in %d seconds", secs)
}

// Event reports the progress of one blob of a pull or push.
type Event struct {
	Digest  digest.Digest
	ID      string // docker's short id: the first 12 hex digits
	Status  string
	Current int64 // bytes moved so far (Downloading, Pushing)
	Total   int64
}

// ProgressFunc receives events; it is called from several goroutines.
type ProgressFunc func(Event)

// ShortID is docker's short form of a digest (12 hex digits).
func ShortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		return e[:12]
	}
	return e
}

func (p ProgressFunc) emit(d digest.Digest, status string, cur, total int64) {
	if p != nil {
		p(Event{Digest: d, ID: ShortID(d), Status: status, Current: cur, Total: total})
	}
}

// Store is where a pull writes: blobs are written and checked for presence.
type Store interface {
	content.Ingester
	content.InfoProvider
}

// PullOptions tune Pull.
type PullOptions struct {
	// Platform picks the manifest of an index (DefaultPlatform when nil).
	Platform *ocispec.Platform
	// Parallel bounds concurrent layer downloads (0: 3, as docker).
	Parallel int
	Progress ProgressFunc
	// Manifest, when set, is called with the image manifest (its
	// descriptor and content) once its config is in the store and before
	// any layer is downloaded.
	Manifest func(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest) error
	// Claim, when set, is called with each manifest and config digest
	// before Pull looks in the store for it or writes it: a store shared
	// with processes that delete blobs (prune) protects it there, so that a
	// blob found present is not removed before the caller records it.
	Claim func(ctx context.Context, d digest.Digest) error
	// LayerDone, when set, is called as soon as each layer blob is in the
	// store (in completion order, from several goroutines), so unpacking can
	// overlap downloading.
	LayerDone func(ctx context.Context, layer ocispec.Descriptor) error
	// StoreLayer, when set, stores each layer blob missing from the store
	// in Pull's place, so that it can be unpacked while it downloads: it
	// gets the blob's stream (size and digest verified while streaming: a
	// mismatch is an error from the last Read; resumed with Range requests
	// after a dropped connection) and must read it to the end and have the
	// blob in the store when it returns nil.
	StoreLayer func(ctx context.Context, layer ocispec.Descriptor, r io.Reader) error
}

// PullResult describes what Pull stored.
type PullResult struct {
	Repository *Repository         // where it came from (maybe a mirror)
	Index      *ocispec.Descriptor // the index ref named, if any
	Manifest   ocispec.Descriptor  // the platform's image manifest
	Config     ocispec.Descriptor
	Layers     []ocispec.Descriptor
}

// Pull copies the image ref (tag or digest) from the first repository of
// repos that has it (mirrors first, see Client.PullRepositories) into store:
// the index (if any), the platform's manifest, its config and its layers
// (downloaded in parallel, each verified while streaming, skipped when
// already present). Manifests are stored byte for byte so a later push
// reproduces their digests. Nothing names the image: the caller tags it
// after Pull returns, so a failed pull never leaves a tag behind.
func Pull(ctx context.Context, repos []*Repository, ref string, store Store, opts PullOptions) (PullResult, error) {
	if len(repos) == 0 {
		return PullResult{}, errdefs.InvalidArgumentf("no repository to pull from")
	}
	var (
		repo *Repository
		desc ocispec.Descriptor
		err  error
	)
	for i, r := range repos {
		desc, err = r.Resolve(ctx, ref)
		if err == nil {
			repo = r
			break
		}
		if ctx.Err() != nil || i == len(repos)-1 {
			return PullResult{}, err
		}
		r.c.opts.Logger.Info("mirror failed, trying the next source", "mirror", r.h.addr, "err", err)
	}
	res := PullResult{Repository: repo}
	manifest, err := fetchStored(ctx, repo, store, desc, opts.Claim)
	if err != nil {
		return res, err
	}
	if mediatype.IsIndex(desc.MediaType) {
		want := DefaultPlatform()
		if opts.Platform != nil {
			want = *opts.Platform
		}
		idx := desc
		res.Index = &idx
		desc, err = SelectManifest(manifest, want)
		if err != nil {
			return res, fmt.Errorf("%s: %w", describeRef(repo.name, ref), err)
		}
		if desc.MediaType != "" && !mediatype.IsManifest(desc.MediaType) {
			return res, errdefs.InvalidArgumentf("index entry %s has media type %q, not an image manifest", desc.Digest, desc.MediaType)
		}
		if desc.MediaType == "" {
			desc.MediaType = ocispec.MediaTypeImageManifest
		}
		if manifest, err = fetchStored(ctx, repo, store, desc, opts.Claim); err != nil {
			return res, err
		}
		if mediatype.IsIndex(desc.MediaType) {
			return res, errdefs.NotImplementedf("nested index %s is not supported", desc.Digest)
		}
	}
	res.Manifest = desc
	var m ocispec.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return res, errdefs.InvalidArgumentf("manifest %s: %v", desc.Digest, err)
	}
	if err := m.Config.Digest.Validate(); err != nil {
		return res, errdefs.InvalidArgumentf("manifest %s: config digest %q: %v", desc.Digest, m.Config.Digest, err)
	}
	for _, l := range m.Layers {
		if err := l.Digest.Validate(); err != nil {
			return res, errdefs.InvalidArgumentf("manifest %s: layer digest %q: %v", desc.Digest, l.Digest, err)
		}
	}
	res.Config, res.Layers = m.Config, m.Layers
	cfg, err := fetchConfig(ctx, repo, store, m.Config, opts.Claim)
	if err != nil {
		return res, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if res.Index == nil && opts.Platform != nil {
		var p ocispec.Platform
		if json.Unmarshal(cfg, &p) == nil && (p.OS != opts.Platform.OS || normArch(p.Architecture) != opts.Platform.Architecture ||
			(opts.Platform.Variant != "" && normVariant(p.Architecture, p.Variant) != normVariant(opts.Platform.Architecture, opts.Platform.Variant))) {
			return res, errdefs.NotFoundf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s",
				describeRef(repo.name, ref), FormatPlatform(*opts.Platform), FormatPlatform(p))
		}
	}
	if opts.Manifest != nil {
		if err := opts.Manifest(ctx, desc, m); err != nil {
			return res, err
		}
	}

	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = 3
	}
	for _, l := range m.Layers {
		if ok, _ := content.Exists(ctx, store, l.Digest); ok {
			opts.Progress.emit(l.Digest, StatusAlreadyExists, 0, l.Size)
		} else {
			opts.Progress.emit(l.Digest, StatusPullingFSLayer, 0, l.Size)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	seen := map[digest.Digest]bool{}
	for _, l := range m.Layers {
		if seen[l.Digest] {
			continue
		}
		seen[l.Digest] = true
		g.Go(func() error {
			if ok, _ := content.Exists(gctx, store, l.Digest); !ok {
				if err := copyBlob(gctx, repo, store, l, opts.Progress, opts.StoreLayer); err != nil {
					return fmt.Errorf("layer %s: %w", l.Digest, err)
				}
			}
			if opts.LayerDone != nil {
				return opts.LayerDone(gctx, l)
			}
			return nil
		})
	}
	return res, g.Wait()
}

// fetchConfig fetches an image config (small, verified) and stores it.
func fetchConfig(ctx context.Context, repo *Repository, store Store, desc ocispec.Descriptor, claim func(context.Context, digest.Digest) error) ([]byte, error) {
	if desc.Size > MaxManifestSize*4 {
		return nil, errdefs.InvalidArgumentf("image config is %d bytes, over the limit", desc.Size)
	}
	rc, err := repo.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return b, storeBlob(ctx, store, desc.Digest, b, claim)
}

// fetchStored fetches a manifest by digest (verified) and stores its bytes.
func fetchStored(ctx context.Context, repo *Repository, store Store, desc ocispec.Descriptor, claim func(context.Context, digest.Digest) error) ([]byte, error) {
	b, err := repo.FetchManifest(ctx, desc)
	if err != nil {
		return nil, err
	}
	return b, storeBlob(ctx, store, desc.Digest, b, claim)
}

// storeBlob writes b (verified to be d) into store unless it is there,
// claiming d first (PullOptions.Claim).
func storeBlob(ctx context.Context, store Store, d digest.Digest, b []byte, claim func(context.Context, digest.Digest) error) error {
	if claim != nil {
		if err := claim(ctx, d); err != nil {
			return err
		}
	}
	if ok, _ := content.Exists(ctx, store, d); !ok {
		if _, err := content.WriteBlob(ctx, store, byteReader(b), int64(len(b)), d); err != nil {
			return err
		}
	}
	return nil
}

func byteReader(b []byte) io.Reader { return &sliceReader{b: b} }

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// copyBlob streams one blob from repo into store (or through storeFn when
// set), reporting progress.
func copyBlob(ctx context.Context, repo *Repository, store Store, desc ocispec.Descriptor, progress ProgressFunc,
	storeFn func(context.Context, ocispec.Descriptor, io.Reader) error) error {
	if ok, _ := content.Exists(ctx, store, desc.Digest); ok {
		return nil
	}
	rc, err := repo.Fetch(ctx, desc)
	if err != nil {
		return err
	}
	defer rc.Close()
	var src io.Reader = rc
	if progress != nil {
		src = &progressReader{r: rc, d: desc.Digest, total: desc.Size, p: progress}
	}
	size := desc.Size
	if size <= 0 {
		size = -1
	}
	if storeFn != nil {
		if err := storeFn(ctx, desc, src); err != nil {
			return err
		}
		if ok, _ := content.Exists(ctx, store, desc.Digest); !ok {
			return fmt.Errorf("blob %s is not in the store after it was stored", desc.Digest)
		}
	} else if _, err := content.WriteBlob(ctx, store, src, size, desc.Digest); err != nil {
		return err
	}
	progress.emit(desc.Digest, StatusVerifying, desc.Size, desc.Size)
	progress.emit(desc.Digest, StatusDownloadComplete, desc.Size, desc.Size)
	return nil
}

type progressReader struct {
	r     io.Reader
	d     digest.Digest
	n     int64
	total int64
	p     ProgressFunc
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.n += int64(n)
		r.p.emit(r.d, StatusDownloading, r.n, r.total)
	}
	return n, err
}

// PushOptions tune Push.
type PushOptions struct {
	// Parallel bounds concurrent blob uploads (0: 5, as docker).
	Parallel int
	Progress ProgressFunc
	// MountFrom returns repositories of the same registry (paths such as
	// "library/busybox") known to hold a blob; the registry is asked to
	// mount from them before uploading.
	MountFrom func(digest.Digest) []string
}

// Push copies the image or index root from src to repo: every blob the
// registry lacks (checked with HEAD; mounted from another repository when
// MountFrom names one; else uploaded, resumably), then the manifests,
// children first, and the root last under tag ("" : by digest only). It
// returns the root's descriptor as the registry stored it.
func Push(ctx context.Context, src content.Provider, repo *Repository, root ocispec.Descriptor, tag string, opts PushOptions) (ocispec.Descriptor, error) {
	if !mediatype.IsManifest(root.MediaType) {
		return ocispec.Descriptor{}, errdefs.InvalidArgumentf("cannot push %s: media type %q is not a manifest or index", root.Digest, root.MediaType)
	}
	p := &pusher{src: src, repo: repo, opts: opts, done: map[digest.Digest]bool{}}
	if p.opts.Parallel <= 0 {
		p.opts.Parallel = 5
	}
	ref := tag
	if ref == "" {
		ref = root.Digest.String()
	}
	return p.pushManifest(ctx, root, ref)
}

type pusher struct {
	src  content.Provider
	repo *Repository
	opts PushOptions

	mu   sync.Mutex
	done map[digest.Digest]bool
}

func (p *pusher) pushManifest(ctx context.Context, desc ocispec.Descriptor, ref string) (ocispec.Descriptor, error) {
	b, err := content.ReadBlob(ctx, p.src, desc.Digest, MaxManifestSize)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if desc.Digest.Algorithm().FromBytes(b) != desc.Digest {
		return ocispec.Descriptor{}, errdefs.DataLossf("local manifest %s is corrupt", desc.Digest)
	}
	if mediatype.IsIndex(desc.MediaType) {
		var idx ocispec.Index
		if err := json.Unmarshal(b, &idx); err != nil {
			return ocispec.Descriptor{}, errdefs.InvalidArgumentf("index %s: %v", desc.Digest, err)
		}
		for _, child := range idx.Manifests {
			if mediatype.IsManifest(child.MediaType) {
				if _, err := p.pushManifest(ctx, child, child.Digest.String()); err != nil {
					return ocispec.Descriptor{}, err
				}
				continue
			}
			if err := p.pushBlobs(ctx, []ocispec.Descriptor{child}); err != nil {
				return ocispec.Descriptor{}, err
			}
		}
	} else {
		var m ocispec.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return ocispec.Descriptor{}, errdefs.InvalidArgumentf("manifest %s: %v", desc.Digest, err)
		}
		if err := p.pushBlobs(ctx, m.Layers); err != nil {
			return ocispec.Descriptor{}, err
		}
		// the config goes silently, as with docker
		if err := p.pushBlob(ctx, m.Config, nil); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("config %s: %w", m.Config.Digest, err)
		}
	}
	return p.repo.PushManifest(ctx, ref, desc.MediaType, b)
}

func (p *pusher) pushBlobs(ctx context.Context, blobs []ocispec.Descriptor) error {
	var todo []ocispec.Descriptor
	p.mu.Lock()
	for _, b := range blobs {
		if !p.done[b.Digest] {
			p.done[b.Digest] = true
			todo = append(todo, b)
		}
	}
	p.mu.Unlock()
	for _, b := range todo {
		p.opts.Progress.emit(b.Digest, StatusPreparing, 0, b.Size)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.opts.Parallel)
	for _, b := range todo {
		g.Go(func() error { return p.pushBlob(gctx, b, p.opts.Progress) })
	}
	return g.Wait()
}

func (p *pusher) pushBlob(ctx context.Context, desc ocispec.Descriptor, progress ProgressFunc) error {
	if ok, err := p.repo.Exists(ctx, desc.Digest); err != nil {
		return err
	} else if ok {
		progress.emit(desc.Digest, StatusLayerExists, desc.Size, desc.Size)
		return nil
	}
	if p.opts.MountFrom != nil {
		for _, from := range p.opts.MountFrom(desc.Digest) {
			if from == p.repo.path {
				continue
			}
			ok, err := p.repo.Mount(ctx, desc.Digest, from)
			if err != nil && !errors.Is(err, errdefs.ErrNotFound) && !errors.Is(err, errdefs.ErrForbidden) && !errors.Is(err, errdefs.ErrUnauthorized) {
				return err
			}
			if ok {
				progress.emit(desc.Digest, StatusMountedFromPrefix+from, desc.Size, desc.Size)
				return nil
			}
		}
	}
	r, err := p.src.Open(ctx, desc.Digest)
	if err != nil {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	defer r.Close()
	var ra io.ReaderAt = r
	if progress != nil {
		ra = &progressReaderAt{r: r, d: desc.Digest, total: desc.Size, p: progress}
	}
	progress.emit(desc.Digest, StatusPushing, 0, desc.Size)
	if err := p.repo.PushBlobWithProgress(ctx, desc, ra, progress); err != nil {
		return err
	}
	progress.emit(desc.Digest, StatusPushed, desc.Size, desc.Size)
	return nil
}

// progressReaderAt reports the furthest byte read so far.
type progressReaderAt struct {
	r     io.ReaderAt
	d     digest.Digest
	total int64
	p     ProgressFunc

	mu  sync.Mutex
	max int64
}

func (r *progressReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n, err := r.r.ReadAt(b, off)
	if n > 0 {
		r.mu.Lock()
		if end := off + int64(n); end > r.max {
			r.max = end
			r.p.emit(r.d, StatusPushing, end, r.total)
		}
		r.mu.Unlock()
	}
	return n, err
}
