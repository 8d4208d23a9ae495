package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/container/health"
	"github.com/hoistproject/hoist/internal/container/names"
	"github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/container/volume"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/rootless"
)

// timeNow is the clock (UTC, like docker's timestamps).
func timeNow() time.Time { return time.Now().UTC() }

// CreateOptions are the inputs of Create.
type CreateOptions struct {
	Name       string // "" generates one
	Image      string // reference or ID, resolved with Options.Images
	Config     Config
	HostConfig HostConfig
	// Hold keeps the container's lock after Create returns, until
	// StartCreated takes it over (or Container.Release): run's
	// create-then-start is then one step for every other process.
	Hold bool
	// Endpoint is the container's --ip, --network-alias and --mac-address
	// on its network.
	Endpoint EndpointOptions
}

// Create resolves the image and records a new container (state "created").
// Nothing runs and nothing is mounted until Start.
func (m *Manager) Create(ctx context.Context, o CreateOptions) (*Container, error) {
	if m.opts.Images == nil {
		return nil, errdefs.NotImplementedf("no image store configured")
	}
	img, err := m.opts.Images.ResolveImage(ctx, o.Image)
	if err != nil {
		return nil, err
	}
	return m.CreateFromImage(ctx, img, o)
}

// CreateFromImage records a new container of img.
func (m *Manager) CreateFromImage(ctx context.Context, img Image, o CreateOptions) (*Container, error) {
	ic := img.Config.Config
	cfg := o.Config
	hc := o.HostConfig
	hc.Links = append([]string{}, hc.Links...)
	netName, err := m.resolveNetwork(ctx, &hc, o.Endpoint)
	if err != nil {
		return nil, err
	}
	if network.Mode(hc.NetworkMode) == "host" {
		if err := spec.CheckHostNetworkSysctls(hc.Sysctls); err != nil {
			return nil, err
		}
	}
	for flag, mode := range map[string]string{"pid": hc.PidMode, "ipc": hc.IpcMode, "uts": hc.UTSMode} {
		switch {
		case mode == "" || mode == "host":
		case flag == "ipc" && (mode == "private" || mode == "shareable"):
		default:
			return nil, errdefs.InvalidArgumentf("invalid %s mode: %s (hoist supports \"host\")", flag, mode)
		}
	}
	// A seccomp profile file is read now, as docker's client does: the
	// container keeps the profile it was created with.
	secOpt, err := spec.ResolveSecurityOpts(hc.SecurityOpt)
	if err != nil {
		return nil, err
	}
	hc.SecurityOpt = secOpt
	if err := rootless.CheckLimits(hc.limits()...); err != nil {
		return nil, errdefs.InvalidArgumentf("%v", err)
	}
	if err := hc.RestartPolicy.Validate(); err != nil {
		return nil, err
	}
	if hc.AutoRemove && !hc.RestartPolicy.IsNone() {
		return nil, errdefs.InvalidArgumentf("can't create 'AutoRemove' container with restart policy")
	}
	if cfg.StopSignal != "" { // --stop-signal; docker checks the one given, not the image's
		if _, err := parseSignal(cfg.StopSignal); err != nil {
			return nil, err
		}
	}
	args, err := resolveCommand(ic.Entrypoint, ic.Cmd, cfg)
	if err != nil {
		return nil, err
	}
	cfg.Env = spec.MergeEnv(ic.Env, cfg.Env)
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = ic.WorkingDir
	}
	if cfg.User == "" {
		cfg.User = ic.User
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = ic.StopSignal
	}
	if !cfg.EntrypointSet {
		cfg.Entrypoint = ic.Entrypoint
	} else if len(cfg.Entrypoint) == 1 && cfg.Entrypoint[0] == "" {
		cfg.Entrypoint = nil // --entrypoint "": none (and none in a commit)
	}
	if len(cfg.Cmd) == 0 && !cfg.EntrypointSet {
		cfg.Cmd = ic.Cmd
	}
	labels := map[string]string{}
	for k, v := range ic.Labels {
		labels[k] = v
	}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	cfg.Labels = labels
	if len(ic.ExposedPorts) > 0 && cfg.ExposedPorts == nil {
		cfg.ExposedPorts = map[string]struct{}{}
	}
	for p := range ic.ExposedPorts {
		cfg.ExposedPorts[p] = struct{}{}
	}
	for _, pb := range hc.PortBindings {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		cfg.ExposedPorts[fmt.Sprintf("%d/%s", pb.ContainerPort, pb.Proto)] = struct{}{}
	}
	if len(ic.Volumes) > 0 && cfg.Volumes == nil {
		cfg.Volumes = map[string]struct{}{}
	}
	for v := range ic.Volumes {
		cfg.Volumes[v] = struct{}{}
	}
	if cfg.Image == "" {
		cfg.Image = img.Ref
	}
	cfg.Healthcheck = health.Merge(img.Healthcheck, cfg.Healthcheck)

	id := newID()
	if cfg.Hostname == "" {
		cfg.Hostname = id[:12]
		if network.Mode(hc.NetworkMode) == "host" || hc.UTSMode == "host" {
			if h, err := os.Hostname(); err == nil {
				cfg.Hostname = h
			}
		}
	}
	c := &Container{
		ID: id, Created: timeNow(), Path: args[0], Args: args[1:],
		ImageID: img.ID, ImageRef: img.Ref, ImageConfig: ic, LowerDirs: img.LowerDirs, ChainIDs: img.ChainIDs,
		Config: cfg, HostConfig: hc,
		dir: filepath.Join(m.containersDir(), id),
	}
	c.State.Status = StatusCreated
	if m.opts.Storage == StorageCopy {
		c.Storage = StorageCopy
	}
	if c.HostConfig.Runtime == "" {
		c.HostConfig.Runtime = m.opts.Runtime
	}
	if rt := m.runtimeOf(c); rt != "" {
		if _, err := exec.LookPath(rt); err != nil {
			return nil, errdefs.InvalidArgumentf("unknown or invalid runtime name: %s (%v)", rt, err)
		}
	}

	if c.netKind() == "bridge" {
		if err := network.CheckBridge(c.dir, m.runtimeOf(c)); err != nil {
			return nil, err
		}
	}

	// 0710 as docker's containers and overlay2 dirs since 20.10.9
	// (CVE-2021-41091): no other host user walks into a container's files
	// (its setuid programs among them).
	// Held until the record is written: a directory with no record and a
	// free lock is a crash's remnant (removeRemnants). With o.Hold it is
	// held on until Start (or Release), so that no prune or rm takes the
	// container between its creation and its start. The directory is made
	// and locked under the remnant sweep's shared lock, so a sweep never
	// sees it between the two; the name is reserved after, so that a
	// reservation whose container has no record and no lock holder is a
	// crash's leftover (reserveName).
	lk, err := m.newContainerDir(c)
	if err != nil {
		return nil, err
	}
	defer func() {
		if c.held == nil {
			lk.Close()
		}
	}()
	ok := false
	name := ""
	defer func() {
		if !ok {
			os.RemoveAll(c.dir)
			if name != "" {
				m.names().Release(name, id)
			}
			if netName != "" {
				m.nets.Release(context.WithoutCancel(ctx), id)
			}
		}
	}()
	if want := strings.TrimPrefix(o.Name, "/"); want != "" {
		if err := m.reserveName(want, id); err != nil {
			return nil, err
		}
		name = want
	} else {
		for i := 0; ; i++ {
			gen := names.Generate()
			if i > 5 {
				gen += strconv.Itoa(i)
			}
			if err := m.reserveName(gen, id); err == nil {
				name = gen
				break
			} else if !errdefs.IsConflict(err) || i > 50 {
				return nil, err
			}
		}
	}
	c.Name = name
	for _, d := range []string{filepath.Join(c.dir, "work"), filepath.Join(c.dir, "rootfs"), filepath.Join(c.dir, "bundle")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("create container dir: %w", err)
		}
	}
	// The upper dir's mode is the mode of the container's / (overlayfs
	// takes the root's attributes from the upper layer): 0755 as docker,
	// whatever the image's "./" entry says.
	if err := mkdirMode(filepath.Join(c.dir, "upper"), rootMode); err != nil {
		return nil, fmt.Errorf("create container dir: %w", err)
	}
	if err := makeInitLayer(filepath.Join(c.dir, "init")); err != nil {
		return nil, err
	}
	if err := m.setupVolumes(ctx, c); err != nil {
		return nil, err
	}
	if err := m.setupPorts(c); err != nil {
		return nil, err
	}
	if err := m.connectCreated(ctx, c, netName, o.Endpoint); err != nil {
		return nil, err
	}
	if err := c.saveState(); err != nil {
		return nil, err
	}
	if err := c.saveConfig(); err != nil {
		return nil, err
	}
	ok = true
	if o.Hold {
		c.held = lk
	}
	m.event(c, "create", nil)
	return c, nil
}

