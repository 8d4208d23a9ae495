package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/fsutil"
)

// A synced build context is a directory of the root that a remote client's
// files are mirrored into between builds (BuildKit's local sources: the
// Engine API's /grpc builds receive only what changed since the last build
// with the same key), kept so that the stat cache and COPY's incremental
// copies find the same paths again. Each is locked (flock on DIR.lock)
// while a build uses it; builder prune removes those not in use.

// syncedContextsDir is where they live under a root.
func syncedContextsDir(root string) string { return filepath.Join(root, "build", "contexts") }

// SyncedBuildContext returns the directory kept for key (any string: a
// client's shared key and the name of its local source), created empty the
// first time, locked until release is called.
func (e *Engine) SyncedBuildContext(key string) (dir string, release func(), err error) {
	st, err := e.images()
	if err != nil {
		return "", nil, err
	}
	base := syncedContextsDir(st.Root())
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256([]byte(key))
	dir = filepath.Join(base, hex.EncodeToString(sum[:12]))
	lock, err := lockSynced(dir)
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		lock.Close()
		return "", nil, err
	}
	return dir, func() { lock.Close() }, nil
}

// lockSynced takes dir's lock, waiting for a build that holds it; a lock
// file a prune removed meanwhile is not a lock: it is taken anew.
func lockSynced(dir string) (*os.File, error) {
	for {
		lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
			lock.Close()
			return nil, err
		}
		held, err1 := lock.Stat()
		now, err2 := os.Stat(dir + ".lock")
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return lock, nil
		}
		lock.Close()
	}
}

// pruneSyncedContexts removes the synced contexts no build holds and
// returns the bytes reclaimed.
func pruneSyncedContexts(ctx context.Context, root string) int64 {
	base := syncedContextsDir(root)
	ents, err := os.ReadDir(base)
	if err != nil {
		return 0
	}
	var freed int64
	for _, ent := range ents {
		if ctx.Err() != nil {
			break
		}
		name := ent.Name()
		if !ent.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		dir := filepath.Join(base, name)
		lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			continue
		}
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			freed += fsutil.DirSize(dir)
			if os.RemoveAll(dir) == nil {
				_ = os.Remove(dir + ".lock")
			}
		}
		lock.Close()
	}
	return freed
}
