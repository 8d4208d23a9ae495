package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/builder"
	buildcache "github.com/hoistproject/hoist/internal/builder/cache"
	"github.com/hoistproject/hoist/internal/container"
	ociruntime "github.com/hoistproject/hoist/internal/container/runtime"
	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/hoistproject/hoist/internal/units"
)

// The values of the disk-usage and prune use cases.
type (
	ImageUsage             = images.Usage
	ContainerUsage         = container.Usage
	BuildCacheUsage        = buildcache.Usage
	BuildCachePruneOptions = buildcache.PruneOptions
	BuildCachePruneReport  = buildcache.PruneReport
	Leftover               = images.Leftover
	Filters                = images.Filters
)

// DiskUsage is system df's data.
type DiskUsage struct {
	Images     ImageUsage
	Containers ContainerUsage
	Volumes    []Volume
	// BuildCache counts what interrupted work left (Leftovers) too, as
	// docker counts its own unused intermediate data; BuildActive of its
	// records are in use, BuildReclaimable of its bytes are not.
	BuildCache       BuildCacheUsage
	BuildActive      int
	BuildReclaimable int64
	Leftovers        []Leftover
}

// DiskUsage is system df: the space images, containers, volumes and the
// build cache take.
func (e *Engine) DiskUsage(ctx context.Context) (DiskUsage, error) {
	var d DiskUsage
	s, err := e.images()
	if err != nil {
		return d, err
	}
	if d.Images, err = s.DiskUsage(ctx); err != nil {
		return d, err
	}
	if m, err := e.containers(); err == nil {
		d.Containers, _ = m.DiskUsage(ctx)
	}
	if vs, users, err := e.volumes(); err == nil {
		d.Volumes = vs.List(users)
	}
	if d.BuildCache, err = buildcache.DiskUsage(ctx, s); err != nil {
		return d, err
	}
	if d.Leftovers, err = s.Leftovers(ctx); err != nil {
		return d, err
	}
	d.BuildReclaimable = d.BuildCache.Size
	for _, l := range d.Leftovers {
		d.BuildCache.Records++
		d.BuildCache.Size += l.Size
		if l.Live {
			d.BuildActive++
		} else {
			d.BuildReclaimable += l.Size
		}
	}
	return d, nil
}

// PruneContainers removes the stopped containers that pass f (until,
// label); it returns their IDs and the bytes reclaimed.
func (e *Engine) PruneContainers(ctx context.Context, f Filters) ([]string, int64, error) {
	m, err := e.containers()
	if err != nil {
		return nil, 0, err
	}
	now := time.Now()
	return m.Prune(ctx, func(c *container.Container) bool { return f.Keep(c.Created, c.Config.Labels, now) })
}

// PruneBuildCache is builder prune.
func (e *Engine) PruneBuildCache(ctx context.Context, o BuildCachePruneOptions) (BuildCachePruneReport, error) {
	st, err := e.images()
	if err != nil {
		return BuildCachePruneReport{}, err
	}
	rep, err := buildcache.Prune(ctx, st, filepath.Join(st.Root(), "build"), o)
	if err == nil {
		// COPY's indexes of layers that are gone (all of them with -a).
		rep.SpaceReclaimed += builder.PruneCopyIndexes(ctx, filepath.Join(st.Root(), "build"), o.All, st.HasLayer)
		// The mirrors of remote clients' contexts no build is using.
		rep.SpaceReclaimed += pruneSyncedContexts(ctx, st.Root())
	}
	return rep, err
}

// PruneBuildData is system prune's part of the build cache (docker: all of
// it with all, else the dangling part; an until duration of f applies to
// it too) and what interrupted work left that no live process owns; it
// returns the bytes reclaimed.
func (e *Engine) PruneBuildData(ctx context.Context, all bool, f Filters) (int64, error) {
	bopts := buildcache.PruneOptions{All: all}
	for _, u := range f.Until {
		if d, err := time.ParseDuration(u); err == nil {
			bopts.KeepDuration = d
		}
	}
	brep, err := e.PruneBuildCache(ctx, bopts)
	if err != nil {
		return 0, err
	}
	s, err := e.images()
	if err != nil {
		return 0, err
	}
	leftovers, err := s.PruneLeftovers(ctx)
	for _, l := range leftovers {
		brep.SpaceReclaimed += l.Size
	}
	return brep.SpaceReclaimed, err
}

