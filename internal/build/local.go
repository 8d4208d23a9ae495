package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/build/cache"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/distribution"
	"github.com/opencontainers/go-digest"
)

// This file holds the real implementations of the builder's roles, over
// the image store (internal/images), the layer store (internal/layers), the
// metadata database (internal/metadata), internal/mount and internal/archive.

// StoreImages is ImageSource and ImageWriter over the image store.
type StoreImages struct{ Store *images.Store }

// Resolve implements ImageSource.
func (s StoreImages) Resolve(ctx context.Context, ref string) (BaseImage, error) {
	f, err := s.Store.Get(ctx, ref)
	if err != nil {
		return BaseImage{}, err
	}
	return BaseImage{ID: f.ID, Config: f.RawConfig, ChainID: f.ChainID}, nil
}

// WriteImage implements ImageWriter: config blob, record and tags in the
// image store's one transaction (tags last).
func (s StoreImages) WriteImage(ctx context.Context, img NewImage) (digest.Digest, error) {
	// A no-op rebuild: the image exists and every tag already names it.
	id := digest.FromBytes(img.Config)
	if cur, err := s.Store.Resolve(ctx, id.String()); err == nil && cur.ID == id {
		same := true
		for _, t := range img.Tags {
			if r, err := s.Store.Resolve(ctx, t); err != nil || r.ID != id {
				same = false
				break
			}
		}
		if same {
			return id, nil
		}
	}
	r, err := s.Store.Create(ctx, images.NewImage{Config: img.Config, Names: img.Tags, Parent: img.Parent})
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// OverlaySnapshotter prepares overlay root filesystems over the layer
// store and commits upper dirs as new layers. Its working directories are
// under Dir (<root>/build/tmp/<pid>/), cleaned by CleanupStale after a crash.
type OverlaySnapshotter struct {
	Layers *layers.Store
	Dir    string
}

// MaxLayers is the most layers overlayfs can stack (the kernel's
// OVL_MAX_STACK).
const MaxLayers = 500

// checkLayerCount refuses, before any mount, a stack overlayfs cannot mount.
func checkLayerCount(n int) error {
	if n > MaxLayers {
		return errdefs.FailedPreconditionf("the image has %d layers: overlayfs stacks at most %d (combine RUN steps or squash layers)", n, MaxLayers)
	}
	return nil
}

type overlaySnap struct {
	o      *OverlaySnapshotter
	parent digest.Digest
	dir    string // holds upper/ work/ rootfs/ (and empty/ for scratch)
	root   string
	mnt    bool
	done   bool
}

func (o *OverlaySnapshotter) tmp() (string, error) {
	d := filepath.Join(o.Dir, strconv.Itoa(os.Getpid()))
	for i := 0; ; i++ {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", err
		}
		// A finishing build of this process may remove d when empty.
		dir, err := os.MkdirTemp(d, "snap-")
		if err == nil || i > 2 || !errors.Is(err, fs.ErrNotExist) {
			return dir, err
		}
	}
}

func (o *OverlaySnapshotter) lowers(ctx context.Context, chainID digest.Digest, dir string) ([]string, error) {
	if chainID == "" {
		empty := filepath.Join(dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return nil, err
		}
		return []string{empty}, nil
	}
	return o.Layers.LowerDirs(ctx, chainID)
}

// Prepare implements Snapshotter.
func (o *OverlaySnapshotter) Prepare(ctx context.Context, parent digest.Digest) (Snapshot, error) {
	dir, err := o.tmp()
	if err != nil {
		return nil, err
	}
	s := &overlaySnap{o: o, parent: parent, dir: dir, root: filepath.Join(dir, "rootfs")}
	fail := func(err error) (Snapshot, error) {
		s.Release(ctx)
		return nil, err
	}
	for _, d := range []string{"upper", "work", "rootfs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return fail(err)
		}
	}
	lowers, err := o.lowers(ctx, parent, dir)
	if err != nil {
		return fail(err)
	}
	if err := checkLayerCount(len(lowers)); err != nil {
		return fail(err)
	}
	m := mount.Overlay(lowers, filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if err := m.Mount(s.root); err != nil {
		return fail(fmt.Errorf("mounting build rootfs (%d layers): %w", len(lowers), err))
	}
	s.mnt = true
	return s, nil
}

