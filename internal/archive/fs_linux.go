package archive

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func procFdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// removeAllAt removes name (and everything beneath it, if it is a directory)
// from the directory dirfd without following symlinks. A missing name is not
// an error. It reports whether a directory was removed.
func removeAllAt(dirfd int, name string) (bool, error) {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || err == unix.ENOENT {
		return false, nil
	}
	if err != unix.EISDIR && err != unix.EPERM {
		return false, err
	}
	for attempt := 0; ; attempt++ {
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			if err == unix.ENOENT {
				return true, nil
			}
			return false, err
		}
		d := os.NewFile(uintptr(fd), name)
		names, rerr := d.Readdirnames(-1)
		if rerr != nil {
			d.Close()
			return false, rerr
		}
		for _, n := range names {
			if _, err := removeAllAt(fd, n); err != nil {
				d.Close()
				return false, err
			}
		}
		d.Close()
		err = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
		if err == nil || err == unix.ENOENT {
			return true, nil
		}
		if err != unix.ENOTEMPTY || attempt > 3 {
			return false, err
		}
	}
}

// timespec converts t for utimensat, mapping times outside what Unix
// filesystems store (before 1970 or after 2262) to the epoch as docker does.
func timespec(t time.Time) unix.Timespec {
	if t.Before(time.Unix(0, 0)) || t.After(time.Unix(1<<33, 0)) {
		t = time.Unix(0, 0)
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// SyncFS flushes the whole filesystem holding dir to stable storage
// (syncfs(2)). The layer store calls it once after unpacking instead of
// fsyncing every file.
func SyncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return &os.PathError{Op: "syncfs", Path: dir, Err: err}
	}
	return nil
}

// listXattrs returns the extended attributes of the file at path (not
// following a final symlink) or, when fd >= 0, of the open file fd.
func listXattrs(fd int, path string) (map[string][]byte, error) {
	buf := make([]byte, 1024)
	var n int
	var err error
	for {
		if fd >= 0 {
			n, err = unix.Flistxattr(fd, buf)
		} else {
			n, err = unix.Llistxattr(path, buf)
		}
		if err == unix.ERANGE {
			buf = make([]byte, len(buf)*4)
			continue
		}
		break
	}
	if err != nil {
		if err == unix.ENOTSUP || err == unix.EOPNOTSUPP {
			return nil, nil
		}
		return nil, err
	}
	var attrs map[string][]byte
	names := buf[:n]
	for len(names) > 0 {
		i := 0
		for i < len(names) && names[i] != 0 {
			i++
		}
		name := string(names[:i])
		if i < len(names) {
			i++
		}
		names = names[i:]
		if name == "" {
			continue
		}
		v, err := getXattr(fd, path, name)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue
			}
			return nil, fmt.Errorf("reading xattr %s: %w", name, err)
		}
		if attrs == nil {
			attrs = make(map[string][]byte)
		}
		attrs[name] = v
	}
	return attrs, nil
}

func getXattr(fd int, path, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		var n int
		var err error
		if fd >= 0 {
			n, err = unix.Fgetxattr(fd, name, buf)
		} else {
			n, err = unix.Lgetxattr(path, name, buf)
		}
		if err == unix.ERANGE {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
