package fsutil

import (
	"os"

	"golang.org/x/sys/unix"
)

// fsTopDirFlag is FS_TOPDIR_FL (linux/fs.h): "the top of a directory
// hierarchy" for ext4's Orlov allocator.
const fsTopDirFlag = 0x00020000

// MarkTopDir sets FS_TOPDIR_FL on dir, a directory under which many new
// trees are made and removed (layers/tmp, where every layer is unpacked;
// build/tmp, where build steps write; containers/, the upper dirs), so
// that ext4 spreads its subdirectories over block groups as it does for
// top-level directories instead of packing each new tree where the last
// one was deleted. That matters on ext4 without a journal: creating a file
// skips over every inode freed in the last minute in the group it looks at
// (recently_deleted). Measured: rmi + load of a 204 MB image went from
// about 1 s to 2-4 s without the flag, and a build's COPY of 11,478 files
// after the previous context copy was deleted from 1.5 s to 7.2 s. File
// systems without the flag refuse or ignore it; that is harmless, so errors
// are ignored.
func MarkTopDir(dir string) {
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	defer f.Close()
	fd := int(f.Fd())
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil || flags&fsTopDirFlag != 0 {
		return
	}
	_ = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags|fsTopDirFlag))
}
