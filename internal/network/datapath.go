package network

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/rootless"
)

// Transport is how containers on bridge networks reach the world:
// "bridge" (a Linux bridge, veth pairs, nftables), as root; "slirp4netns"
// (a user-mode network per container) where hoist cannot create
// interfaces (rootless). HOIST_NETWORK_TRANSPORT chooses one.
func Transport() string {
	switch v := os.Getenv("HOIST_NETWORK_TRANSPORT"); v {
	case "bridge", "slirp4netns":
		return v
	}
	if rootless.Running() || os.Geteuid() != 0 {
		return "slirp4netns"
	}
	return "bridge"
}

// vethName is the host end of the container id's interface on network
// netID (15 bytes at most, as the kernel wants).
func vethName(id, netID string) string {
	h := sha256.Sum256([]byte(id + "/" + netID))
	return "hv" + hex.EncodeToString(h[:])[:11]
}

// Up brings up the container id's interfaces in the network namespace
// nsPath (a namespace with loopback only): one veth pair per network it
// is attached to (eth0, eth1, ... in the order of primary first, then by
// name), each bridge and its NAT rules as needed, the DNS resolver of
// user-defined networks, and the proxy of the published ports (DNATed to
// the primary network's address too). It returns the proxy's pid (0: no
// ports). On error nothing of it is left.
func (s *Store) Up(ctx context.Context, id, nsPath, primary string, ports []PortBinding) (int, error) {
	proxyPid := 0
	err := s.update(func(st *state) error {
		var nets []*Network
		for _, n := range st.Networks {
			if _, ok := n.Endpoints[id]; ok {
				nets = append(nets, n)
			}
		}
		if p := st.find(primary); p == nil && primary != "" {
			return errdefs.NotFoundf("network %s not found", primary)
		}
		sort.SliceStable(nets, func(i, j int) bool {
			if (nets[i].Name == primary) != (nets[j].Name == primary) {
				return nets[i].Name == primary
			}
			return nets[i].Name < nets[j].Name
		})
		ok := false
		defer func() {
			if !ok {
				for _, n := range nets {
					down(n.Endpoints[id])
				}
				s.syncDatapath(st, nets...)
			}
		}()
		route := true
		for i, n := range nets {
			ep := n.Endpoints[id]
			ep.IfName = fmt.Sprintf("eth%d", i)
			if err := lease(n, ep); err != nil {
				return err
			}
			if err := s.plug(n, ep, nsPath, route && !n.Internal); err != nil {
				return err
			}
			if !n.Internal {
				route = false
			}
			if i == 0 && len(ports) > 0 {
				ep.Ports = ports
			}
		}
		if err := s.syncDatapath(st, nets...); err != nil {
			return err
		}
		if len(ports) > 0 && len(nets) > 0 {
			ep := nets[0].Endpoints[id]
			pid, err := s.startProxy(ep, nsPath, ports)
			if err != nil {
				return err
			}
			proxyPid = pid
		}
		ok = true
		return nil
	})
	return proxyPid, err
}

// UpOne brings up the container id's interface on network ref in its
// running namespace nsPath (network connect).
func (s *Store) UpOne(ctx context.Context, ref, id, nsPath string) error {
	return s.update(func(st *state) error {
		n := st.find(ref)
		if n == nil {
			return errdefs.NotFoundf("network %s not found", ref)
		}
		ep := n.Endpoints[id]
		if ep == nil {
			return errdefs.NotFoundf("container %s is not connected to network %s", id, ref)
		}
		used := map[string]bool{}
		route := true
		for _, o := range st.Networks {
			if e := o.Endpoints[id]; e != nil && e.Up {
				used[e.IfName] = true
				if !o.Internal {
					route = false
				}
			}
		}
		for i := 0; ; i++ {
			if name := fmt.Sprintf("eth%d", i); !used[name] {
				ep.IfName = name
				break
			}
		}
		err := lease(n, ep)
		if err == nil {
			err = s.plug(n, ep, nsPath, route && !n.Internal)
		}
		if err != nil {
			down(ep)
			s.syncDatapath(st, n)
			return err
		}
		return s.syncDatapath(st, n)
	})
}

// Down takes the container id's interfaces down as its process ended:
// each host veth is set down (at once cut from its bridge: the dying
// namespace answers no ARP for the address) and the addresses released,
// so that a stopped container holds none when its clients learn it
// stopped (docker's). The veth pairs themselves, whose deletion waits for
// the kernel, go after with Unplug or the namespace; the bridges stay.
func (s *Store) Down(ctx context.Context, id string) error {
	if Transport() != "bridge" {
		return nil
	}
	return s.update(func(st *state) error {
		var changed []*Network
		for _, n := range st.Networks {
			if ep, ok := n.Endpoints[id]; ok && (ep.Up || ep.HostVeth != "") {
				quiesce(ep)
				changed = append(changed, n)
			}
		}
		if len(changed) == 0 {
			return nil
		}
		return s.syncDatapath(st, changed...)
	})
}