// setupVolumes resolves -v binds, named volumes, --volumes-from and the
// image's VOLUMEs (a destination taken by one is skipped by the next).
func (m *Manager) setupVolumes(ctx context.Context, c *Container) error {
	seen := map[string]bool{}
	for _, v := range c.HostConfig.Binds {
		b, err := volume.ParseBind(v)
		if err != nil {
			return err
		}
		src, dst := b.Source, b.Destination
		if seen[dst] {
			return errdefs.InvalidArgumentf("Duplicate mount point: %s", dst)
		}
		seen[dst] = true
		mp := MountPoint{Destination: dst, RW: b.RW}
		if b.HostPath() {
			// Docker creates a missing host directory for -v; an existing
			// source of any kind (a file, a socket) is bound as it is, and
			// the runtime makes its mount point inside the rootfs of the same
			// kind.
			if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
				if err := os.MkdirAll(src, 0o755); err != nil {
					return errdefs.InvalidArgumentf("invalid volume source %s: %v", src, err)
				}
			} else if err != nil {
				return errdefs.InvalidArgumentf("invalid volume source %s: %v", src, err)
			}
			mp.Type, mp.Source, mp.Propagation = "bind", filepath.Clean(src), b.Propagation
		} else {
			if err := volume.CheckName(src); err != nil {
				return err
			}
			dir, created, err := m.volumes().Path(src)
			if err != nil {
				return err
			}
			if created {
				m.opts.Events.Record("volume", "create", src, map[string]string{"driver": "local"})
			}
			mp.Type, mp.Name, mp.Source, mp.NoCopy = "volume", src, dir, b.NoCopy
		}
		c.Mounts = append(c.Mounts, mp)
	}
	for _, from := range c.HostConfig.VolumesFrom {
		ref, mode, _ := strings.Cut(from, ":")
		switch mode {
		case "", "ro", "rw":
		default:
			return errdefs.InvalidArgumentf("invalid mode for volumes-from: %s", mode)
		}
		src, err := m.Get(ctx, ref)
		if err != nil {
			return err
		}
		for _, mp := range src.Mounts {
			if seen[mp.Destination] {
				continue
			}
			seen[mp.Destination] = true
			if mode != "" {
				mp.RW = mode == "rw"
			}
			mp.Anonymous = false // shared: its own container removes it
			c.Mounts = append(c.Mounts, mp)
		}
	}
	var anon []string
	for v := range c.Config.Volumes {
		if !seen[path.Clean(v)] {
			anon = append(anon, path.Clean(v))
		}
	}
	sort.Strings(anon)
	for _, dst := range anon {
		name := newID()
		dir, _, err := m.volumes().Path(name)
		if err != nil {
			return err
		}
		m.opts.Events.Record("volume", "create", name, map[string]string{"driver": "local"})
		c.Mounts = append(c.Mounts, MountPoint{Type: "volume", Name: name, Source: dir, Destination: dst, RW: true, Anonymous: true})
	}
	return nil
}

