// Package runc runs the builder's RUN steps with an OCI runtime CLI (the
// engine's default runtime: crun where installed, else runc; or the one
// HOIST_RUNTIME names), invoked through package runtime as a container's
// runtime is (its config.json writer, crun's log option, crun without the
// cgroup2 hierarchy on a hybrid host): Runner implements build.Runner. The
// request types (Request, Mount, Resources) are defined here and aliased by
// package build, so this package needs nothing of the builder.
//
// The OCI spec of a step comes from the container package's tables
// (capabilities, masked and read-only paths, default mounts, rlimits, user
// resolution), as for `hoist run`, with the builder's differences: only fds
// 0-2 (stdin is /dev/null), /etc/hosts and /etc/resolv.conf bound from the
// bundle, the mount points the runtime had to create removed afterwards, a
// new network namespace only for --network=none. In rootless hoist the
// spec goes through spec.AdaptRootless as `run`'s (no cgroup path without a
// delegated hierarchy, the host's /sys bound where sysfs cannot be
// mounted); the builder refuses -m/--cpu-* there first (Resources.Limits).
//
// # On-disk layout (Runner.Dir, <root>/build/runc)
//
//	runtime/<name>/         runtime <name>'s --root while steps run
//	bundles/<id>/           config.json, hosts, resolv.conf, runtime.log of a
//	                        running step; <id> is hoist-build-<pid>-<random>
//
// Cleanup deletes the runtime containers and bundles of dead processes
// (after a kill -9), each with the runtime whose state has it.
package runc
