// Package spec owns the OCI runtime spec of a container process: docker's
// defaults (capabilities, masked and read-only paths, the /proc /dev /sys
// ... mounts, RLIMIT_NOFILE), --ulimit parsing and clamping to the host's
// hard limits, --security-opt parsing and the confinement it selects
// (Confine: docker's default seccomp profile from moby/profiles, adjusted
// to the process's capabilities, or unconfined, or a JSON profile read at
// create time as docker's client does; systempaths; AppArmor where the
// host enforces it — where it does not, no profile is applied and `info`
// lists only seccomp), the resolution of a USER spec
// against the image's /etc/passwd and /etc/group, the working directory,
// the environment, and Generate, which puts them together for `run`.
// internal/builder/runc uses the same tables for build steps.
//
// It also owns the process --init puts at PID 1 (RunInit, mounted at
// InitPath from the hoist binary).
//
// It knows nothing of container records: the caller passes what it needs
// (Options). It owns no on-disk state; it reads the rootfs's /etc/passwd
// and /etc/group and may create the working directory and the mount
// points in the rootfs (resolved inside it, through image symlinks, so
// that every runtime finds them; Generate). It refuses, as docker's
// daemon, a net.* sysctl in the host's network namespace
// (CheckHostNetworkSysctls).
package spec
