// Package cp owns `docker cp`'s tar streams: From writes a path of a
// container's root filesystem (resolved inside it, symlinks never leaving
// it) as a tar stream whose top entry is the path's base name; To
// extracts a tar stream into a directory of the root filesystem (through
// the archive package: never writing outside it); TarHostPath writes a
// host path the same way for copies into a container (owned by root
// unless -a). Mounting the root filesystem is the caller's business.
package cp
