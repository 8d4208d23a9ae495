package spec

import (
	"path"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hoistproject/hoist/internal/rootless"
)

// AdaptRootless changes a spec for rootless hoist (package rootless; a
// no-op otherwise), the one rule for `run` and build RUN steps: without a
// delegated cgroup v2 hierarchy the container gets no cgroup of its own
// (runc's rootless cgroup manager then creates none; limits were refused
// before, by rootless.CheckLimits), with one its cgroup is made under the
// user's; a container in the host's network namespace, where sysfs cannot
// be mounted (the namespace is not the user namespace's), gets the host's
// /sys bound read-only instead, as podman does.
func AdaptRootless(s *specs.Spec) {
	if !rootless.Running() || s.Linux == nil {
		return
	}
	if parent, ok := rootless.DelegatedCgroup(); ok {
		if s.Linux.CgroupsPath != "" {
			s.Linux.CgroupsPath = path.Join(parent, path.Base(s.Linux.CgroupsPath))
		}
	} else {
		s.Linux.CgroupsPath = ""
		s.Linux.Resources = nil
	}
	if !slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace }) {
		for i := range s.Mounts {
			if m := &s.Mounts[i]; m.Destination == "/sys" && m.Type == "sysfs" {
				ro := slices.Contains(m.Options, "ro")
				*m = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev"}}
				if ro {
					m.Options = append(m.Options, "ro")
				}
			}
		}
	}
}