// setupPorts allocates host ports for -P (every exposed port not bound
// explicitly gets a free ephemeral port).
func (m *Manager) setupPorts(c *Container) error {
	c.Ports = append([]network.PortBinding{}, c.HostConfig.PortBindings...)
	for i, p := range c.Ports {
		if p.HostPort == 0 { // -p CONTAINERPORT: any free host port
			hp, err := network.FreePort(p.Proto)
			if err != nil {
				return err
			}
			c.Ports[i].HostPort = hp
		}
	}
	if !c.HostConfig.PublishAll {
		return nil
	}
	bound := map[string]bool{}
	for _, p := range c.Ports {
		bound[fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)] = true
	}
	var exposed []string
	for p := range c.Config.ExposedPorts {
		exposed = append(exposed, p)
	}
	sort.Strings(exposed)
	for _, p := range exposed {
		if bound[p] {
			continue
		}
		port, proto, _ := strings.Cut(p, "/")
		if proto == "" {
			proto = "tcp"
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			continue
		}
		hp, err := network.FreePort(proto)
		if err != nil {
			return err
		}
		c.Ports = append(c.Ports, network.PortBinding{HostIP: "0.0.0.0", HostPort: hp, ContainerPort: n, Proto: proto})
	}
	return nil
}

// makeInitLayer writes the container's init layer: the mount points the
// runtime needs (/etc/hosts, /etc/hostname, /etc/resolv.conf, /proc, /sys,
// /dev), so that creating them never shows up in the container's upper dir
// (and so never in diff or commit). It sits on top of the image's layers.
func makeInitLayer(dir string) error {
	for _, d := range []string{"etc", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("init layer: %w", err)
		}
	}
	for _, f := range []string{"etc/hosts", "etc/hostname", "etc/resolv.conf"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			return fmt.Errorf("init layer: %w", err)
		}
	}
	return nil
}

// rootMode is the mode of a container's / (docker's), whatever the mode of
// the image's root.
const rootMode = 0o755

// mkdirMode creates dir with exactly mode (the umask left out).
func mkdirMode(dir string, mode fs.FileMode) error {
	if err := os.Mkdir(dir, mode); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}
