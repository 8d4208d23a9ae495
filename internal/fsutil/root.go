package fsutil

import (
	"errors"
	"os"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// maxResolveRetries bounds the retries of an openat2 that a concurrent
// rename keeps interrupting (EAGAIN), so a container renaming in a loop
// cannot keep a resolution spinning forever.
const maxResolveRetries = 1000

// maxSymlinks is how many symlinks a resolution follows before ELOOP, as
// the kernel does.
const maxSymlinks = 40

// OpenInRoot opens unsafePath beneath the directory root with chroot-like
// resolution and returns the raw descriptor (close-on-exec). ".." and
// symlinks, absolute ones included, are resolved as if root were "/", and
// magic links (/proc/self/fd/...) are refused, so the result is always
// inside the tree, however the tree changes meanwhile: the kernel resolves
// every component against the directory it has open (openat2
// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS; filepath-securejoin emulates it
// on kernels before 5.6). An absolute unsafePath is taken relative to
// root; "" is root itself. flags are open(2) flags: O_PATH|O_DIRECTORY for
// a directory handle, O_NOFOLLOW not to follow a final symlink (O_PATH with
// it opens the symlink itself).
func OpenInRoot(root *os.File, unsafePath string, flags int) (int, error) {
	if unsafePath == "" {
		unsafePath = "."
	}
	how := &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for retries := 0; ; retries++ {
		fd, err := unix.Openat2(int(root.Fd()), unsafePath, how)
		switch {
		case err == nil:
			return fd, nil
		case (err == unix.EINTR || err == unix.EAGAIN) && retries < maxResolveRetries:
			// EAGAIN: a concurrent rename raced with RESOLVE_IN_ROOT.
			continue
		case err == unix.ENOSYS && flags&unix.O_NOFOLLOW != 0:
			// securejoin follows a final symlink: resolve the parent, then
			// open the last component without following it.
			d, name, err := OpenParentInRoot(root, unsafePath, false)
			if err != nil {
				return -1, err
			}
			defer d.Close()
			if name == "." {
				flags &^= unix.O_NOFOLLOW
			}
			return unix.Openat(int(d.Fd()), name, flags|unix.O_CLOEXEC, 0)
		case err == unix.ENOSYS:
			// openat2 missing (kernel < 5.6): securejoin emulates it.
			f, perr := pathrs.OpenatInRoot(root, unsafePath)
			if perr != nil {
				return -1, perr
			}
			defer f.Close()
			if flags&unix.O_PATH == 0 {
				g, err := pathrs.Reopen(f, flags&^unix.O_DIRECTORY)
				if err != nil {
					return -1, err
				}
				defer g.Close()
				f = g
			}
			return unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		default:
			return -1, err
		}
	}
}

// OpenParentInRoot resolves unsafePath inside root as OpenInRoot does and
// returns a handle (O_PATH) on the directory holding it and the name it
// has there, for the *at system calls. The entry itself is not opened, so
// a caller can look at it (fstatat, readlinkat) without following it.
// With follow, a final symlink is followed inside root, as often as the
// kernel would. A path naming a directory as "/", "." or ".." (or with a
// trailing slash) yields that directory itself and the name ".".
func OpenParentInRoot(root *os.File, unsafePath string, follow bool) (*os.File, string, error) {
	p := unsafePath
	for links := 0; ; links++ {
		dir, name := "", p
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			dir, name = p[:i+1], p[i+1:]
		}
		if name == "" || name == "." || name == ".." {
			fd, err := OpenInRoot(root, p, unix.O_PATH|unix.O_DIRECTORY)
			if err != nil {
				return nil, "", &os.PathError{Op: "open", Path: unsafePath, Err: err}
			}
			return os.NewFile(uintptr(fd), p), ".", nil
		}
		fd, err := OpenInRoot(root, dir, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return nil, "", &os.PathError{Op: "open", Path: unsafePath, Err: err}
		}
		d := os.NewFile(uintptr(fd), dir)
		if !follow {
			return d, name, nil
		}
		target, err := Readlinkat(fd, name)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return d, name, nil // not a symlink, or missing: the caller's stat says
		}
		d.Close()
		if err != nil {
			return nil, "", &os.PathError{Op: "readlink", Path: unsafePath, Err: err}
		}
		if links == maxSymlinks {
			return nil, "", &os.PathError{Op: "open", Path: unsafePath, Err: unix.ELOOP}
		}
		if strings.HasPrefix(target, "/") {
			p = target
		} else {
			p = dir + target
		}
	}
}

// Readlinkat reads the symlink name in the directory dirfd, whatever its
// length.
func Readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
