package runmount

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/hoistproject/hoist/internal/builder/copier"
	"github.com/hoistproject/hoist/internal/builder/runc"
	"github.com/hoistproject/hoist/internal/dockerfile"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// Env is what a RUN step's mounts are made from.
type Env struct {
	// CacheDir holds the cache mounts, one directory per id
	// (<root>/build/cache).
	CacheDir string
	// TmpDir is where private copies (secrets, read-write binds, heredoc
	// scripts) are made; each is removed by its release function.
	TmpDir string
	// Secrets maps --secret ids to files.
	Secrets map[string]string
	// SecretSource, when set, gives the secrets Secrets lacks (a remote
	// client's: ok false when it has none of that id).
	SecretSource func(ctx context.Context, id string) (data []byte, ok bool, err error)
	// ContextDir is the build context's directory ("" when the build has
	// no context).
	ContextDir string
	// Tree returns the root filesystem of the stage or image named by
	// from (read-only) and a function to release it.
	Tree func(ctx context.Context, from string) (dir string, release func(), err error)
}

// Mount turns one RUN --mount into runtime mounts (a target relative to
// cwd is resolved) and a function, nil when there is nothing to undo, that
// removes what it made; it is returned with an error too.
func (e *Env) Mount(ctx context.Context, m *dockerfile.Mount, cwd string) ([]runc.Mount, func(), error) {
	target := m.Target
	if target != "" && !path.IsAbs(target) {
		target = path.Join(cwd, target)
	}
	switch m.Type {
	case dockerfile.MountTmpfs:
		opts := []string{"nosuid", "nodev"}
		if m.Size > 0 {
			opts = append(opts, fmt.Sprintf("size=%d", m.Size))
		}
		return []runc.Mount{{Type: "tmpfs", Source: "tmpfs", Destination: target, Options: opts}}, nil, nil
	case dockerfile.MountCache:
		id := m.ID
		if id == "" {
			id = target
		}
		dir := filepath.Join(e.CacheDir, safeName(id))
		if _, err := os.Stat(dir); err != nil {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, nil, err
			}
			if m.Mode != nil {
				_ = os.Chmod(dir, os.FileMode(*m.Mode))
			}
			if m.UID != nil || m.GID != nil {
				uid, gid := 0, 0
				if m.UID != nil {
					uid = int(*m.UID)
				}
				if m.GID != nil {
					gid = int(*m.GID)
				}
				_ = os.Chown(dir, uid, gid)
			}
		}
		opts := []string{"rbind", "rw"}
		if m.ReadOnly {
			opts = []string{"rbind", "ro"}
		}
		return []runc.Mount{{Type: "bind", Source: dir, Destination: target, Options: opts}}, nil, nil
	case dockerfile.MountSecret:
		id := secretID(m)
		b, ok, err := e.secret(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			if m.Required {
				return nil, nil, errdefs.NotFoundf("secret %s not found", id)
			}
			return nil, nil, nil
		}
		if target == "" {
			if m.Env != "" {
				return nil, nil, nil // env only
			}
			target = "/run/secrets/" + id
		}
		// A private copy with the mount's mode (default 0400, as BuildKit)
		// and owner (default root), never the host file's.
		dir, err := os.MkdirTemp(e.TmpDir, "secret-")
		if err != nil {
			return nil, nil, err
		}
		cleanup := func() { os.RemoveAll(dir) }
		mode, uid, gid := uint32(0o400), 0, 0
		if m.Mode != nil {
			mode = *m.Mode
		}
		if m.UID != nil {
			uid = int(*m.UID)
		}
		if m.GID != nil {
			gid = int(*m.GID)
		}
		f := filepath.Join(dir, "secret")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			return nil, cleanup, err
		}
		if err := os.Chown(f, uid, gid); err != nil {
			return nil, cleanup, err
		}
		if err := os.Chmod(f, os.FileMode(mode&0o777)); err != nil {
			return nil, cleanup, err
		}
		return []runc.Mount{{Type: "bind", Source: f, Destination: target, Options: []string{"rbind", "ro"}}}, cleanup, nil
	case dockerfile.MountBind, "":
		var dir string
		var release func()
		if m.From == "" {
			if e.ContextDir == "" {
				return nil, nil, errdefs.InvalidArgumentf("the build has no context to mount")
			}
			dir = e.ContextDir
		} else {
			d, rel, err := e.Tree(ctx, m.From)
			if err != nil {
				return nil, nil, err
			}
			dir, release = d, rel
		}
		src, err := securejoin.SecureJoin(dir, copier.CleanRel(m.Source))
		if err != nil {
			return nil, release, err
		}
		if _, err := os.Stat(src); err != nil {
			return nil, release, errdefs.NotFoundf("mount source %q not found", m.Source)
		}
		opts := []string{"rbind", "ro"}
		if !m.ReadOnly {
			// Writes to a read-write bind mount are discarded: give the step a
			// private copy, never the context itself.
			tmp, err := os.MkdirTemp(e.TmpDir, "bind-")
			if err != nil {
				return nil, release, err
			}
			prev := release
			release = func() {
				os.RemoveAll(tmp)
				if prev != nil {
					prev()
				}
			}
			fi, err := os.Stat(src)
			if err != nil {
				return nil, release, err
			}
			cp := &copier.Copier{Tree: &copier.Tree{Dir: dir}}
			dst := filepath.Join(tmp, "m")
			if fi.IsDir() {
				if err := os.Mkdir(dst, fi.Mode().Perm()); err != nil {
					return nil, release, err
				}
				if err := cp.CopyTree(ctx, src, dst, "."); err != nil {
					return nil, release, err
				}
			} else if err := cp.CopyEntry(src, dst, fi); err != nil {
				return nil, release, err
			}
			src = dst
			opts = []string{"rbind", "rw"}
		}
		return []runc.Mount{{Type: "bind", Source: src, Destination: target, Options: opts}}, release, nil
	}
	return nil, nil, errdefs.NotImplementedf("RUN --mount type=%s is not supported", m.Type)
}

