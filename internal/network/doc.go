// Package network owns networks: docker's bridge, host and none, the
// user-defined bridge networks of `network create`, the address leases of
// the containers attached to them, and the host side of their traffic (a
// Linux bridge per network, a veth pair per attachment, nftables rules,
// the published ports' proxy and the DNS resolver). A container's own
// namespace, its slirp4netns and its /etc files are package
// container/network's; the container package calls Connect at create, Up
// at start, Down at stop and Release at rm.
//
// # State
//
// <root>/networks/state.json holds every network with its endpoints
// (container ID, address, MAC, aliases, links; whether its interface is
// up, in which namespace, with which host veth and published ports). It is
// written atomically (temp file, fsync, rename) under the exclusive flock
// of <root>/networks/lock, read under the shared one; every change is one
// read-modify-write under that lock, so an address is never handed out
// twice, also by hoist processes starting containers in parallel. As in
// docker, an endpoint (the attachment, with its aliases, links, --ip and
// --mac-address) lives from create (or connect) to rm (or disconnect),
// but its address lease, MAC and endpoint ID only while the container
// runs: they are taken at Up and released at Down, so a stopped
// container's address is free for another (and --ip taken by a running
// one fails the start with "Address already in use"; the subnet is
// checked at create). network inspect lists the running containers, and
// network rm and prune take a network only stopped containers are
// attached to, with their attachments (their start then fails: network
// not found). A start is one locked write (lease and veth together), a
// stop one, with no change to the bridge or the rules unless ports are
// published.
//
// # Transport
//
// As root the bridge transport is used (Transport): a network's bridge
// (hoist0 for the default network, 172.17.0.0/16 unless the host routes
// it; hbr-<id> for the others, from docker's pools) is made by the first
// container that comes up on it and then kept, with its rules and
// resolver, while the network exists (the network is Active), as docker
// keeps docker0: a container's start and stop add and delete its veth
// pair only. `network rm` and prune take the bridge down, and `system
// check --repair` takes down the bridges no running container uses. The
// nftables table "ip hoist" is rebuilt whole from the state in one
// netlink batch when the rules it needs change (st.Rules is the digest of
// the ones written; repair always rewrites): masquerade of each subnet
// going out another interface (not for --internal), DNAT of published
// ports ("fib daddr type local"), and in the forward hook drops between
// two hoist bridges (networks are isolated) and from or to an --internal
// network's bridge other than within it. Connections to a published port on 127.0.0.1 are
// not DNATed (that needs route_localnet): a proxy process per container
// (`hoist network-helper proxy`, as docker-proxy) listens on the host
// ports and forwards to the container's address. Where hoist cannot
// create interfaces (rootless, or HOIST_NETWORK_TRANSPORT=slirp4netns)
// every bridge-driver network is a slirp4netns network per container:
// no container reaches another directly, and there is no DNS by name.
//
// # DNS, daemonless
//
// A user-defined network has a resolver process (`hoist network-helper
// resolver ID`, github.com/miekg/dns) listening on its gateway's port 53,
// started with the network's bridge and stopped with it (its pid and
// start time are in the state); containers get it as their nameserver.
// It knows the asking container by the query's source address and
// answers as docker's embedded DNS answers that container: the names,
// network aliases and short IDs of the running containers of every
// user-defined network it is attached to (so a network connected while
// it runs resolves through the nameserver it already has), and the
// aliases of its own --link options (on user-defined networks a link is
// a DNS alias seen by the linking container only, no /etc/hosts entry).
// Other names are forwarded to the host's resolvers; a query from an
// address that is not a container of the network is refused. It reads
// state.json again when it changes (no cache to keep coherent, no daemon
// to talk to) and exits on its own when its network is gone or no longer
// active, so a killed hoist leaves no resolver behind for long. The
// default bridge has none (as docker); --link writes /etc/hosts entries
// there.
//
// # Cleanup
//
// The proxy exits on its own when its container's namespace file goes.
// When the container's process ends, its monitor releases its addresses
// before telling the clients (Down, or Release for --rm): each host veth
// is set down, which cuts the dying namespace off its bridge at once (no
// ARP answer for an address a new container may get next, with the same
// MAC); the veth pairs, whose deletion waits for the kernel, are deleted
// after (Unplug), off the command's path. After a kill -9 of any hoist
// process, Repair (`system check --repair`) makes the host match the
// containers that exist and run: endpoints of removed containers are
// dropped, interfaces of stopped ones deleted, bridges and resolvers of
// networks no running container uses taken down, every interface named
// as hoist's (hoist0, hbr-*, hv* veths) that no up endpoint owns removed,
// and the rules rewritten.
package network
