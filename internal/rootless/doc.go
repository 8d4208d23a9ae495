// Package rootless owns rootless hoist: hoist started by a user other than
// root runs in a user namespace of that user's, where it is "root" over the
// user's own uid and subordinate id range, in a mount namespace of its own.
//
// # The namespaces
//
// The user namespace maps uid 0 to the user (container root is the user
// outside) and 1..N to the user's subordinate range from /etc/subuid (the
// same for gids from /etc/subgid); newuidmap and newgidmap (Debian's
// uidmap package) write the maps. Without a range, Enter fails before
// anything is written with one error naming /etc/subuid and the
// `usermod --add-subuids` command that adds one.
//
// The namespaces are held by a holder process ("hoist rootless-holder"),
// started once per user and kept (it sleeps) so that every later hoist
// invocation shares them: the overlay mounts of running containers, their
// bind-mounted network namespaces and runc's view of its state all live
// in the holder's mount namespace. The holder shares the host's network
// namespace: pulls, pushes and `registry serve` reach the host's network
// as the user would. Each invocation of hoist by the user joins the
// holder's namespaces with nsenter (util-linux; Go cannot setns into a
// user namespace from a multi-threaded process) and re-executes itself
// there as uid 0 with its own arguments, environment and working
// directory; processes hoist starts from there (container monitors, runc,
// slirp4netns) inherit the namespaces. A holder that is gone (killed,
// reboot) is replaced by a new one at the next invocation; containers of
// the old one are reconciled as dead by the container package.
//
// Creating the holder: the user starts hoist with CLONE_NEWUSER and
// CLONE_NEWNS, the child waits on a pipe until newuidmap and newgidmap
// have written its maps, then re-executes itself (its capabilities in the
// new namespace were dropped at the first exec, made while unmapped), makes
// its mount tree a slave of the host's (host mounts propagate in, none
// propagate out) and reports ready.
//
// Inside, Running reports true (the process's uid map is not the initial
// one): the CLI stores under $XDG_DATA_HOME/hoist (default
// ~/.local/share/hoist), the overlay is mounted with userxattr, runc uses
// its rootless cgroup manager, and resource limits are refused unless the
// cgroup v2 hierarchy is delegated to the user (Limits); `info` says
// rootless.
//
// # On-disk layout (the per-user runtime directory)
//
// $XDG_RUNTIME_DIR/hoist, or /tmp/hoist-<uid> without XDG_RUNTIME_DIR;
// owned by the user, 0700 (anything else is refused: another user could
// have planted it):
//
//	holder.lock   flock(2) serialising the creation of the holder
//	holder.pid    the holder's pid (checked against /proc: same uid, same
//	              command, before it is joined)
package rootless
