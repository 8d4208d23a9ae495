package fsutil

import (
	"io/fs"
	"path/filepath"
)

// DirSize is the sum of the sizes of the regular files under dir (0 when
// it does not exist): the size docker shows for an upper dir, a volume, a
// cache directory.
func DirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
