package cp

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
)

// openRoot opens the root filesystem's directory (a host path the
// container cannot change) as the handle every path inside it is resolved
// from.
func openRoot(rootfs string) (*os.File, error) {
	fd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: rootfs, Err: err}
	}
	return os.NewFile(uintptr(fd), rootfs), nil
}

// missing reports whether err says a path (or a directory on the way to
// it) does not exist.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR)
}

// From writes a tar stream of the path src in the root filesystem rootfs
// of container ref (a file or directory, named by its base name in the
// stream), as `docker cp CTR:SRC -` does. src is resolved inside rootfs
// (symlinks cannot leave it); with follow, a final symlink is followed.
// as names the top entry ("" keeps the base name). Nothing is looked up
// by name on the host: see the package documentation.
func From(ctx context.Context, w io.Writer, rootfs, ref, src string, follow bool, as string) error {
	root, err := openRoot(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	clean := path.Clean("/" + src)
	if as == "" {
		as = path.Base(clean)
		if clean == "/" {
			as = "."
		}
	}
	err = tarEntry(ctx, w, root, clean, follow, as, archive.TarOptions{})
	if missing(err) {
		return errdefs.NotFoundf("Could not find the file %s in container %s", src, ref)
	}
	return err
}

// tarEntry writes the path p inside root as a tar stream whose top entry
// is as.
func tarEntry(ctx context.Context, w io.Writer, root *os.File, p string, follow bool, as string, opts archive.TarOptions) error {
	dir, name, err := fsutil.OpenParentInRoot(root, p, follow)
	if err != nil {
		return err
	}
	defer dir.Close()
	return archive.TarEntry(ctx, w, dir, name, as, opts)
}

// To extracts the tar stream r into the directory dst in the root
// filesystem rootfs of container ref, as `docker cp - CTR:DST` does. dst is
// resolved inside rootfs and the extraction, relative to the directory
// handle that resolution gave, never writes outside it.
func To(ctx context.Context, rootfs, ref, dst string, r io.Reader) error {
	root, err := openRoot(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	fd, err := fsutil.OpenInRoot(root, path.Clean("/"+dst), unix.O_PATH)
	if err != nil {
		if missing(err) {
			return errdefs.NotFoundf("Could not find the file %s in container %s", dst, ref)
		}
		return err
	}
	dir := os.NewFile(uintptr(fd), dst)
	defer dir.Close()
	fi, err := dir.Stat()
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errdefs.InvalidArgumentf("extraction point is not a directory: %s", dst)
	}
	_, err = archive.ApplyAt(ctx, dir, r, archive.ApplyOptions{})
	return err
}

// Stat describes the path p of the root filesystem rootfs, resolved inside
// it (a final symlink followed, inside it too).
func Stat(rootfs, p string) (os.FileInfo, error) {
	root, err := openRoot(rootfs)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fd, err := fsutil.OpenInRoot(root, path.Clean("/"+p), unix.O_PATH)
	if err != nil {
		return nil, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), path.Base(path.Clean("/"+p)))
	defer f.Close()
	return f.Stat()
}

// TarHostPath writes a host path as a tar stream under name (for `cp` into a
// container). Unless keepOwner, entries are owned by root (docker cp without
// -a).
func TarHostPath(ctx context.Context, w io.Writer, hostPath, name string, follow, keepOwner bool) error {
	abs, err := filepath.Abs(hostPath)
	if err != nil {
		return err
	}
	root, err := openRoot("/")
	if err != nil {
		return err
	}
	defer root.Close()
	err = tarEntry(ctx, w, root, abs, follow, name, archive.TarOptions{ChownRoot: !keepOwner})
	if missing(err) {
		return errdefs.NotFoundf("could not find the file %s on the host", hostPath)
	}
	return err
}