func (s *overlaySnap) Root() string { return s.root }

func (s *overlaySnap) Upper() string { return filepath.Join(s.dir, "upper") }

func (s *overlaySnap) unmount() error {
	if !s.mnt {
		return nil
	}
	if err := mount.UnmountAll(s.root); err != nil {
		return err
	}
	s.mnt = false
	return nil
}

// Commit implements Snapshot: the upper dir, an overlay-format layer, is
// moved into the layer store and written once as a layer tar
// (archive.DiffOverlay) for the blob.
func (s *overlaySnap) Commit(ctx context.Context, opts CommitOptions) (Layer, bool, error) {
	defer s.Release(context.WithoutCancel(ctx))
	if err := s.unmount(); err != nil {
		return Layer{}, false, err
	}
	upper := filepath.Join(s.dir, "upper")
	ents, err := os.ReadDir(upper)
	if err != nil {
		return Layer{}, false, err
	}
	if len(ents) == 0 {
		return Layer{}, true, nil
	}
	// The upper dir is already an overlay-format layer: it is moved into
	// the layer store and its tar written once, never re-extracted.
	l, err := s.o.Layers.CreateFromDir(ctx, s.parent, upper, func(ctx context.Context, w io.Writer, dir string) error {
		return archive.DiffOverlay(ctx, w, dir, archive.DiffOptions{SourceDateEpoch: opts.SourceDateEpoch})
	})
	if errors.Is(err, syscall.EXDEV) {
		// The build directory is on another filesystem than the layer
		// store: stream the tar and unpack it there instead.
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(archive.DiffOverlay(ctx, pw, upper, archive.DiffOptions{SourceDateEpoch: opts.SourceDateEpoch}))
		}()
		l, err = s.o.Layers.Create(ctx, s.parent, pr, layers.CreateOptions{})
		pr.CloseWithError(errors.New("layer creation ended"))
	}
	if err != nil {
		return Layer{}, false, fmt.Errorf("storing layer: %w", err)
	}
	return Layer{DiffID: l.DiffID, ChainID: l.ChainID}, false, nil
}

// Release implements Snapshot.
func (s *overlaySnap) Release(ctx context.Context) error {
	if s.done {
		return nil
	}
	if err := s.unmount(); err != nil {
		return err
	}
	s.done = true
	return os.RemoveAll(s.dir)
}

// View implements Snapshotter: a read-only mount of the chain (a single
// layer is used in place).
func (o *OverlaySnapshotter) View(ctx context.Context, chainID digest.Digest) (string, func() error, error) {
	if chainID == "" {
		dir, err := o.tmp()
		if err != nil {
			return "", nil, err
		}
		return dir, func() error { return os.RemoveAll(dir) }, nil
	}
	lowers, err := o.Layers.LowerDirs(ctx, chainID)
	if err != nil {
		return "", nil, err
	}
	if len(lowers) == 1 {
		return lowers[0], func() error { return nil }, nil
	}
	dir, err := o.tmp()
	if err != nil {
		return "", nil, err
	}
	target := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(target, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	if err := mount.Overlay(lowers, "", "").Mount(target); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return target, func() error {
		if err := mount.UnmountAll(target); err != nil {
			return err
		}
		return os.RemoveAll(dir)
	}, nil
}

// Squash implements Squasher as docker's squash does: the two trees are
// compared (archive.DiffDirs, docker's naive diff) and the changes stored as
// one layer on base, so what was added and deleted again above base is
// absent and what was deleted from base is a whiteout.
func (o *OverlaySnapshotter) Squash(ctx context.Context, base, top digest.Digest, opts CommitOptions) (Layer, error) {
	lower, releaseLower, err := o.View(ctx, base)
	if err != nil {
		return Layer{}, err
	}
	defer releaseLower()
	upper, releaseUpper, err := o.View(ctx, top)
	if err != nil {
		return Layer{}, err
	}
	defer releaseUpper()
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(archive.DiffDirs(ctx, pw, lower, upper, archive.DiffOptions{SourceDateEpoch: opts.SourceDateEpoch}))
	}()
	l, err := o.Layers.Create(ctx, base, pr, layers.CreateOptions{})
	pr.CloseWithError(errors.New("layer creation ended"))
	if err != nil {
		return Layer{}, fmt.Errorf("storing squashed layer: %w", err)
	}
	return Layer{DiffID: l.DiffID, ChainID: l.ChainID}, nil
}