// BuilderPruneOptions reads builder prune's flags with docker's rules: the
// filters are until (a duration; unused-for is its old name); other
// BuildKit filters (id, type, ...) are refused.
func BuilderPruneOptions(all bool, filters []string, keepStorage string) (BuildCachePruneOptions, error) {
	opts := BuildCachePruneOptions{All: all}
	var until []string
	key := "until"
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return opts, errdefs.InvalidArgumentf("bad format of filter (expected name=value)")
		}
		switch k = strings.ToLower(strings.TrimSpace(k)); k {
		case "until", "unused-for":
			if len(until) > 0 && key != k {
				return opts, errdefs.InvalidArgumentf("conflicting filters %q and %q", "until", "unused-for")
			}
			key = k
			until = append(until, v)
		default:
			return opts, errdefs.InvalidArgumentf("invalid filter '%s'", k)
		}
	}
	switch len(until) {
	case 0:
	case 1:
		d, err := time.ParseDuration(until[0])
		if err != nil {
			return opts, errdefs.InvalidArgumentf("%q filter expects a duration (e.g., '24h'): %v", key, err)
		}
		opts.KeepDuration = d
	default:
		return opts, errdefs.InvalidArgumentf("%q filter expects only one value", key)
	}
	var n int64
	var err error
	if keepStorage != "" {
		n, err = units.ParseBytes(keepStorage)
	}
	if err != nil {
		return opts, errdefs.InvalidArgumentf("invalid --keep-storage %q: %v", keepStorage, err)
	}
	opts.KeepStorage = n
	return opts, nil
}

// Info is info's data; field names follow docker's info --format keys.
type Info struct {
	ID                string
	Containers        int
	ContainersRunning int
	ContainersPaused  int
	ContainersStopped int
	Images            int
	Driver            string
	DriverStatus      [][2]string
	DockerRootDir     string
	ServerVersion     string
	Runtimes          map[string]map[string]string
	DefaultRuntime    string
	KernelVersion     string
	OperatingSystem   string
	OSType            string
	Architecture      string
	NCPU              int
	MemTotal          int64
	Name              string
	SecurityOptions   []string
	// NetworkTransport is how bridge networks are made here: "bridge"
	// (Linux bridges, veth, nftables) or "slirp4netns" (rootless).
	NetworkTransport string
}

// Info is info: what the root holds and what this host runs.
func (e *Engine) Info(ctx context.Context) (Info, error) {
	s, err := e.images()
	if err != nil {
		return Info{}, err
	}
	n, err := s.Count(ctx)
	if err != nil {
		return Info{}, err
	}
	root := e.o.Root
	overlay := s.OverlayKind()
	d := Info{
		Images: n, Driver: "overlay2", DockerRootDir: root, ServerVersion: e.o.Version,
		DriverStatus: [][2]string{{"Backing Filesystem", backingFS(root)}, {"Supports d_type", "true"},
			// The root's overlay kind (podman's words for fuse-overlayfs).
			{"Native Overlay Diff", strconv.FormatBool(overlay == mount.KernelOverlay)}, {"Overlay", overlay}},
		Runtimes: map[string]map[string]string{}, OSType: runtime.GOOS, Architecture: unameMachine(),
		NCPU: runtime.NumCPU(), OperatingSystem: osName(), SecurityOptions: spec.SecurityOptions(),
		NetworkTransport: NetworkTransport(),
	}
	if m, err := e.containers(); err == nil {
		if cs, err := m.List(ctx); err == nil {
			for _, c := range cs {
				d.Containers++
				switch c.State.Status {
				case container.StatusRunning:
					d.ContainersRunning++
				case container.StatusPaused:
					d.ContainersPaused++
				default:
					d.ContainersStopped++
				}
			}
		}
	}
	d.DefaultRuntime = ociruntime.Default()
	if rt := e.o.Runtime; rt != "" {
		d.DefaultRuntime = rt
	}
	for _, rt := range []string{"runc", "crun", d.DefaultRuntime} {
		if p, err := exec.LookPath(rt); err == nil {
			d.Runtimes[rt] = map[string]string{"path": p}
		}
	}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		d.KernelVersion = unix.ByteSliceToString(uts.Release[:])
		d.Name = unix.ByteSliceToString(uts.Nodename[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		d.MemTotal = int64(si.Totalram) * int64(si.Unit)
	}
	return d, nil
}

func unameMachine() string {
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		return unix.ByteSliceToString(uts.Machine[:])
	}
	return runtime.GOARCH
}

func osName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}

func backingFS(root string) string {
	var st unix.Statfs_t
	if unix.Statfs(root, &st) != nil {
		if unix.Statfs("/", &st) != nil {
			return "unknown"
		}
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return "extfs"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	}
	return fmt.Sprintf("0x%x", st.Type)
}
