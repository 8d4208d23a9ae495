package container

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/container/cp"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/hoistproject/hoist/internal/snapshot"
)

// lowerTopFirst is the container's read-only stack, top first: its init
// layer then the image's layers.
func (c *Container) lowerTopFirst() []string {
	lowers := []string{filepath.Join(c.dir, "init")}
	for i := len(c.LowerDirs) - 1; i >= 0; i-- {
		lowers = append(lowers, c.LowerDirs[i])
	}
	return lowers
}

// withRootfs calls fn with the container's merged rootfs: the running
// container's mount, or a temporary mount of a stopped one.
func (m *Manager) withRootfs(ctx context.Context, c *Container, fn func(rootfs string) error) error {
	rootfs := filepath.Join(c.dir, "rootfs")
	if c.State.Running() || c.Storage == StorageCopy {
		return fn(rootfs)
	}
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	view := filepath.Join(c.dir, fmt.Sprintf("view-%d", os.Getpid()))
	if err := os.Mkdir(view, 0o700); err != nil {
		return err
	}
	defer os.Remove(view)
	// A separate work dir: the overlay's own one may be in use by a start.
	work := filepath.Join(c.dir, fmt.Sprintf("work-%d", os.Getpid()))
	os.RemoveAll(work)
	if err := os.Mkdir(work, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(work)
	ov, err := snapshot.Mount(m.overlay, c.lowerTopFirst(), filepath.Join(c.dir, "upper"), work)
	if err != nil {
		return err
	}
	if err := ov.Mount(view); err != nil {
		return fmt.Errorf("mount rootfs of %s: %w", c.ID, err)
	}
	defer mount.UnmountAll(view)
	return fn(view)
}

// Diff lists the container's filesystem changes like `docker diff`.
func (m *Manager) Diff(ctx context.Context, ref string) ([]archive.Change, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if c.Storage == StorageCopy {
		return nil, errdefs.NotImplementedf("diff of %s: its filesystem is a plain copy (overlayfs was unavailable)", c.ID)
	}
	// The read-only stack, mounted on its own, answers "did it exist below?"
	// with whiteouts applied.
	view := filepath.Join(c.dir, fmt.Sprintf("lower-%d", os.Getpid()))
	if err := os.Mkdir(view, 0o700); err != nil {
		return nil, err
	}
	defer os.Remove(view)
	ov, err := snapshot.Mount(m.overlay, c.lowerTopFirst(), "", "")
	if err != nil {
		return nil, err
	}
	if err := ov.Mount(view); err != nil {
		return nil, fmt.Errorf("mount image layers of %s: %w", c.ID, err)
	}
	defer mount.UnmountAll(view)
	root, err := os.Open(view)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	// Resolved inside the stack: a symlink of the image never leads to the
	// host's files.
	exists := func(p string) bool {
		fd, err := fsutil.OpenInRoot(root, p, unix.O_PATH|unix.O_NOFOLLOW)
		if err == nil {
			unix.Close(fd)
		}
		return err == nil
	}
	return archive.OverlayChanges(filepath.Join(c.dir, "upper"), exists)
}

// Export writes the container's merged filesystem as a tar stream.
func (m *Manager) Export(ctx context.Context, ref string, w io.Writer) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	return m.withRootfs(ctx, c, func(rootfs string) error {
		return archive.Tar(ctx, w, rootfs, archive.TarOptions{})
	})
}

// CopyFrom writes a tar stream of the path src in the container (a file or
// directory, named by its base name in the stream), as `docker cp CTR:SRC -`
// does. src is resolved inside the rootfs (symlinks cannot leave it); with
// follow, a final symlink is followed. as names the top entry ("" keeps the
// base name).
func (m *Manager) CopyFrom(ctx context.Context, ref, src string, follow bool, as string, w io.Writer) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	return m.withRootfs(ctx, c, func(rootfs string) error {
		return cp.From(ctx, w, rootfs, ref, src, follow, as)
	})
}

// CopyTo extracts the tar stream r into the directory dst in the container,
// as `docker cp - CTR:DST` does. dst is resolved inside the rootfs and the
// extraction never writes outside it.
func (m *Manager) CopyTo(ctx context.Context, ref, dst string, r io.Reader) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	return m.withRootfs(ctx, c, func(rootfs string) error {
		return cp.To(ctx, rootfs, ref, dst, r)
	})
}

// Stat describes the path p inside the container (resolved in its rootfs).
func (m *Manager) Stat(ctx context.Context, ref, p string) (os.FileInfo, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	var fi os.FileInfo
	err = m.withRootfs(ctx, c, func(rootfs string) error {
		fi, err = cp.Stat(rootfs, p)
		return err
	})
	return fi, err
}