// lease gives ep its address on n (the one asked for with --ip, or the
// lowest free), its MAC and a new endpoint ID, as its container comes up.
func lease(n *Network, ep *Endpoint) error {
	ep.IP = "" // a crash's leftover lease is this one
	ip, err := allocate(n, ep.IPAMIP)
	if err != nil {
		return err
	}
	ep.IP, ep.MAC, ep.EndpointID = ip.String(), ep.ConfigMAC, newID()
	if ep.MAC == "" {
		ep.MAC = macFor(ip)
	}
	return nil
}

// down deletes ep's veth pair, marks it down and releases its address.
func down(ep *Endpoint) {
	if ep == nil {
		return
	}
	if ep.HostVeth != "" {
		if l, err := netlink.LinkByName(ep.HostVeth); err == nil {
			netlink.LinkDel(l)
		}
	}
	clearLease(ep)
}

// quiesce is down without the deletion, which waits for the kernel: ep's
// host veth is set down (no traffic reaches or leaves the pair), its
// address released; the pair goes with Unplug or its namespace.
func quiesce(ep *Endpoint) {
	if ep.HostVeth != "" {
		if l, err := netlink.LinkByName(ep.HostVeth); err == nil {
			netlink.LinkSetDown(l)
		}
	}
	clearLease(ep)
}

func clearLease(ep *Endpoint) {
	ep.Up, ep.Sandbox, ep.HostVeth, ep.IfName, ep.Ports = false, "", "", "", nil
	ep.IP, ep.MAC, ep.EndpointID = "", "", ""
}

// Unplug deletes the veth pairs of the network namespace nsPath (its
// container stopped: Down released them).
func Unplug(nsPath string) {
	if Transport() != "bridge" || !nsAlive(nsPath) {
		return
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return
	}
	defer h.Close()
	links, _ := h.LinkList()
	for _, l := range links {
		if l.Type() == "veth" {
			h.LinkDel(l)
		}
	}
}

// plug makes n's bridge if needed and a veth pair from it into the
// namespace nsPath, named ep.IfName there, with ep's address and MAC; with
// route, the default route goes through n's gateway.
func (s *Store) plug(n *Network, ep *Endpoint, nsPath string, route bool) error {
	hh, err := netlink.NewHandle() // one netlink socket for the host side
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer hh.Close()
	br, err := ensureBridge(hh, n)
	if err != nil {
		return err
	}
	n.Active = true
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", nsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns) // and one for the container's side
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", nsPath, err)
	}
	defer h.Close()
	mac, err := net.ParseMAC(ep.MAC)
	if err != nil {
		return errdefs.InvalidArgumentf("%s is not a valid mac address", ep.MAC)
	}
	hostName := vethName(ep.ContainerID, n.ID)
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: hostName, MasterIndex: br.Attrs().Index, MTU: br.Attrs().MTU, Flags: net.FlagUp},
		PeerName:  ep.IfName, PeerHardwareAddr: mac, PeerNamespace: netlink.NsFd(int(ns)),
	}
	err = hh.LinkAdd(veth)
	if errors.Is(err, unix.EEXIST) {
		if old, lerr := hh.LinkByName(hostName); lerr == nil {
			hh.LinkDel(old) // a crash's leftover
		}
		err = hh.LinkAdd(veth)
	}
	if err != nil {
		return fmt.Errorf("create veth pair for %s on %s: %w", ep.ContainerName, n.Name, err)
	}
	ep.HostVeth = hostName
	h.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1}}) // lo: index 1 in every namespace
	peer, err := h.LinkByName(ep.IfName)
	if err != nil {
		return fmt.Errorf("container interface %s: %w", ep.IfName, err)
	}
	p := n.prefix()
	addr, _ := netlink.ParseAddr(ep.IP + "/" + fmt.Sprint(p.Bits()))
	if err := h.AddrAdd(peer, addr); err != nil {
		return fmt.Errorf("address %s: %w", ep.IP, err)
	}
	if err := h.LinkSetUp(peer); err != nil {
		return fmt.Errorf("set %s up: %w", ep.IfName, err)
	}
	if route {
		gw := net.ParseIP(n.Gateway)
		if err := h.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: gw}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("default route via %s: %w", n.Gateway, err)
		}
	}
	ep.Up, ep.Sandbox = true, nsPath
	return nil
}

