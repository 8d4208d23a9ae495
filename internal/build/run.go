package build

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/hoistproject/hoist/internal/build/buildcontext"
	"github.com/hoistproject/hoist/internal/build/copier"
	"github.com/hoistproject/hoist/internal/dockerfile"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// RunError is a RUN step whose process exited non-zero.
type RunError struct {
	Command  string // the argv joined, as docker prints it
	ExitCode int
	Output   []string // the last lines of output
}

func (e *RunError) Error() string {
	return fmt.Sprintf("process %q did not complete successfully: exit code: %d", e.Command, e.ExitCode)
}

// runArgs returns the argv of a RUN, with BuildKit's heredoc rules: a RUN
// that is exactly one heredoc runs its body (a script with "#!" is run as a
// file, else the body is given to the shell); otherwise the heredocs are put
// back after the command line for the shell to handle.
func (c *stageCtx) runArgs(x *dockerfile.Run) (args []string, script string) {
	cl := x.CommandLine
	if len(x.Heredocs) > 0 && !cl.Exec && len(cl.Args) == 1 {
		line := strings.TrimSpace(cl.Args[0])
		h := x.Heredocs[0]
		if len(x.Heredocs) == 1 && isSingleHeredoc(line) {
			if strings.HasPrefix(h.Content, "#!") {
				return []string{"/dev/pipes/" + h.Name}, h.Content
			}
			return c.withShell(dockerfile.CommandLine{Args: []string{h.Content}}), ""
		}
		var b strings.Builder
		b.WriteString(cl.Args[0])
		for _, hd := range x.Heredocs {
			b.WriteByte('\n')
			b.WriteString(hd.Content)
			b.WriteString(hd.Name)
		}
		return c.withShell(dockerfile.CommandLine{Args: []string{b.String()}}), ""
	}
	return c.withShell(cl), ""
}

// isSingleHeredoc reports whether a command line is only "<<[-]WORD".
func isSingleHeredoc(line string) bool {
	if !strings.HasPrefix(line, "<<") {
		return false
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(line, "<<"), "-")
	rest = strings.Trim(rest, `"'`)
	return rest != "" && !strings.ContainsAny(rest, " \t")
}

func (c *stageCtx) prepareRun(ctx context.Context, x *dockerfile.Run) (*step, error) {
	j := c.s.j
	where := fmt.Sprintf("%s:%d: RUN", j.file.Name, x.Loc().Start)
	args, script := c.runArgs(x)
	hist := "RUN " + c.runCommandString(args) + " # buildkit"
	network := x.Network
	if network == "" {
		network = j.opts.Network
	}
	if network == "" {
		network = "default"
	}
	inputs := []string{"network=" + network, "security=" + x.Security, "script=" + script}
	for _, m := range x.Mounts {
		inputs = append(inputs, fmt.Sprintf("mount=%+v", *m))
		if m.Type == dockerfile.MountBind && m.From == "" && j.opts.Context != nil {
			src := m.Source
			if src == "" {
				src = "."
			}
			sum, err := buildcontext.Checksum(ctx, j.opts.Context, []string{src}, buildcontext.ChecksumOptions{Instruction: "RUN --mount", Cache: j.opts.StatCache})
			if err != nil {
				return nil, fmt.Errorf("%s --mount source=%s: %w", where, m.Source, err)
			}
			inputs = append(inputs, "bind="+sum.String())
		}
	}
	env := c.runEnv()
	user := c.cur.cfg.Config.User
	cwd := c.cur.cfg.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	mounts := x.Mounts
	fsFn := func(ctx context.Context, snap Snapshot, v *vertex) error {
		root := snap.Root()
		var extra []RunMount
		var cleanups []func()
		defer func() {
			for i := len(cleanups) - 1; i >= 0; i-- {
				cleanups[i]()
			}
		}()
		if script != "" {
			dir, err := os.MkdirTemp(j.tmpDir(), "heredoc-")
			if err != nil {
				return err
			}
			cleanups = append(cleanups, func() { os.RemoveAll(dir) })
			name := x.Heredocs[0].Name
			if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
				return err
			}
			extra = append(extra, RunMount{Type: "bind", Source: dir, Destination: "/dev/pipes", Options: []string{"rbind", "ro"}})
		}
		for _, m := range mounts {
			rm, cleanup, err := c.runMount(ctx, m, cwd)
			if cleanup != nil {
				cleanups = append(cleanups, cleanup)
			}
			if err != nil {
				return fmt.Errorf("%s: --mount type=%s target=%s: %w", where, m.Type, m.Target, err)
			}
			extra = append(extra, rm...)
		}
		env := env
		for _, m := range mounts {
			if m.Type != dockerfile.MountSecret || m.Env == "" {
				continue
			}
			id := m.ID
			if id == "" {
				id = path.Base(m.Target)
			}
			if src, ok := j.opts.Secrets[id]; ok {
				b, err := os.ReadFile(src)
				if err != nil {
					return fmt.Errorf("%s: secret %s: %w", where, id, err)
				}
				env = append(append([]string(nil), env...), m.Env+"="+string(b))
			}
		}
		if j.b.Runner == nil {
			return errdefs.NotImplementedf("%s: no container runtime is configured", where)
		}
		out := &lineWriter{v: v}
		code, err := j.b.Runner.Run(ctx, RunRequest{
			Rootfs: root, Args: args, Env: env, User: user, Cwd: cwd, Network: network,
			Hostname: "buildkitsandbox", ExtraHosts: j.opts.ExtraHosts, Mounts: extra,
			Resources: j.opts.Resources, Stdout: out, Stderr: out,
			NoNewPrivileges: j.security.NoNewPrivileges, AppArmorProfile: j.security.AppArmor,
		})
		out.flush()
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if code != 0 {
			return fmt.Errorf("%s: %w", where, &RunError{Command: strings.Join(args, " "), ExitCode: code, Output: out.tail})
		}
		return nil
	}
	return &step{instr: hist, history: hist, inputs: inputs, kind: "RUN", fs: fsFn}, nil
}