func safeName(id string) string {
	r := strings.NewReplacer("/", "_", "\\", "_", "..", "__")
	s := r.Replace(id)
	if s == "" {
		s = "_"
	}
	return s
}

// Script makes the file of a RUN heredoc run as a script ("#!"): name,
// executable, in a private directory mounted read-only at /dev/pipes. The
// function removes the directory; it is returned with an error too (nil
// when nothing was made).
func (e *Env) Script(name, content string) (runc.Mount, func(), error) {
	dir, err := os.MkdirTemp(e.TmpDir, "heredoc-")
	if err != nil {
		return runc.Mount{}, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
		return runc.Mount{}, cleanup, err
	}
	return runc.Mount{Type: "bind", Source: dir, Destination: "/dev/pipes", Options: []string{"rbind", "ro"}}, cleanup, nil
}

// SecretEnv returns env plus VAR=content for every secret mount with
// env=VAR whose secret was given (a new slice when it adds any).
func (e *Env) SecretEnv(ctx context.Context, env []string, mounts []*dockerfile.Mount) ([]string, error) {
	for _, m := range mounts {
		if m.Type != dockerfile.MountSecret || m.Env == "" {
			continue
		}
		b, ok, err := e.secret(ctx, secretID(m))
		if err != nil {
			return nil, err
		}
		if ok {
			env = append(append([]string(nil), env...), m.Env+"="+string(b))
		}
	}
	return env, nil
}

// secret is the content of the secret id: a --secret file, else the
// SecretSource's; ok is false when neither has it.
func (e *Env) secret(ctx context.Context, id string) ([]byte, bool, error) {
	if src, ok := e.Secrets[id]; ok {
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, true, fmt.Errorf("secret %s: %w", id, err)
		}
		return b, true, nil
	}
	if e.SecretSource == nil {
		return nil, false, nil
	}
	b, ok, err := e.SecretSource(ctx, id)
	if err != nil {
		return nil, false, fmt.Errorf("secret %s: %w", id, err)
	}
	return b, ok, nil
}

// secretID is the id of a secret mount: id=, else the target's base name.
func secretID(m *dockerfile.Mount) string {
	if m.ID != "" {
		return m.ID
	}
	return path.Base(m.Target)
}