// CleanupStale unmounts and removes the temporary areas of dead builder
// processes under tmpDir (<root>/build/tmp/<pid>/), left by a kill -9.
func CleanupStale(tmpDir string) int {
	ents, err := os.ReadDir(tmpDir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		dir := filepath.Join(tmpDir, e.Name())
		mps, _ := mount.MountPoints(dir)
		// Deepest first.
		for i := len(mps) - 1; i >= 0; i-- {
			_ = mount.UnmountAll(mps[i])
		}
		if left, _ := mount.MountPoints(dir); len(left) > 0 {
			continue // never remove through a mount
		}
		if os.RemoveAll(dir) == nil {
			n++
		}
	}
	return n
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ArchiveUnpacker is the Unpacker of ADD over internal/archive: the
// stream is decompressed (gzip, bzip2, xz, zstd) and applied when it is a
// tar archive.
type ArchiveUnpacker struct{}

// Unpack implements Unpacker.
func (ArchiveUnpacker) Unpack(ctx context.Context, mkdir func() (string, error), r io.Reader) (bool, error) {
	dec, _, err := archive.DecompressStream(r)
	if err != nil {
		return false, nil
	}
	defer dec.Close()
	// A tar archive has "ustar" at offset 257 of its first header block.
	head := make([]byte, 512)
	n, err := io.ReadFull(dec, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, nil
	}
	if n < 263 || !strings.HasPrefix(string(head[257:263]), "ustar") {
		return false, nil
	}
	dir, err := mkdir()
	if err != nil {
		return true, err
	}
	if _, err := archive.Apply(ctx, dir, io.MultiReader(strings.NewReader(string(head[:n])), dec), archive.ApplyOptions{}); err != nil {
		return true, errdefs.InvalidArgument(err)
	}
	return true, nil
}

// NewLocal returns a Builder over the stores of a hoist root. runner runs
// RUN steps (nil: builds with RUN fail with a clear error).
func NewLocal(st *images.Store, runner Runner) *Builder {
	dir := filepath.Join(st.Root(), "build")
	// After a kill -9: first stop the dead builds' containers, then
	// unmount and remove their snapshots.
	if c, ok := runner.(interface{ Cleanup() }); ok {
		c.Cleanup()
	}
	CleanupStale(filepath.Join(dir, "tmp"))
	snaps := &OverlaySnapshotter{Layers: st.Layers(), Dir: filepath.Join(dir, "tmp")}
	return &Builder{
		Images:    StoreImages{st},
		Writer:    StoreImages{st},
		Snapshots: snaps,
		Squasher:  snaps,
		Cache:     cache.Bolt{DB: st.DB()},
		Unpacker:  ArchiveUnpacker{},
		Runner:    runner,
		Dir:       dir,
		Lease:     st.DB().WithLease,
		Tar: func(ctx context.Context, w io.Writer, dir string, epoch *time.Time) error {
			return archive.Tar(ctx, w, dir, archive.TarOptions{SourceDateEpoch: epoch})
		},
	}
}

// RegistryPuller is the Puller over the registry client: the image is pulled
// into the store (tag written last) as `hoist pull` does, then resolved.
type RegistryPuller struct {
	Client *client.Client
	Store  *images.Store
}

// Pull implements Puller.
func (p RegistryPuller) Pull(ctx context.Context, ref string) (BaseImage, error) {
	n, err := reference.ParseTagged(ref)
	if err != nil {
		return BaseImage{}, err
	}
	res, err := distribution.Pull(ctx, p.Client, p.Store, n, distribution.PullOptions{})
	if err != nil {
		return BaseImage{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	return StoreImages{p.Store}.Resolve(ctx, res.ImageID.String())
}
