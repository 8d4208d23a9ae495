package fsutil

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMarkTopDir(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Skipf("the file system of %s has no inode flags: %v", dir, err)
	}
	MarkTopDir(dir)
	MarkTopDir(dir) // idempotent
	after, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Fatal(err)
	}
	if after&fsTopDirFlag == 0 {
		t.Skipf("the file system of %s ignores FS_TOPDIR_FL (flags %#x)", dir, after)
	}
	if after&^fsTopDirFlag != before&^fsTopDirFlag {
		t.Errorf("other flags changed: %#x -> %#x", before, after)
	}
	MarkTopDir(dir + "/missing") // no error, no panic
}
