package runtime

import (
	"encoding/base64"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/seccomp"
)

// crunSeccompBPF is crun's annotation for a seccomp filter compiled by
// the caller (base64 of the program): crun then loads it as it is instead
// of compiling linux.seccomp with libseccomp at every start.
const crunSeccompBPF = "run.oci.seccomp_bpf_data"

// forCrun returns s as crun is to get it, so that its container is
// confined and looks as runc's (docker's) does, from the inside:
//
//   - the seccomp filter compiled by hoist (package seccomp) rides along in
//     crun's annotation, which spares the ~13 ms libseccomp takes over
//     docker's profile; linux.seccomp is left out then (crun would only
//     parse it; exec uses the program crun saved at create). A
//     filter hoist does not compile (seccomp.ErrUnsupported) is left to
//     crun.
//   - the read-only /proc paths become read-only binds of themselves, with
//     nosuid, nodev and noexec, as runc makes them: crun (1.8) remounts
//     them read-only without those flags.
//   - on a cgroup v1 host, /sys/fs/cgroup becomes a tmpfs of mode 0755
//     with a bind of the container's own cgroup of each hierarchy, as runc
//     mounts it: crun names its tmpfs after the mount's source ("cgroup")
//     and leaves it world-writable (1777).
//
// s itself is not changed.
func forCrun(s *specs.Spec) *specs.Spec {
	c := *s
	if s.Linux == nil {
		return &c
	}
	l := *s.Linux
	c.Linux = &l
	if l.Seccomp != nil {
		if prog, err := seccomp.Compile(l.Seccomp); err == nil {
			c.Annotations = maps.Clone(s.Annotations)
			if c.Annotations == nil {
				c.Annotations = map[string]string{}
			}
			c.Annotations[crunSeccompBPF] = base64.StdEncoding.EncodeToString(prog)
			l.Seccomp = nil // crun never reads it then: spare it parsing ~20 KB of JSON
		}
	}
	if s.Root == nil || !filepath.IsAbs(s.Root.Path) || slices.ContainsFunc(l.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace }) {
		return &c
	}
	c.Mounts = nil
	for _, m := range s.Mounts {
		if m.Type == "cgroup" && m.Destination == cgroupRoot {
			if binds := cgroupV1Mounts(l.CgroupsPath, slices.Contains(m.Options, "ro")); binds != nil {
				c.Mounts = append(c.Mounts, binds...)
				continue
			}
		}
		c.Mounts = append(c.Mounts, m)
	}
	if slices.ContainsFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/proc" && m.Type == "proc" }) {
		l.ReadonlyPaths = nil
		for _, p := range s.Linux.ReadonlyPaths {
			// Only what the kernel has (crun skips a missing path; a
			// bind of one would fail): the container's /proc has what
			// the host's has.
			if _, err := os.Lstat(p); err != nil || !strings.HasPrefix(p, "/proc/") {
				l.ReadonlyPaths = append(l.ReadonlyPaths, p)
				continue
			}
			// The source is the container's /proc, mounted (by the
			// mount above) before crun turns to this one.
			c.Mounts = append(c.Mounts, specs.Mount{Destination: p, Type: "bind", Source: s.Root.Path + p,
				Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
		}
	}
	return &c
}

// cgroupV1Mounts are the mounts that make a cgroup v1 host's /sys/fs/cgroup
// in a container as runc makes it: a tmpfs, and in it each hierarchy's
// directory bound from the container's cgroup there (cgroupsPath, from
// the hierarchy's root, as crun takes it; read-only with ro). nil when the
// host's hierarchies are not all plain directories of their own
// (co-mounted ones are reached through symlinks, which a mount cannot
// make), or there is no cgroup v1: crun's own mount then.
func cgroupV1Mounts(cgroupsPath string, ro bool) []specs.Mount {
	var st unix.Statfs_t
	if cgroupsPath == "" || slices.Contains(strings.Split(cgroupsPath, "/"), "..") || unix.Statfs(cgroupRoot, &st) != nil || st.Type != unix.TMPFS_MAGIC {
		return nil
	}
	ents, err := os.ReadDir(cgroupRoot)
	if err != nil {
		return nil
	}
	ms := []specs.Mount{{Destination: cgroupRoot, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "noexec", "nodev", "mode=755"}}}
	for _, e := range ents {
		dir := filepath.Join(cgroupRoot, e.Name())
		if !e.IsDir() || unix.Statfs(dir, &st) != nil {
			return nil
		}
		switch st.Type {
		case unix.CGROUP_SUPER_MAGIC:
		case unix.CGROUP2_SUPER_MAGIC:
			continue // a hybrid host's cgroup2, which crun is not shown (Cmd)
		default:
			return nil
		}
		opts := []string{"rbind", "nosuid", "noexec", "nodev"}
		if ro {
			opts = append(opts, "ro")
		}
		ms = append(ms, specs.Mount{Destination: dir, Type: "bind", Source: filepath.Join(dir, "/", cgroupsPath), Options: opts})
	}
	if len(ms) == 1 {
		return nil
	}
	return ms
}
