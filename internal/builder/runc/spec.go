package runc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/fsutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// spec builds the OCI spec of a step. cleanup removes files the runtime
// created in the rootfs as mount points (/etc/hosts, /etc/resolv.conf) so
// they never end up in the layer.
func (r *Runner) spec(req Request, bundle string) (*specs.Spec, func(), error) {
	// USER is resolved in the image's /etc/passwd and /etc/group by the
	// container package's resolver (the same rules as `run`).
	eu, err := spec.ResolveUser(req.Rootfs, req.User)
	if err != nil {
		return nil, func() {}, err
	}
	uid, gid, groups, home := eu.UID, eu.GID, eu.Groups, eu.Home
	env := append([]string(nil), req.Env...)
	if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "HOME=") }) {
		env = append(env, "HOME="+home)
	}
	cwd := req.Cwd
	if cwd == "" {
		cwd = "/"
	}
	// The working directory is created if missing, owned by the user (the
	// rule of `run`: inside the rootfs, through symlinks to missing dirs).
	if err := spec.PrepareCwd(req.Rootfs, cwd, eu); err != nil {
		return nil, func() {}, err
	}
	caps := spec.DefaultCapabilities()
	s := &specs.Spec{
		Version:  spec.Version,
		Hostname: req.Hostname,
		Root:     &specs.Root{Path: req.Rootfs},
		Process: &specs.Process{
			Args: req.Args,
			Env:  env,
			Cwd:  cwd,
			// groups start with the primary group, as docker and BuildKit
			// (since the fix of GHSA-4wp2-8rm2-jgmf) set them up.
			User: specs.User{UID: uid, GID: gid, AdditionalGids: groups},
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
		},
		Mounts: spec.DefaultMounts(),
		Linux: &specs.Linux{
			Namespaces:    []specs.LinuxNamespace{{Type: "pid"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}, {Type: "cgroup"}},
			MaskedPaths:   spec.MaskedPaths(),
			ReadonlyPaths: spec.ReadonlyPaths(),
			Resources:     resources(req.Resources),
		},
	}
	if req.Network == "none" {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "network"})
	}
	if p := strings.Trim(req.Resources.CgroupParent, "/"); p != "" {
		s.Linux.CgroupsPath = "/" + p + "/" + filepath.Base(bundle) // the step's id
	}
	if req.Resources.ShmSize > 0 {
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/dev/shm" {
				s.Mounts[i].Options[len(s.Mounts[i].Options)-1] = fmt.Sprintf("size=%d", req.Resources.ShmSize)
			}
		}
	}
	// docker's RLIMIT_NOFILE and the --ulimit values, clamped to the host's
	// hard limits (the container package's rules, as for `run`).
	var ulimits []spec.Ulimit
	for _, u := range req.Resources.Ulimits {
		ul, err := spec.ParseUlimit(u)
		if err != nil {
			return nil, func() {}, err
		}
		ulimits = append(ulimits, ul)
	}
	rl, err := spec.Rlimits(ulimits)
	if err != nil {
		return nil, func() {}, err
	}
	s.Process.Rlimits = rl
	// /etc/hosts and /etc/resolv.conf come from files in the bundle.
	var created []string
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + req.Hostname + "\n"
	for _, h := range req.ExtraHosts {
		if name, ip, ok := strings.Cut(h, ":"); ok {
			hosts += ip + "\t" + name + "\n"
		}
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil || req.Network == "none" {
		resolv = nil
	}
	for _, f := range []struct{ name, data string }{{"hosts", hosts}, {"resolv.conf", string(resolv)}} {
		src := filepath.Join(bundle, f.name)
		if err := os.WriteFile(src, []byte(f.data), 0o644); err != nil {
			return nil, func() {}, err
		}
		dst := "/etc/" + f.name
		p, err := securejoin.SecureJoin(req.Rootfs, dst)
		if err != nil {
			continue
		}
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			created = append(created, p)
		} else if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue // a dangling link or a directory: leave the image's
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	}
	for _, m := range req.Mounts {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Destination, Type: m.Type, Source: m.Source, Options: m.Options})
	}
	if err := spec.Confine(s, req.Security, false); err != nil {
		return nil, func() {}, err
	}
	// Mount points the runtime must create (/proc, /dev, /sys on a rootfs
	// without them, and their missing parents) are removed afterwards, as
	// docker and BuildKit do: they are no part of the step's layer. Of
	// the RUN --mount targets, as BuildKit, the directories made for them
	// stay (empty) and only the stub of a file mount (a secret's) goes.
	spec.AdaptRootless(s)
	stepMounts := map[string]bool{}
	for _, m := range req.Mounts {
		stepMounts[path.Clean("/"+m.Destination)] = true
	}
	var stubs []string // made for RUN --mount targets: removed if not a directory
	for _, m := range s.Mounts {
		if m.Destination == "/etc/hosts" || m.Destination == "/etc/resolv.conf" {
			continue // recorded above
		}
		if stepMounts[path.Clean("/"+m.Destination)] {
			stubs = append(stubs, missingPaths(req.Rootfs, m.Destination)...)
			// The directories BuildKit leaves are made here, 0755 and
			// root's, not with whatever mode the runtime would give them
			// (crun's are 1755): the target of a directory mount, the
			// parents of a file mount.
			dir := m.Destination
			if !dirMount(m) {
				dir = path.Dir(dir)
			}
			if _, err := fsutil.MkdirAllInRoot(req.Rootfs, dir, 0o755, 0, 0); err != nil {
				return nil, func() {}, fmt.Errorf("RUN --mount target %s: %w", m.Destination, err)
			}
			continue
		}
		created = append(created, missingPaths(req.Rootfs, m.Destination)...)
	}
	cleanup := func() {
		for i := len(created) - 1; i >= 0; i-- {
			p := created[i]
			// Only an empty file or directory, as the runtime made it.
			if fi, err := os.Lstat(p); err == nil && (fi.IsDir() || fi.Size() == 0) {
				_ = os.Remove(p)
			}
		}
		for _, p := range stubs {
			if fi, err := os.Lstat(p); err == nil && !fi.IsDir() && fi.Size() == 0 {
				_ = os.Remove(p)
			}
		}
	}
	return s, cleanup, nil
}

