package spec

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/fsutil"
)

// prepareMountPoints makes the way to the mount point of each of mounts
// inside rootfs, as runc would at mount time, and sets its Destination to
// the path it resolved to, so that the runtime finds existing parent
// directories (and file, for a bind of one) with no symlink on the way
// (the mount point itself is then a plain name): symlinks in the
// image are resolved as if rootfs were "/" (securejoin), one to a missing
// directory included, whose directory is then made inside rootfs (crun
// refuses a destination through a dangling symlink; runc makes it). A
// mount under an earlier one's destination is left to the runtime, which
// makes its point on that mount. A point it cannot make is left to the
// runtime too, which then reports it.
// The runtime's own mounts (fixed: /proc, /dev, ...) are always made on
// their own filesystems: a mount at or below one of them is left to the
// runtime.
func prepareMountPoints(rootfs string, mounts []specs.Mount, fixed []string) {
	var earlier []string
	for i := range mounts {
		m := &mounts[i]
		skip := under(m.Destination, earlier) || under(m.Destination, fixed) || slices.Contains(fixed, filepath.Clean(m.Destination))
		earlier = append(earlier, m.Destination)
		if skip {
			continue
		}
		host, err := securejoin.SecureJoin(rootfs, m.Destination)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(rootfs, host)
		if err != nil || rel == "." || strings.HasPrefix(rel, "../") || under("/"+rel, earlier[:i]) || under("/"+rel, fixed) {
			continue
		}
		file := false
		if m.Type == "bind" {
			fi, err := os.Stat(m.Source)
			file = err == nil && !fi.IsDir()
		}
		if !makeMountPoint(rootfs, rel, file) {
			continue
		}
		m.Destination = "/" + rel
	}
}

// makeMountPoint makes the parent directories of rel inside rootfs, and
// for a file the empty file rel if it is missing; it reports whether they
// are there. A directory's own is left to the runtime, which makes it as
// docker's does (runc gives a tmpfs on an existing directory that
// directory's mode, on one it made the tmpfs's own, 1777).
func makeMountPoint(rootfs, rel string, file bool) bool {
	if _, err := fsutil.MkdirAllInRoot(rootfs, "/"+filepath.Dir(rel), 0o755, -1, -1); err != nil {
		return false
	}
	if !file {
		return true
	}
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer root.Close()
	d, name, err := fsutil.OpenParentInRoot(root, "/"+rel, false)
	if err != nil {
		return false
	}
	defer d.Close()
	fd, err := unix.Openat(int(d.Fd()), name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o755)
	if err == nil {
		unix.Close(fd)
		return true
	}
	var st unix.Stat_t
	return err == unix.EEXIST && unix.Fstatat(int(d.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR
}

// under reports whether the container path p is strictly below one of dirs.
func under(p string, dirs []string) bool {
	p = filepath.Clean(p)
	for _, d := range dirs {
		d = filepath.Clean(d)
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}
