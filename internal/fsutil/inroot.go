package fsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// MkdirAllInRoot creates the directory dir, a path as seen from inside the
// root filesystem root, and its missing parents with mode (less the umask),
// as docker does for WORKDIR, COPY, ADD and `run -w`. Symlinks are resolved
// as if root were "/" (securejoin), so ".." and absolute targets stay in
// root, and a symlink to a missing directory is followed too: the directory
// it names is created inside root. The directories are made through handles
// beneath root (pathrs), never by a host path that a symlink swapped in
// meanwhile could lead out of it. The directories it created (not those
// that existed) are owned by uid and gid (-1 leaves one as it is). It
// returns dir's host path; an existing non-directory on the way is an error
// wrapping ENOTDIR.
func MkdirAllInRoot(root, dir string, mode os.FileMode, uid, gid int) (string, error) {
	host, err := securejoin.SecureJoin(root, dir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, host)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s resolves outside %s", dir, root) // securejoin never gives one
	}
	if rel == "." {
		return host, nil
	}
	if fi, err := os.Lstat(host); err == nil && fi.IsDir() {
		return host, nil // the common case: nothing to create
	}
	rootDir, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer rootDir.Close()
	// The components that exist already keep their owner.
	comps := strings.Split(rel, "/")
	have := 0
	for ; have < len(comps); have++ {
		f, err := pathrs.OpenatInRoot(rootDir, strings.Join(comps[:have+1], "/"))
		if errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			return "", err
		}
		f.Close()
	}
	f, err := pathrs.MkdirAllHandle(rootDir, rel, mode)
	if err != nil {
		return "", fmt.Errorf("mkdir %s: %w", host, err)
	}
	f.Close()
	if uid < 0 && gid < 0 {
		return host, nil
	}
	for i := have + 1; i <= len(comps); i++ {
		h, err := pathrs.OpenatInRoot(rootDir, strings.Join(comps[:i], "/"))
		if err != nil {
			return "", err
		}
		err = unix.Fchownat(int(h.Fd()), "", uid, gid, unix.AT_EMPTY_PATH)
		h.Close()
		if err != nil {
			return "", fmt.Errorf("chown %s: %w", filepath.Join(root, filepath.Join(comps[:i]...)), err)
		}
	}
	return host, nil
}
