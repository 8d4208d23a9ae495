package container

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mount"
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
	if err := mount.Overlay(c.lowerTopFirst(), filepath.Join(c.dir, "upper"), work).Mount(view); err != nil {
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
	lowers := c.lowerTopFirst()
	if err := mount.Overlay(lowers, "", "").Mount(view); err != nil {
		return nil, fmt.Errorf("mount image layers of %s: %w", c.ID, err)
	}
	defer mount.UnmountAll(view)
	exists := func(p string) bool {
		_, err := os.Lstat(filepath.Join(view, filepath.FromSlash(p)))
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
		clean := path.Clean("/" + src)
		parent, base := path.Split(clean)
		if base == "" {
			base = "."
		}
		dir, err := securejoin.SecureJoin(rootfs, parent)
		if err != nil {
			return err
		}
		full := filepath.Join(dir, base)
		fi, err := os.Lstat(full)
		if err != nil {
			return errdefs.NotFoundf("Could not find the file %s in container %s", src, ref)
		}
		if follow && fi.Mode()&os.ModeSymlink != 0 {
			if full, err = securejoin.SecureJoin(rootfs, strings.TrimPrefix(clean, "/")); err != nil {
				return err
			}
			if fi, err = os.Lstat(full); err != nil {
				return errdefs.NotFoundf("Could not find the file %s in container %s", src, ref)
			}
		}
		name := base
		if clean == "/" {
			name = "."
		}
		if as != "" {
			name = as
		}
		return tarPath(ctx, w, full, fi, name, nil)
	})
}

// tarPath writes full (a file, symlink or directory) as a tar stream whose
// entries are under name.
func tarPath(ctx context.Context, w io.Writer, full string, fi os.FileInfo, name string, fix func(*tar.Header)) error {
	if fix == nil {
		fix = func(*tar.Header) {}
	}
	if fi.IsDir() {
		// archive.Tar writes the directory's contents; put them under name.
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(archive.Tar(ctx, pw, full, archive.TarOptions{})) }()
		tr := tar.NewReader(pr)
		tw := tar.NewWriter(w)
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			pr.CloseWithError(err)
			return err
		}
		hdr.Name, hdr.Uname, hdr.Gname = name+"/", "", ""
		fix(hdr)
		if err := tw.WriteHeader(hdr); err != nil {
			pr.CloseWithError(err)
			return err
		}
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			h.Name = path.Join(name, h.Name)
			if h.Typeflag == tar.TypeDir {
				h.Name += "/"
			}
			if h.Typeflag == tar.TypeLink {
				h.Linkname = path.Join(name, h.Linkname)
			}
			fix(h)
			if err := tw.WriteHeader(h); err != nil {
				pr.CloseWithError(err)
				return err
			}
			if _, err := io.Copy(tw, tr); err != nil {
				pr.CloseWithError(err)
				return err
			}
		}
		return tw.Close()
	}
	link := ""
	if fi.Mode()&os.ModeSymlink != 0 {
		l, err := os.Readlink(full)
		if err != nil {
			return err
		}
		link = l
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name, hdr.Uname, hdr.Gname = name, "", ""
	fix(hdr)
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if fi.Mode().IsRegular() {
		f, err := os.OpenFile(full, os.O_RDONLY|0x20000 /* O_NOFOLLOW */, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(tw, f); err != nil {
			return err
		}
	}
	return tw.Close()
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
		dir, err := securejoin.SecureJoin(rootfs, path.Clean("/"+dst))
		if err != nil {
			return err
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return errdefs.NotFoundf("Could not find the file %s in container %s", dst, ref)
		}
		if !fi.IsDir() {
			return errdefs.InvalidArgumentf("extraction point is not a directory: %s", dst)
		}
		_, err = archive.Apply(ctx, dir, r, archive.ApplyOptions{})
		return err
	})
}

// TarHostPath writes a host path as a tar stream under name (for `cp` into a
// container). Unless keepOwner, entries are owned by root (docker cp without
// -a).
func TarHostPath(ctx context.Context, w io.Writer, hostPath, name string, follow, keepOwner bool) error {
	stat := os.Lstat
	if follow {
		stat = os.Stat
	}
	fi, err := stat(hostPath)
	if err != nil {
		return errdefs.NotFoundf("could not find the file %s on the host", hostPath)
	}
	if follow && fi.Mode()&os.ModeSymlink == 0 {
		if p, err := filepath.EvalSymlinks(hostPath); err == nil {
			hostPath = p
		}
	}
	var fix func(*tar.Header)
	if !keepOwner {
		fix = func(h *tar.Header) { h.Uid, h.Gid = 0, 0 }
	}
	return tarPath(ctx, w, hostPath, fi, name, fix)
}

// Stat describes the path p inside the container (resolved in its rootfs).
func (m *Manager) Stat(ctx context.Context, ref, p string) (os.FileInfo, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	var fi os.FileInfo
	err = m.withRootfs(ctx, c, func(rootfs string) error {
		full, err := securejoin.SecureJoin(rootfs, path.Clean("/"+p))
		if err != nil {
			return err
		}
		fi, err = os.Stat(full)
		return err
	})
	return fi, err
}
