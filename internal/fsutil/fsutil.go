// Package fsutil holds the one crash-safe file write the project uses for
// files that are not blobs (blobs go through package content): a docker
// config, a registry tag or link, a `save -o` archive; the directory size
// docker shows (DirSize); and FS_TOPDIR_FL for directories of many
// short-lived trees (MarkTopDir).
package fsutil

import (
	"io"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes path through a temporary file in the same
// directory: write fills it, it gets mode perm, is fsynced, renamed into
// place and the directory is fsynced. A failure leaves path as it was and
// no temporary file behind. The directory must exist.
func WriteFileAtomic(path string, perm os.FileMode, write func(io.Writer) error) error {
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
