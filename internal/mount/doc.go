// Package mount describes mounts as data and is the one place in hoist that
// performs mounts and unmounts (ARCHITECTURE.md: one owner per rule).
//
// A Mount is a filesystem type, a source and options in mount(8) form
// ("ro", "rbind", "lowerdir=A:B", "upperdir=U", "workdir=W"). Other packages
// (the layer store, the container manager, the builder) build Mount values
// and hand them to Mount/All; they never call mount(2) themselves.
//
// Overlay mounts with many layers use the new mount API (fsopen, fsconfig
// "lowerdir+" once per layer, fsmount, move_mount), which has no limit on the
// number of layers other than the kernel's (500). Where that API is missing,
// the classic mount(2) is used with paths made relative to their common
// parent directory (in a thread with its own working directory) so that the
// option string fits in one page.
//
// In rootless hoist (a user namespace, package rootless) overlays are
// mounted with userxattr: overlayfs then keeps its markers in user.overlay.*
// (trusted.* is the host root's).
//
// Overlay kinds. Overlay mounts are made with the kernel's overlayfs or,
// where it cannot be mounted in rootless hoist's user namespace (older
// kernels, some filesystems), with fuse-overlayfs (Debian's package): the
// same lowerdir/upperdir/workdir options, run as a program that mounts
// /dev/fuse and stays as the filesystem's daemon until the mount is
// unmounted (Unmount: umount2 in the namespace; the daemon then exits).
// Its paths are passed relative to their common parent, since it splits
// lowerdir at every ":" without escapes. A root's kind is chosen once, at
// its first use (ChooseOverlay: HOIST_ROOTLESS_OVERLAY if set, else a
// probe mount of the kernel's, then fuse-overlayfs's, in rootless hoist
// only), and recorded in <root>/overlay-kind, the one file this package
// keeps; every later process uses the recorded kind. The kind is data:
// the layer store and the container manager hold it (their OverlayKind)
// and pass it to Overlay; this package keeps no state of its own in
// memory. fuse-overlayfs
// writes its own markers into upper dirs (package archive reads them).
//
// Paths in overlay options are escaped, a backslash before each ",", ":"
// and backslash, as overlayfs reads them in mount(2)'s data and in
// fsconfig's upperdir and workdir, so that a directory whose name holds a
// separator (a --root such as /srv/a,b or /srv/a:b) mounts as itself;
// "lowerdir+" takes each path unescaped. LowerDirs and Option unescape.
//
// Unmounting never follows symlinks (UMOUNT_NOFOLLOW) and falls back to a
// lazy detach when the mount is busy.
//
// Besides <root>/overlay-kind the package owns no on-disk state. It also creates and removes persistent
// network namespaces (a bind mount of a namespace file), since that is a
// mount too.
package mount
