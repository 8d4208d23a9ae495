package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/opencontainers/go-digest"
)

// Overlay prepares overlay root filesystems over the layer store and
// commits upper dirs as new layers. Its working directories are under Dir
// (<root>/build/tmp/<pid>/), cleaned by CleanupStale after a crash.
type Overlay struct {
	Layers *layers.Store
	Dir    string
}

// MaxLayers is the most layers overlayfs can stack (the kernel's
// OVL_MAX_STACK).
const MaxLayers = 500

// Mount is the overlay mount of a stack of read-only layer directories
// (lowers, topmost first) of the root's overlay kind, writable when upper
// and work are given. It is the one place where a stack becomes a mount,
// for build steps and containers alike, so a stack overlayfs cannot mount
// is refused here, before any mount, whoever asks.
func Mount(kind string, lowers []string, upper, work string) (mount.Mount, error) {
	if n := len(lowers); n > MaxLayers {
		return mount.Mount{}, errdefs.FailedPreconditionf("the image has %d layers: overlayfs stacks at most %d (combine RUN steps or squash layers)", n, MaxLayers)
	}
	return mount.Overlay(kind, lowers, upper, work), nil
}

type overlaySnap struct {
	o      *Overlay
	parent digest.Digest
	dir    string // holds upper/ work/ rootfs/ (and empty/ for scratch)
	root   string
	mnt    bool
	done   bool
}

func (o *Overlay) tmp() (string, error) {
	d := filepath.Join(o.Dir, strconv.Itoa(os.Getpid()))
	for i := 0; ; i++ {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", err
		}
		fsutil.MarkTopDir(o.Dir) // each build's trees away from deleted ones
		// A finishing build of this process may remove d when empty.
		dir, err := os.MkdirTemp(d, "snap-")
		if err == nil || i > 2 || !errors.Is(err, fs.ErrNotExist) {
			return dir, err
		}
	}
}

func (o *Overlay) lowers(ctx context.Context, chainID digest.Digest, dir string) ([]string, error) {
	if chainID == "" {
		empty := filepath.Join(dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return nil, err
		}
		return []string{empty}, nil
	}
	return o.Layers.LowerDirs(ctx, chainID)
}

// Prepare returns a writable snapshot over the chain whose top layer is
// parent ("" for scratch).
func (o *Overlay) Prepare(ctx context.Context, parent digest.Digest) (Snapshot, error) {
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
	m, err := Mount(o.Layers.OverlayKind(), lowers, filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if err != nil {
		return fail(err)
	}
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
		l, err = s.o.Layers.Create(ctx, s.parent, pr, layers.TarOptions{})
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

// LayerDir is the directory of the layer chainID alone (its overlay
// lowerdir, unpacked when it was not yet). It is read-only: nothing may
// write into it (COPY hardlinks unchanged files from it, see
// copier.Reuse).
func (o *Overlay) LayerDir(ctx context.Context, chainID digest.Digest) (string, error) {
	lowers, err := o.Layers.LowerDirs(ctx, chainID)
	if err != nil {
		return "", err
	}
	return lowers[0], nil
}

// View returns a read-only tree of the chain (a mount; a single layer is
// used in place) and a function to release it.
func (o *Overlay) View(ctx context.Context, chainID digest.Digest) (string, func() error, error) {
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
	m, err := Mount(o.Layers.OverlayKind(), lowers, "", "")
	if err == nil {
		err = m.Mount(target)
	}
	if err != nil {
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

// Squash stores, on top of base, one layer holding every change from
// the tree of base to the tree of top, as docker's squash does: the two trees are
// compared (archive.DiffDirs, docker's naive diff) and the changes stored as
// one layer on base, so what was added and deleted again above base is
// absent and what was deleted from base is a whiteout.
func (o *Overlay) Squash(ctx context.Context, base, top digest.Digest, opts CommitOptions) (Layer, error) {
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
	l, err := o.Layers.Create(ctx, base, pr, layers.TarOptions{})
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
		if err != nil || pid == os.Getpid() || fsutil.ProcessAlive(pid) {
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
