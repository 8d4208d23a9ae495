package spec

import (
	"fmt"
	"path"
	"strings"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
)

// MergeEnv returns base with each KEY=VALUE of over replacing or appending.
func MergeEnv(base []string, over ...[]string) []string {
	out := append([]string{}, base...)
	idx := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	for _, list := range over {
		for _, kv := range list {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := idx[k]; ok {
				out[i] = kv
				continue
			}
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// WithHome appends HOME=home unless env sets HOME.
func WithHome(env []string, home string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "HOME=") {
			return env
		}
	}
	return append(env, "HOME="+home)
}

// PrepareCwd checks that cwd is absolute and creates it inside rootfs if
// missing (owned by u), never leaving the rootfs: symlinks on the way are
// resolved inside it, one to a missing directory included (that directory
// is created there, as docker does; fsutil.MkdirAllInRoot).
func PrepareCwd(rootfs, cwd string, u ExecUser) error {
	if !path.IsAbs(cwd) {
		return errdefs.InvalidArgumentf("the working directory '%s' is invalid, it needs to be an absolute path", cwd)
	}
	if cwd == "/" {
		return nil
	}
	if f, err := pathrs.OpenInRoot(rootfs, cwd); err == nil {
		f.Close()
		return nil
	}
	if _, err := fsutil.MkdirAllInRoot(rootfs, cwd, 0o755, -1, -1); err != nil {
		return fmt.Errorf("create working directory %s: %w", cwd, err)
	}
	if f, err := pathrs.OpenInRoot(rootfs, cwd); err == nil {
		_ = unix.Fchownat(int(f.Fd()), "", int(u.UID), int(u.GID), unix.AT_EMPTY_PATH)
		f.Close()
	}
	return nil
}