// runMount turns one RUN --mount into runtime mounts.
func (c *stageCtx) runMount(ctx context.Context, m *dockerfile.Mount, cwd string) ([]RunMount, func(), error) {
	j := c.s.j
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
		return []RunMount{{Type: "tmpfs", Source: "tmpfs", Destination: target, Options: opts}}, nil, nil
	case dockerfile.MountCache:
		id := m.ID
		if id == "" {
			id = target
		}
		dir := filepath.Join(j.b.Dir, "cache", safeName(id))
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
		return []RunMount{{Type: "bind", Source: dir, Destination: target, Options: opts}}, nil, nil
	case dockerfile.MountSecret:
		id := m.ID
		if id == "" {
			id = path.Base(m.Target)
		}
		src, ok := j.opts.Secrets[id]
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
		dir, err := os.MkdirTemp(j.tmpDir(), "secret-")
		if err != nil {
			return nil, nil, err
		}
		cleanup := func() { os.RemoveAll(dir) }
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, cleanup, fmt.Errorf("secret %s: %w", id, err)
		}
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
		return []RunMount{{Type: "bind", Source: f, Destination: target, Options: []string{"rbind", "ro"}}}, cleanup, nil
	case dockerfile.MountBind, "":
		var dir string
		var release func()
		if m.From == "" {
			if j.opts.Context == nil {
				return nil, nil, errdefs.InvalidArgumentf("the build has no context to mount")
			}
			dir = j.opts.Context.Dir()
		} else {
			var chainID = c.cur.chainID
			if s := j.stageByRef(m.From, c.s.index); s != nil {
				chainID = s.state.chainID
			} else {
				img, err := j.resolveImage(ctx, m.From, false)
				if err != nil {
					return nil, nil, err
				}
				chainID = img.ChainID
			}
			d, rel, err := j.b.Snapshots.View(ctx, chainID)
			if err != nil {
				return nil, nil, err
			}
			dir, release = d, func() { _ = rel() }
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
			tmp, err := os.MkdirTemp(j.tmpDir(), "bind-")
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
		return []RunMount{{Type: "bind", Source: src, Destination: target, Options: opts}}, release, nil
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

func (c *stageCtx) prepareWorkdir(x *dockerfile.Workdir) (*step, error) {
	wd := x.Path
	if !path.IsAbs(wd) {
		base := c.cur.cfg.Config.WorkingDir
		if base == "" {
			base = "/"
		}
		wd = path.Join(base, wd)
	}
	wd = path.Clean(wd)
	h := "WORKDIR " + wd
	st := &step{instr: h, history: h, kind: "WORKDIR", meta: func(cfg *Config) { cfg.Config.WorkingDir = wd }}
	if wd == "/" {
		return st, nil
	}
	user := c.cur.cfg.Config.User
	st.fs = func(ctx context.Context, snap Snapshot, v *vertex) error {
		root := snap.Root()
		var own *copier.Owner
		if user != "" {
			u, g, _ := strings.Cut(user, ":")
			if uid, gid, err := copier.LookupID(root, "/etc/passwd", u); err == nil {
				own = &copier.Owner{UID: uid, GID: gid}
				if g != "" {
					if gg, _, err := copier.LookupID(root, "/etc/group", g); err == nil {
						own.GID = gg
					}
				}
			}
		}
		cp := &copier.Copier{Root: root, Own: own}
		_, err := cp.MkdirAll(wd)
		return err
	}
	return st, nil
}

// tmpDir is this process's temporary area under the builder directory.
func (j *job) tmpDir() string {
	d := filepath.Join(j.b.Dir, "tmp", fmt.Sprintf("%d", os.Getpid()))
	_ = os.MkdirAll(d, 0o700)
	return d
}
