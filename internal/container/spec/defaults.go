package spec

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultPath is the PATH a container gets when its image sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// defaultCapabilities is docker's default capability set.
var defaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

var maskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
}

var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// DefaultCapabilities returns docker's default capability set (a copy), for
// every process hoist starts: containers, exec and build steps.
func DefaultCapabilities() []string { return slices.Clone(defaultCapabilities) }

// MaskedPaths returns docker's masked /proc and /sys paths (a copy).
func MaskedPaths() []string { return slices.Clone(maskedPaths) }

// ReadonlyPaths returns docker's read-only /proc paths (a copy).
func ReadonlyPaths() []string { return slices.Clone(readonlyPaths) }

// ProcessCapabilities are the capabilities of a container's process (its
// own, or one exec'd in it) run as uid: docker's default set with
// --cap-add/--cap-drop applied, or with privileged all the host can grant.
func ProcessCapabilities(uid uint32, add, drop []string, privileged bool) (*specs.LinuxCapabilities, error) {
	if privileged {
		return capabilitiesFor(uid, grantable()), nil
	}
	caps, err := CapSet(add, drop)
	if err != nil {
		return nil, err
	}
	return capabilitiesFor(uid, caps), nil
}

// capabilitiesFor gives a process run as uid the capability set caps; a
// non-root user gets the bounding set only, no effective capabilities (as
// Docker >= 23).
func capabilitiesFor(uid uint32, caps []string) *specs.LinuxCapabilities {
	if uid != 0 {
		return &specs.LinuxCapabilities{Bounding: caps}
	}
	return &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
}

// DefaultMounts are docker's /proc, /dev, /dev/pts, /sys, cgroup, mqueue
// and /dev/shm (64 MiB; its size is the last option) mounts.
func DefaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}},
	}
}
