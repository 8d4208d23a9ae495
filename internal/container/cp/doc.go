// Package cp owns `docker cp`'s tar streams: From writes a path of a
// container's root filesystem as a tar stream whose top entry is the
// path's base name; To extracts a tar stream into a directory of the root
// filesystem; Stat describes a path of it; TarHostPath writes a host path
// the same way for copies into a container (owned by root unless -a).
// Mounting the root filesystem is the caller's business.
//
// # Running containers (CVE-2018-15664)
//
// A running container can rename its files while a copy works on them: it
// can exchange a directory with a symlink to a host path
// (renameat2 RENAME_EXCHANGE) between the moment a path is resolved and the
// moment it is used. So nothing here resolves a container path to a host
// path name and opens that name again. The root filesystem is opened once
// (a host path the container cannot change) and every path is resolved
// from that handle by the kernel with openat2 RESOLVE_IN_ROOT and
// RESOLVE_NO_MAGICLINKS (fsutil.OpenInRoot, fsutil.OpenParentInRoot):
// symlinks and ".." resolve as if the root were "/", whatever is swapped
// meanwhile. From then walks the entry through directory descriptors,
// each child opened relative to its directory without following symlinks
// (archive.TarEntry); To extracts relative to the destination directory's
// handle (archive.ApplyAt), creating every file and directory with the *at
// calls and resolving tar paths beneath that handle. A swap mid-copy can
// make a copy fail or copy another file of the container, never reach the
// host.
//
// This is the only defence: the container is not paused during a copy
// (docker pauses it). fd-relative resolution closes the race for every
// caller, including a container that cannot be paused, and never stops
// the container's processes. Export and diff walk the same way (archive
// walks by descriptor); commit pauses a running container by default (-p,
// as docker) and walks by descriptor when it does not.
package cp
