package container

import (
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mount"
)

// resolveCommand applies docker's ENTRYPOINT/CMD precedence: a user command
// replaces the image's CMD; --entrypoint replaces the image's ENTRYPOINT and
// clears its CMD.
func resolveCommand(img []string, imgCmd []string, cfg Config) ([]string, error) {
	entry, cmd := img, imgCmd
	if cfg.EntrypointSet {
		entry, cmd = nil, nil
		if len(cfg.Entrypoint) > 0 && !(len(cfg.Entrypoint) == 1 && cfg.Entrypoint[0] == "") {
			entry = cfg.Entrypoint
		}
	}
	if len(cfg.Cmd) > 0 {
		cmd = cfg.Cmd
	}
	args := append(append([]string{}, entry...), cmd...)
	if len(args) == 0 {
		return nil, errdefs.InvalidArgumentf("No command specified")
	}
	return args, nil
}

// processEnv is the container process's environment: PATH and HOSTNAME
// defaults, TERM with a tty, then the merged image+user env.
func processEnv(c *Container, tty bool, extra []string) []string {
	base := []string{"PATH=" + spec.DefaultPath, "HOSTNAME=" + c.Config.Hostname}
	if tty {
		base = append(base, "TERM=xterm")
	}
	return spec.MergeEnv(base, c.Config.Env, extra)
}

// buildSpec generates the OCI runtime spec for c with its rootfs mounted at
// rootfs.
func (m *Manager) buildSpec(c *Container, rootfs string) (*specs.Spec, error) {
	o := spec.Options{
		Rootfs:         rootfs,
		ReadonlyRootfs: c.HostConfig.ReadonlyRootfs,
		Hostname:       c.Config.Hostname,
		User:           c.Config.User,
		Cwd:            c.Config.WorkingDir,
		Args:           append([]string{c.Path}, c.Args...),
		Env:            processEnv(c, c.Config.Tty, nil),
		Tty:            c.Config.Tty,
		Ulimits:        c.HostConfig.Ulimits,
		SecurityOpt:    c.HostConfig.SecurityOpt,
		CgroupsPath:    cgroupsPath(c),
		Limits: spec.Limits{
			Memory: c.HostConfig.Memory, MemorySwap: c.HostConfig.MemorySwap,
			MemoryReservation: c.HostConfig.MemoryReservation, MemorySwappiness: c.HostConfig.MemorySwappiness,
			OomKillDisable: c.HostConfig.OomKillDisable, NanoCPUs: c.HostConfig.NanoCPUs,
			CPUShares: c.HostConfig.CPUShares, CPUPeriod: c.HostConfig.CPUPeriod, CPUQuota: c.HostConfig.CPUQuota,
			CpusetCpus: c.HostConfig.CpusetCpus, CpusetMems: c.HostConfig.CpusetMems, PidsLimit: c.HostConfig.PidsLimit,
		},
		CapAdd:          c.HostConfig.CapAdd,
		CapDrop:         c.HostConfig.CapDrop,
		GroupAdd:        c.HostConfig.GroupAdd,
		ShmSize:         c.HostConfig.ShmSize,
		Tmpfs:           c.HostConfig.Tmpfs,
		Privileged:      c.HostConfig.Privileged,
		HostPID:         c.HostConfig.PidMode == "host",
		HostIPC:         c.HostConfig.IpcMode == "host",
		HostUTS:         c.HostConfig.UTSMode == "host",
		Devices:         c.HostConfig.Devices,
		Sysctls:         c.HostConfig.Sysctls,
		Domainname:      c.Config.Domainname,
		PrivateCgroupNS: c.HostConfig.CgroupnsMode == "private",
	}
	if c.HostConfig.OomScoreAdj != 0 {
		adj := c.HostConfig.OomScoreAdj
		o.OOMScoreAdj = &adj
	}
	switch c.netKind() {
	case "host":
		o.HostNetwork = true
	case "none":
	case "container":
		ns, err := m.joinedNetNS(c)
		if err != nil {
			return nil, err
		}
		o.NetNS = ns
	default:
		o.NetNS = network.NSPath(c.dir)
	}
	if c.HostConfig.Init {
		o.Init = m.opts.Self[0]
	}
	// Per-container files, bind-mounted so they are never part of the
	// container's upper dir (never committed).
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		o.Mounts = append(o.Mounts, spec.Bind(filepath.Join(c.dir, f), "/etc/"+f, true, ""))
	}
	for _, mp := range c.Mounts {
		if err := checkPropagation(mp); err != nil {
			return nil, err
		}
		o.Volumes = append(o.Volumes, spec.Bind(mp.Source, mp.Destination, mp.RW, mp.Propagation))
	}
	return spec.Generate(o)
}

// etc is what c's --add-host and --dns* add to its /etc files.
func (c *Container) etc() network.Etc {
	hc := c.HostConfig
	return network.Etc{ExtraHosts: hc.ExtraHosts, DNS: hc.DNS, DNSSearch: hc.DNSSearch, DNSOptions: hc.DNSOptions}
}

// Network is c's network: bridge, none, host, a user-defined network's
// name or container:ID.
func (c *Container) Network() string { return network.Mode(c.HostConfig.NetworkMode) }

// cgroupName is the cgroup of c's processes ("hoist-<id>").
func cgroupName(c *Container) string { return "hoist-" + c.ID }

// cgroupsPath is the runtime's cgroupsPath of c: its cgroup, under
// --cgroup-parent (from the hierarchies' roots) when one is given.
func cgroupsPath(c *Container) string {
	if p := strings.Trim(c.HostConfig.CgroupParent, "/"); p != "" {
		return "/" + p + "/" + cgroupName(c)
	}
	return cgroupName(c)
}

// checkPropagation refuses, as docker, a shared bind of a source that is
// not on a shared mount and a slave bind of one on a private mount (the
// mode could not do what it says).
func checkPropagation(mp MountPoint) error {
	var need []string
	switch mp.Propagation {
	case "shared", "rshared":
		need = []string{"shared"}
	case "slave", "rslave":
		need = []string{"shared", "slave"}
	default:
		return nil
	}
	on, prop, err := mount.Propagation(mp.Source)
	if err != nil {
		return fmt.Errorf("bind %s: %w", mp.Source, err)
	}
	for _, ok := range need {
		if prop == ok {
			return nil
		}
	}
	return errdefs.FailedPreconditionf("path %s is mounted on %s but it is not a %s mount", mp.Source, on, strings.Join(need, " or "))
}