// missingPaths returns the components of dest (an absolute path in the
// container) that do not exist in rootfs, outermost first.
func missingPaths(rootfs, dest string) []string {
	var out []string
	dest = path.Clean("/" + dest)
	cur := "/"
	for _, part := range strings.Split(strings.TrimPrefix(dest, "/"), "/") {
		if part == "" {
			continue
		}
		cur = path.Join(cur, part)
		p, err := securejoin.SecureJoin(rootfs, cur)
		if err != nil {
			return out
		}
		if len(out) > 0 {
			out = append(out, p) // below a missing dir: missing too
			continue
		}
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			out = append(out, p)
		}
	}
	return out
}

// resources are the step's cgroup limits, by the container package's rule.
func resources(r Resources) *specs.LinuxResources {
	res := &specs.LinuxResources{}
	spec.Limits{
		Memory: r.Memory, MemorySwap: r.MemorySwap, CPUShares: r.CPUShares, CPUPeriod: r.CPUPeriod,
		CPUQuota: r.CPUQuota, CpusetCpus: r.CPUSetCPUs, CpusetMems: r.CPUSetMems,
	}.Apply(res)
	return res
}

// dirMount: m mounts a directory (a tmpfs, a cache, a bind of a
// directory), not a file (a secret, a bind of a file).
func dirMount(m specs.Mount) bool {
	if m.Type != "bind" {
		return true
	}
	fi, err := os.Stat(m.Source)
	return err == nil && fi.IsDir()
}
