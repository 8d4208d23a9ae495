package network

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// ipam is a network's addressing as network create settles it.
type ipam struct{ Subnet, Gateway, IPRange string }

// pools are the subnets given to networks created without --subnet, in
// docker's order (its default address pools): 172.17-31.0.0/16, then
// 192.168.0.0/16 in /20s.
func pools() []netip.Prefix {
	var out []netip.Prefix
	for i := 17; i <= 31; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i), 0, 0}), 16))
	}
	for i := 0; i < 256; i += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), 0}), 20))
	}
	return out
}

// hostRoutes are the IPv4 destinations the host routes (a pool that
// overlaps one is taken).
func hostRoutes() []netip.Prefix {
	var out []netip.Prefix
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue // the default route takes no pool
		}
		// netlink gives the default route as 0.0.0.0/0 too: it takes no
		// pool either (else a host with a default route had none free).
		if p, ok := prefixOf(r.Dst); ok && p.Bits() > 0 {
			out = append(out, p)
		}
	}
	return out
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a, ones), true
}

// freePool is the first pool overlapping no network of st and no host
// route, skipping skip.
func freePool(st *state) (netip.Prefix, error) {
	routes := hostRoutes()
	for _, p := range pools() {
		if overlapsAny(p, st, routes) {
			continue
		}
		return p, nil
	}
	return netip.Prefix{}, errdefs.FailedPreconditionf("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
}

func overlapsAny(p netip.Prefix, st *state, routes []netip.Prefix) bool {
	for _, n := range st.Networks {
		if q := n.prefix(); q.IsValid() && q.Overlaps(p) {
			return true
		}
	}
	for _, r := range routes {
		if r.Overlaps(p) {
			return true
		}
	}
	return false
}

// defaultBridgeSubnet is the default bridge's subnet: 172.17.0.0/16
// unless the host routes it already (then the next free pool).
func defaultBridgeSubnet(st *state) string {
	p, err := freePool(st)
	if err != nil {
		return "172.17.0.0/16"
	}
	return p.String()
}

// planSubnet checks network create's --subnet, --gateway and --ip-range
// with docker's rules and messages, picking a free pool without --subnet.
func planSubnet(st *state, subnet, gateway, ipRange string) (ipam, error) {
	var p netip.Prefix
	if subnet == "" {
		if gateway != "" || ipRange != "" {
			return ipam{}, errdefs.InvalidArgumentf("every ip-range or gateway must have a corresponding subnet")
		}
		free, err := freePool(st)
		if err != nil {
			return ipam{}, err
		}
		p = free
	} else {
		q, err := netip.ParsePrefix(subnet)
		if err != nil || !q.Addr().Is4() {
			return ipam{}, errdefs.InvalidArgumentf("invalid subnet %s : invalid CIDR address: %s", subnet, subnet)
		}
		p = q.Masked()
		if p.Bits() > 30 {
			return ipam{}, errdefs.InvalidArgumentf("invalid subnet %s: too small for a gateway and a container", subnet)
		}
		for _, n := range st.Networks {
			if q := n.prefix(); q.IsValid() && q.Overlaps(p) {
				return ipam{}, errdefs.FailedPreconditionf("invalid pool request: Pool overlaps with other one on this address space")
			}
		}
	}
	out := ipam{Subnet: p.String(), Gateway: p.Addr().Next().String()}
	if ipRange != "" {
		r, err := netip.ParsePrefix(ipRange)
		if err != nil || !r.Addr().Is4() {
			return ipam{}, errdefs.InvalidArgumentf("invalid ip-range %s: invalid CIDR address: %s", ipRange, ipRange)
		}
		r = r.Masked()
		if !p.Contains(r.Addr()) || r.Bits() < p.Bits() {
			return ipam{}, errdefs.InvalidArgumentf("no matching subnet for range %s", ipRange)
		}
		out.IPRange = r.String()
	}
	if gateway != "" {
		g, err := netip.ParseAddr(gateway)
		if err != nil || !g.Is4() {
			return ipam{}, errdefs.InvalidArgumentf("invalid gateway %s", gateway)
		}
		if !p.Contains(g) || g == p.Addr() || g == lastAddr(p) {
			return ipam{}, errdefs.InvalidArgumentf("no matching subnet for gateway %s", gateway)
		}
		out.Gateway = g.String()
	}
	return out, nil
}

// lastAddr is p's broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// allocate picks the container's address on n: want when given (in the
// subnet, free), else the lowest free one of the ip-range (the subnet
// without one). The caller holds the store's lock.
func allocate(n *Network, want string) (netip.Addr, error) {
	p := n.prefix()
	gw, _ := netip.ParseAddr(n.Gateway)
	used := map[netip.Addr]bool{gw: true, p.Addr(): true, lastAddr(p): true}
	for _, ep := range n.Endpoints {
		if a, err := netip.ParseAddr(ep.IP); err == nil {
			used[a] = true
		}
	}
	if want != "" {
		a, err := asked(n, want)
		if err != nil {
			return netip.Addr{}, err
		}
		if used[a] {
			return netip.Addr{}, errdefs.Conflictf("Address already in use")
		}
		return a, nil
	}
	r := p
	if n.IPRange != "" {
		r, _ = netip.ParsePrefix(n.IPRange)
	}
	for a := r.Addr(); r.Contains(a); a = a.Next() {
		if !used[a] && p.Contains(a) {
			return a, nil
		}
	}
	return netip.Addr{}, errdefs.FailedPreconditionf("no available IPv4 addresses on this network's address pools: %s (%s)", n.Name, n.ID)
}

// asked is the address want of --ip, checked against n's subnet.
func asked(n *Network, want string) (netip.Addr, error) {
	a, err := netip.ParseAddr(want)
	if err != nil || !a.Is4() {
		return netip.Addr{}, errdefs.InvalidArgumentf("invalid IPv4 address: %s", want)
	}
	if !n.prefix().Contains(a) {
		return netip.Addr{}, errdefs.InvalidArgumentf("Invalid address %s: It does not belong to any of this network's subnets", want)
	}
	return a, nil
}

// macFor is docker's MAC of an address: 02:42 and the address's bytes.
func macFor(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}

func validMAC(s string) bool {
	hw, err := net.ParseMAC(s)
	return err == nil && len(hw) == 6
}
