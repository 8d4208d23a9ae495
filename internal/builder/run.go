package builder

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hoistproject/hoist/internal/builder/buildcontext"
	"github.com/hoistproject/hoist/internal/builder/copier"
	"github.com/hoistproject/hoist/internal/builder/progress"
	"github.com/hoistproject/hoist/internal/builder/runmount"
	"github.com/hoistproject/hoist/internal/dockerfile"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// RunError is a RUN step whose process exited non-zero. Its message is
// docker's ("The command '/bin/sh -c ...' returned a non-zero code: N"),
// and `build` exits with N, as docker's client does.
type RunError struct {
	Command  string // the argv joined, as docker prints it
	ExitCode int
	Output   []string // the last lines of output
}

func (e *RunError) Error() string {
	return fmt.Sprintf("The command '%s' returned a non-zero code: %d", e.Command, e.ExitCode)
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
	hist := "RUN " + c.args.RunText(args) + " # buildkit"
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
	env := c.args.Env(c.cur.cfg.Config.Env)
	user := c.cur.cfg.Config.User
	cwd := c.cur.cfg.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	mounts := x.Mounts
	fsFn := func(ctx context.Context, snap Snapshot, v *progress.Vertex) error {
		root := snap.Root()
		var extra []RunMount
		var cleanups []func()
		defer func() {
			for i := len(cleanups) - 1; i >= 0; i-- {
				cleanups[i]()
			}
		}()
		me := j.mountEnv(c)
		if script != "" {
			m, cleanup, err := me.Script(x.Heredocs[0].Name, script)
			if cleanup != nil {
				cleanups = append(cleanups, cleanup)
			}
			if err != nil {
				return err
			}
			extra = append(extra, m)
		}
		for _, m := range mounts {
			rm, cleanup, err := me.Mount(ctx, m, cwd)
			if cleanup != nil {
				cleanups = append(cleanups, cleanup)
			}
			if err != nil {
				return fmt.Errorf("%s: --mount type=%s target=%s: %w", where, m.Type, m.Target, err)
			}
			extra = append(extra, rm...)
		}
		env, err := me.SecretEnv(ctx, env, mounts)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if j.b.Runner == nil {
			return errdefs.NotImplementedf("%s: no container runtime is configured", where)
		}
		out := progress.NewLineWriter(v)
		code, err := j.b.Runner.Run(ctx, RunRequest{
			Rootfs: root, Args: args, Env: env, User: user, Cwd: cwd, Network: network,
			Hostname: "buildkitsandbox", ExtraHosts: j.opts.ExtraHosts, Mounts: extra,
			Resources: j.opts.Resources, Stdout: out, Stderr: out,
			Security: j.security,
		})
		out.Flush()
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if code != 0 {
			return fmt.Errorf("%s: %w", where, &RunError{Command: strings.Join(args, " "), ExitCode: code, Output: out.Tail()})
		}
		return nil
	}
	return &step{instr: hist, history: hist, inputs: inputs, kind: "RUN", fs: fsFn}, nil
}

func (c *stageCtx) prepareWorkdir(x *dockerfile.Workdir) (*step, error) {
	// As docker: an absolute path is kept as written (`WORKDIR /opt/`
	// stays "/opt/" in the config), a relative one is joined to the
	// current directory (and cleaned).
	wd := x.Path
	if !path.IsAbs(wd) {
		wd = path.Join("/", c.cur.cfg.Config.WorkingDir, wd)
	}
	h := "WORKDIR " + wd
	st := &step{instr: h, history: h, kind: "WORKDIR", meta: func(cfg *Config) { cfg.Config.WorkingDir = wd }}
	if path.Clean(wd) == "/" {
		return st, nil
	}
	user := c.cur.cfg.Config.User
	st.fs = func(ctx context.Context, snap Snapshot, v *progress.Vertex) error {
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

// mountEnv is what the RUN --mount flags of a step in c are made from.
func (j *job) mountEnv(c *stageCtx) *runmount.Env {
	e := &runmount.Env{
		CacheDir:     filepath.Join(j.b.Dir, "cache"),
		TmpDir:       j.tmpDir(),
		Secrets:      j.opts.Secrets,
		SecretSource: j.opts.SecretSource,
		Tree: func(ctx context.Context, from string) (string, func(), error) {
			var chainID digest.Digest
			if s := j.stageByRef(from, c.s.index); s != nil {
				chainID = s.state.chainID
			} else {
				img, err := j.resolveImage(ctx, from, false)
				if err != nil {
					return "", nil, err
				}
				chainID = img.ChainID
			}
			d, rel, err := j.b.Snapshots.View(ctx, chainID)
			if err != nil {
				return "", nil, err
			}
			return d, func() { _ = rel() }, nil
		},
	}
	if j.opts.Context != nil {
		e.ContextDir = j.opts.Context.Dir()
	}
	return e
}

// tmpDir is this process's temporary area under the builder directory.
func (j *job) tmpDir() string {
	d := filepath.Join(j.b.Dir, "tmp", fmt.Sprintf("%d", os.Getpid()))
	_ = os.MkdirAll(d, 0o700)
	return d
}
