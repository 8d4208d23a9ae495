// Package network owns a container's user-mode network: for the default
// "bridge" mode, a network namespace of its own connected to the host by
// slirp4netns (which also forwards published ports, PortBinding), and the
// hosts, hostname and resolv.conf files the container sees; FreePort picks
// host ports for -p PORT and -P. The "none" mode is a new namespace with
// loopback only, "host" the host's.
//
// # On-disk layout (in the container's directory, named by the caller)
//
//	netns        the bind-mounted network namespace (bridge, while running)
//	slirp.sock   slirp4netns's API socket (port forwarding requests)
//	hosts hostname resolv.conf   written by WriteEtcFiles
//
// runc cannot join a namespace path holding a "," (it passes the paths
// joined by commas): CheckBridge refuses the bridge mode at create for a
// container directory with one (a --root such as /srv/a,b) under runc.
//
// In rootless hoist slirp4netns opens /dev/net/tun as the user: a
// /dev/net/tun the user cannot open is refused with a message saying so.
//
// With the bridge transport (package internal/network, as root) the
// namespace is made by StartNamespace and the container's veth interfaces
// are plugged into it there; Bridge.OnStop takes them down before the
// namespace goes, and the helper pid it reports is the ports proxy's.
//
// A Bridge started by one process may be handed to another (Release,
// Adopt with slirp4netns's pid); Cleanup stops what a process that died
// left.
package network
