package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMkdirAllInRoot follows symlinks to missing directories inside the
// root (absolute ones, and ones climbing out with ".."), creates nothing
// outside it, owns only what it created, and refuses a file on the way.
func TestMkdirAllInRoot(t *testing.T) {
	root, host := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(root, "exists"), 0o700)
	os.WriteFile(filepath.Join(root, "file"), nil, 0o644)
	for name, target := range map[string]string{
		"abs": "/data/app", "rel": "../../../data/rel", "hostabs": host + "/x",
		"hostrel": "../../../../../../../.." + host + "/y", "tofile": "/file/sub",
	} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	for dir, want := range map[string]string{
		"/abs/sub": "data/app/sub", "/rel": "data/rel", "/hostabs/a": host[1:] + "/x/a",
		"/hostrel/b/c": host[1:] + "/y/b/c", "/exists/new": "exists/new", "/": ".",
	} {
		got, err := MkdirAllInRoot(root, dir, 0o755, -1, -1)
		if err != nil || got != filepath.Join(root, want) {
			t.Fatalf("MkdirAllInRoot(%s) = %q, %v; want %q", dir, got, err, filepath.Join(root, want))
		}
		if fi, err := os.Lstat(got); err != nil || !fi.IsDir() {
			t.Fatalf("%s: not a directory: %v", got, err)
		}
	}
	if ents, _ := os.ReadDir(host); len(ents) > 0 {
		t.Fatalf("created outside the root: %v", ents)
	}
	for _, dir := range []string{"/file/x", "/tofile"} {
		if _, err := MkdirAllInRoot(root, dir, 0o755, -1, -1); !errors.Is(err, unix.ENOTDIR) {
			t.Fatalf("MkdirAllInRoot(%s) through a file: %v", dir, err)
		}
	}
	if os.Geteuid() != 0 {
		return
	}
	if _, err := MkdirAllInRoot(root, "/exists/o1/o2", 0o755, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	for rel, uid := range map[string]uint32{"exists": 0, "exists/o1": 1234, "exists/o1/o2": 1234} {
		fi, _ := os.Lstat(filepath.Join(root, rel))
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || (uid != 0 && st.Gid != 5678) {
			t.Fatalf("%s owned by %d:%d, want uid %d", rel, st.Uid, st.Gid, uid)
		}
	}
}
