package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	buildoutput "github.com/hoistproject/hoist/internal/builder/output"
	buildprogress "github.com/hoistproject/hoist/internal/builder/progress"
	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/units"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type buildFlags struct {
	tags, buildArgs, labels, cacheFrom, addHosts, ulimits, secOpts, secrets []string
	file, target, iidfile, network, progress, platform, memory, shmSize     string
	cpusetCPUs, cpusetMems, output, memorySwap, cgroupParent                string
	noCache, pull, quiet, rm, forceRm, squash                               bool
	cpuShares, cpuPeriod, cpuQuota                                          int64
	isolation                                                               string
	compress                                                                bool
	trust                                                                   contentTrustFlag
}

func newBuildCmd(e *env) *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use: "build [OPTIONS] PATH | URL | -",
		Example: `  hoist build -t app:1 .                       # ./Dockerfile, context .
  hoist build -f docker/Dockerfile.prod --build-arg VERSION=2 -t app:2 .
  hoist build --target test --no-cache --progress plain .
  tar -c . | hoist build -t app:1 -               # context from a tar on stdin`,
		Short: "Build an image from a Dockerfile",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.runBuild(cmd.Context(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, `Name and optionally a tag in the "name:tag" format`)
	fl.StringVarP(&f.file, "file", "f", "", `Name of the Dockerfile (Default is "PATH/Dockerfile")`)
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "Set build-time variables")
	fl.StringArrayVar(&f.labels, "label", nil, "Set metadata for an image")
	fl.StringArrayVar(&f.cacheFrom, "cache-from", nil, "Images to consider as cache sources")
	fl.StringArrayVar(&f.addHosts, "add-host", nil, "Add a custom host-to-IP mapping (host:ip)")
	fl.StringArrayVar(&f.ulimits, "ulimit", nil, "Ulimit options")
	fl.StringArrayVar(&f.secOpts, "security-opt", nil, "Security options")
	fl.StringArrayVar(&f.secrets, "secret", nil, `Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")`)
	fl.StringVar(&f.target, "target", "", "Set the target build stage to build")
	fl.StringVar(&f.iidfile, "iidfile", "", "Write the image ID to the file")
	fl.StringVar(&f.network, "network", "default", "Set the networking mode for the RUN instructions during build")
	fl.StringVar(&f.progress, "progress", "auto", "Set type of progress output (auto, plain, tty, quiet)")
	fl.StringVar(&f.platform, "platform", "", "Set platform if server is multi-platform capable")
	fl.StringVarP(&f.memory, "memory", "m", "", "Memory limit")
	fl.StringVar(&f.shmSize, "shm-size", "", "Size of /dev/shm")
	fl.StringVar(&f.memorySwap, "memory-swap", "", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fl.StringVar(&f.cgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	fl.StringVar(&f.cpusetCPUs, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.StringVar(&f.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fl.StringVarP(&f.output, "output", "o", "", `Output destination (format: "type=local,dest=path")`)
	fl.BoolVar(&f.noCache, "no-cache", false, "Do not use cache when building the image")
	fl.BoolVar(&f.pull, "pull", false, "Always attempt to pull a newer version of the image")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	// hoist's RUN steps leave no container behind, whatever happens: that
	// is --force-rm; keeping them (--rm=false) is refused.
	fl.BoolVar(&f.rm, "rm", true, "Remove intermediate containers after a successful build (always: --rm=false is not supported)")
	fl.BoolVar(&f.forceRm, "force-rm", false, "Always remove intermediate containers (hoist always does)")
	fl.BoolVar(&f.squash, "squash", false, "Squash newly built layers into a single new layer")
	fl.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.Int64Var(&f.cpuPeriod, "cpu-period", 0, "Limit the CPU CFS (Completely Fair Scheduler) period")
	fl.Int64Var(&f.cpuQuota, "cpu-quota", 0, "Limit the CPU CFS (Completely Fair Scheduler) quota")
	fl.StringVar(&f.isolation, "isolation", "", "Container isolation technology (Linux: default)")
	fl.BoolVar(&f.compress, "compress", false, "Compress the build context using gzip (a no-op: the context is read locally)")
	f.trust.register(fl)
	return cmd
}

func (e *env) runBuild(ctx context.Context, src string, f buildFlags) error {
	if err := f.trust.check(); err != nil {
		return err
	}
	if !f.rm {
		return errdefs.InvalidArgumentf("--rm=false is not supported: hoist's build steps leave no intermediate containers to keep")
	}
	if f.isolation != "" && f.isolation != "default" {
		return errdefs.InvalidArgumentf("Isolation '%s' is not supported on linux: only \"default\"", f.isolation)
	}
	if f.platform != "" {
		host := "linux/" + runtime.GOARCH
		if f.platform != host && !strings.HasPrefix(host, f.platform+"/") && f.platform != "linux" {
			return errdefs.InvalidArgumentf("--platform %s: only the host platform (%s) can be built", f.platform, host)
		}
	}
	for _, t := range f.tags {
		if _, err := engine.NormalizeName(t); err != nil {
			return errdefs.InvalidArgumentf("invalid tag %q: %v", t, err)
		}
	}
	opts := engine.BuilderOptions{
		Tags: f.tags, Target: f.target, NoCache: f.noCache, Pull: f.pull, CacheFrom: f.cacheFrom, Squash: f.squash,
		Network: f.network, ExtraHosts: f.addHosts,
		BuildArgs: map[string]string{}, Labels: map[string]string{}, Secrets: map[string]string{},
	}
	if f.output != "" {
		o, err := buildoutput.Parse(f.output)
		if err != nil {
			return err
		}
		o.W = e.out
		opts.Output = o
	}
	switch f.network {
	case "default", "none", "host":
	default:
		return errdefs.InvalidArgumentf("network mode %q not supported by the builder (default, none, host)", f.network)
	}
	for _, a := range f.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			var set bool
			if v, set = os.LookupEnv(k); !set {
				continue // docker: a name alone with no such env var is ignored
			}
		}
		opts.BuildArgs[k] = v
	}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		opts.Labels[k] = v
	}
	for _, s := range f.secrets {
		id, srcPath := "", ""
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "id":
				id = v
			case "src", "source":
				srcPath = v
			case "type":
				if v != "file" {
					return errdefs.InvalidArgumentf("--secret %s: only type=file is supported", s)
				}
			default:
				return errdefs.InvalidArgumentf("--secret %s: unknown key %q", s, k)
			}
		}
		if id == "" {
			return errdefs.InvalidArgumentf("--secret %s: id is required", s)
		}
		if srcPath == "" {
			srcPath = id
		}
		abs, err := filepath.Abs(srcPath)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return errdefs.InvalidArgumentf("--secret %s: %v", s, err)
		}
		opts.Secrets[id] = abs
	}
	var err error
	if opts.Resources.Memory, err = parseBytes(f.memory); err != nil {
		return errdefs.InvalidArgumentf("invalid --memory %q: %v", f.memory, err)
	}
	if opts.Resources.MemorySwap, err = parseMemorySwap(f.memorySwap, opts.Resources.Memory); err != nil {
		return err
	}
	opts.Resources.CgroupParent = f.cgroupParent
	if opts.Resources.ShmSize, err = parseBytes(f.shmSize); err != nil {
		return errdefs.InvalidArgumentf("invalid --shm-size %q: %v", f.shmSize, err)
	}
	opts.Resources.CPUShares, opts.Resources.CPUPeriod, opts.Resources.CPUQuota = f.cpuShares, f.cpuPeriod, f.cpuQuota
	opts.Resources.CPUSetCPUs, opts.Resources.CPUSetMems = f.cpusetCPUs, f.cpusetMems
	opts.Resources.Ulimits, opts.Resources.SecurityOpt = f.ulimits, f.secOpts
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errdefs.InvalidArgumentf("invalid SOURCE_DATE_EPOCH %q", v)
		}
		t := time.Unix(n, 0).UTC()
		opts.SourceDateEpoch = &t
	}

	mode := f.progress
	if f.quiet {
		mode = buildprogress.Quiet
	}
	if mode == "auto" || mode == "" {
		mode = buildprogress.Plain
		if fd, ok := e.errOut.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(fd.Fd())) {
			mode = buildprogress.TTY
		}
	}
	switch mode {
	case buildprogress.Plain, buildprogress.TTY, buildprogress.Quiet:
	default:
		return errdefs.InvalidArgumentf("invalid --progress %q (auto, plain, tty, quiet)", f.progress)
	}
	opts.Progress, opts.ProgressMode = e.errOut, mode

	res, err := e.engine().Build(ctx, engine.BuildOptions{Options: opts, Source: src, Dockerfile: f.file, Stdin: e.in})
	var runErr *engine.BuildRunError
	if errors.As(err, &runErr) {
		// docker's client: the message alone, and the command's code.
		return &shapedErr{err: runErr, code: runErr.ExitCode}
	}
	if err != nil {
		return err
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(res.ID.String()), 0o644); err != nil {
			return fmt.Errorf("writing --iidfile: %w", err)
		}
	}
	if opts.Output != nil {
		return nil // files exported; no image stored
	}
	if mode == buildprogress.Quiet {
		fmt.Fprintln(e.out, res.ID)
		return nil
	}
	fmt.Fprintf(e.out, "Successfully built %s\n", engine.ShortID(res.ID))
	for _, t := range f.tags {
		n, _ := engine.NormalizeName(t)
		fmt.Fprintf(e.out, "Successfully tagged %s\n", engine.Familiar(n))
	}
	return nil
}

func newBuilderCmd(e *env) *cobra.Command {
	builder := &cobra.Command{Use: "builder", Short: "Manage builds", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	builder.AddCommand(newBuilderPruneCmd(e))
	return builder
}

func newBuilderPruneCmd(e *env) *cobra.Command {
	var all, force bool
	var filters []string
	var keepStorage string
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove build cache",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := engine.BuilderPruneOptions(all, filters, keepStorage)
			if err != nil {
				return err
			}
			what := "all dangling build cache"
			if all {
				what = "all build cache"
			}
			if !force && !e.confirm("WARNING! This will remove "+what+".") {
				return nil
			}
			rep, err := e.engine().PruneBuildCache(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if len(rep.Deleted) > 0 {
				fmt.Fprintln(e.out, "Deleted build cache objects:")
				for _, id := range rep.Deleted {
					fmt.Fprintln(e.out, id)
				}
				fmt.Fprintln(e.out)
			}
			fmt.Fprintf(e.out, "Total reclaimed space: %s\n", units.HumanSize(rep.SpaceReclaimed, 3))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused build cache, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=24h")`)
	cmd.Flags().StringVar(&keepStorage, "keep-storage", "", "Amount of disk space to keep for cache")
	return cmd
}
