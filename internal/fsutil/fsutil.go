// Package fsutil holds the one crash-safe file write the project uses for
// files that are not blobs (blobs go through package content): a docker
// config, a registry tag or link, a `save -o` archive; the directory size
// docker shows (DirSize); FS_TOPDIR_FL for directories of many
// short-lived trees (MarkTopDir); the one resolution of a path inside a
// directory treated as "/" (OpenInRoot, OpenParentInRoot: openat2
// RESOLVE_IN_ROOT from a directory handle, safe while others rename things
// in the tree), used by layer extraction and by `cp` in running containers;
// and the one way to create a directory inside a root filesystem as docker
// does for WORKDIR, COPY and `run -w` (MkdirAllInRoot: symlinks resolved
// inside the root, dangling ones included, creation through handles
// beneath it).
package fsutil

import (
	"io"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes path through a temporary file in the same
// directory: write fills it, it gets mode perm, is fsynced, renamed into
// place and the directory is fsynced. A failure leaves path as it was and
// no temporary file behind. The directory must exist. An existing path
// that is not a regular file (save -o /dev/null, a FIFO) is refused with a
// NotRegularError: the rename would replace it.
func WriteFileAtomic(path string, perm os.FileMode, write func(io.Writer) error) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return &NotRegularError{Mode: fi.Mode()}
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	done = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// NotRegularError is WriteFileAtomic's refusal of a destination that
// exists and is not a regular file; it reads as docker's.
type NotRegularError struct{ Mode os.FileMode }

func (e *NotRegularError) Error() string {
	kind := "non-regular file"
	switch {
	case e.Mode&os.ModeCharDevice != 0:
		kind = "character device file"
	case e.Mode&os.ModeDevice != 0:
		kind = "block device file"
	case e.Mode&os.ModeNamedPipe != 0:
		kind = "named pipe (FIFO)"
	case e.Mode&os.ModeSocket != 0:
		kind = "socket file"
	case e.Mode.IsDir():
		kind = "directory"
	}
	return "cannot write to a " + kind
}