// ensureBridge makes n's Linux bridge with its gateway address, up
// (through the host's netlink handle hh).
func ensureBridge(hh *netlink.Handle, n *Network) (netlink.Link, error) {
	if l, err := hh.LinkByName(n.Bridge); err == nil {
		return l, nil
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge, MTU: 1500}}
	if err := hh.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create bridge %s: %w", n.Bridge, err)
	}
	l, err := hh.LinkByName(n.Bridge)
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", n.Bridge, err)
	}
	addr, _ := netlink.ParseAddr(n.Gateway + "/" + fmt.Sprint(n.prefix().Bits()))
	if err := hh.AddrAdd(l, addr); err != nil && !errors.Is(err, unix.EEXIST) {
		hh.LinkDel(l)
		return nil, fmt.Errorf("bridge %s address %s: %w", n.Bridge, n.Gateway, err)
	}
	if err := hh.LinkSetUp(l); err != nil {
		hh.LinkDel(l)
		return nil, fmt.Errorf("set bridge %s up: %w", n.Bridge, err)
	}
	if !n.Internal {
		enableForwarding()
	}
	return l, nil
}

// enableForwarding turns on IPv4 forwarding (as docker does).
func enableForwarding() {
	const p = "/proc/sys/net/ipv4/ip_forward"
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == "1" {
		return
	}
	os.WriteFile(p, []byte("1\n"), 0o644)
}

// syncDatapath makes the host match the state for the networks changed
// (and the ones st no longer has): a network removed loses its bridge
// and resolver, an active user-defined one has its resolver running;
// then the nftables table, when st needs other rules than it has.
func (s *Store) syncDatapath(st *state, changed ...*Network) error {
	if Transport() != "bridge" {
		return nil
	}
	for _, n := range changed {
		if n == nil || n.Driver != "bridge" {
			continue
		}
		if st.find(n.ID) != n {
			deactivate(n)
			continue
		}
		if n.Active && n.Name != "bridge" && !resolverAlive(n) {
			if err := s.startResolver(n); err != nil {
				return err
			}
		}
	}
	return syncRules(st, false)
}

// deactivate takes n's bridge and resolver off the host.
func deactivate(n *Network) {
	stopResolver(n)
	if l, err := netlink.LinkByName(n.Bridge); err == nil {
		netlink.LinkDel(l)
	}
	n.Active = false
}

// Repair makes the host and the leases match the containers: exists tells
// whether a container record is there, running whether it runs. Leases of
// removed containers are released, interfaces of stopped ones taken down;
// bridges, veths, rules and resolvers nothing uses are removed. It
// returns what it changed.
func (s *Store) Repair(ctx context.Context, exists, running func(id string) bool) ([]string, error) {
	var done []string
	err := s.update(func(st *state) error {
		for _, n := range st.Networks {
			for id, ep := range n.Endpoints {
				if !exists(id) {
					down(ep)
					delete(n.Endpoints, id)
					done = append(done, fmt.Sprintf("released address %s of removed container %s on network %s", ep.IP, shortID(id), n.Name))
					continue
				}
				if (ep.Up || ep.HostVeth != "") && (!running(id) || !nsAlive(ep.Sandbox)) {
					down(ep)
					done = append(done, fmt.Sprintf("took down the interface of stopped container %s on network %s", shortID(id), n.Name))
				}
			}
		}
		if Transport() != "bridge" {
			return nil
		}
		// bridges and resolvers of networks no container uses, and the
		// interfaces this root made (its state names them: a network's
		// bridge, an endpoint's veth) that no up endpoint or network
		// owns. Only those: another root on this host has interfaces of
		// the same kind, and the default bridge's name is every root's,
		// so it is this root's to remove only while it brought it up.
		keep, ours := map[string]bool{}, map[string]bool{}
		for _, n := range st.Networks {
			if n.AnyUp() {
				keep[n.Bridge] = true
			} else if n.Active || n.ResolverPid != 0 {
				deactivate(n)
				done = append(done, fmt.Sprintf("took down the bridge %s of network %s (no container runs on it)", n.Bridge, n.Name))
			}
			if n.Bridge != "" && (n.Bridge != DefaultBridge || n.Active) {
				ours[n.Bridge] = true
			}
			for id, ep := range n.Endpoints {
				ours[vethName(id, n.ID)] = true
				if ep.HostVeth != "" {
					ours[ep.HostVeth] = true
				}
				if ep.Up {
					keep[ep.HostVeth] = true
				}
			}
		}
		links, _ := netlink.LinkList()
		for _, l := range links {
			name := l.Attrs().Name
			if ours[name] && !keep[name] {
				netlink.LinkDel(l)
				done = append(done, "removed interface "+name)
			}
		}
		if err := s.syncDatapath(st, st.Networks...); err != nil {
			return err
		}
		return syncRules(st, true)
	})
	return done, err
}

// nsAlive reports whether path is a bind-mounted network namespace.
func nsAlive(path string) bool {
	if path == "" {
		return false
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil {
		return false
	}
	return sfs.Type == unix.NSFS_MAGIC
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Addr is an endpoint's address with its network's prefix length.
func (ep *Endpoint) Addr(n *Network) (netip.Addr, int) {
	a, _ := netip.ParseAddr(ep.IP)
	return a, n.prefix().Bits()
}
