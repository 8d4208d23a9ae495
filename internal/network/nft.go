package network

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is hoist's nftables table (family ip): every rule hoist adds
// is in it, rebuilt whole from the state on every change.
const TableName = "hoist"

// syncRules replaces the table with the rules st needs: masquerading of
// each active network's subnet (not --internal), DNAT of published ports
// to their containers, and in the forward hook the isolation of networks
// from each other and of internal networks from the outside. With no
// network active the table is deleted. The replacement is one netlink
// batch: nobody sees it half done. It is skipped when st.Rules says the
// table already holds these rules (unless force: Repair).
func syncRules(st *state, force bool) error {
	var up []*Network
	for _, n := range st.Networks {
		if n.Driver == "bridge" && n.Active {
			up = append(up, n)
		}
	}
	digest := rulesDigest(up)
	if digest == st.Rules && !force {
		return nil
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}
	c.AddTable(t)
	c.DelTable(t)
	if len(up) > 0 {
		c.AddTable(t)
		accept := nftables.ChainPolicyAccept
		post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
		pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
		fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
		for _, n := range up {
			br := ifname(n.Bridge)
			if n.Internal {
				// iifname BR oifname != BR drop; oifname BR iifname != BR drop
				c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: []expr.Any{
					meta(expr.MetaKeyIIFNAME), cmp(expr.CmpOpEq, br), meta(expr.MetaKeyOIFNAME), cmp(expr.CmpOpNeq, br), &expr.Verdict{Kind: expr.VerdictDrop}}})
				c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: []expr.Any{
					meta(expr.MetaKeyOIFNAME), cmp(expr.CmpOpEq, br), meta(expr.MetaKeyIIFNAME), cmp(expr.CmpOpNeq, br), &expr.Verdict{Kind: expr.VerdictDrop}}})
				continue
			}
			for _, o := range up {
				if o != n {
					// iifname A oifname B drop: networks are isolated
					c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: []expr.Any{
						meta(expr.MetaKeyIIFNAME), cmp(expr.CmpOpEq, br), meta(expr.MetaKeyOIFNAME), cmp(expr.CmpOpEq, ifname(o.Bridge)), &expr.Verdict{Kind: expr.VerdictDrop}}})
				}
			}
			// ip saddr SUBNET oifname != BR masquerade
			p := n.prefix()
			c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: []expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: prefixMask(p.Bits()), Xor: []byte{0, 0, 0, 0}},
				cmp(expr.CmpOpEq, p.Addr().AsSlice()),
				meta(expr.MetaKeyOIFNAME), cmp(expr.CmpOpNeq, br),
				&expr.Masq{},
			}})
			for _, ep := range published(n) {
				ip, _ := netip.ParseAddr(ep.IP)
				for _, pb := range ep.Ports {
					c.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: dnat(pb, ip)})
				}
			}
		}
	}
	if err := c.Flush(); err != nil {
		st.Rules = ""
		return fmt.Errorf("nftables: %w", err)
	}
	st.Rules = digest
	return nil
}

// published are n's up endpoints with published ports, by container ID.
func published(n *Network) []*Endpoint {
	var out []*Endpoint
	for _, ep := range n.Endpoints {
		if ep.Up && len(ep.Ports) > 0 {
			out = append(out, ep)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContainerID < out[j].ContainerID })
	return out
}

// rulesDigest sums what the rules of the active networks up depend on.
func rulesDigest(up []*Network) string {
	if len(up) == 0 {
		return ""
	}
	h := sha256.New()
	for _, n := range up {
		fmt.Fprintf(h, "%s %s %t\n", n.Bridge, n.Subnet, n.Internal)
		for _, ep := range published(n) {
			fmt.Fprintf(h, " %s %v\n", ep.IP, ep.Ports)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// dnat is: fib daddr type local [ip daddr HOSTIP] PROTO dport HOSTPORT
// dnat to IP:PORT.
func dnat(pb PortBinding, ip netip.Addr) []expr.Any {
	ex := []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		cmp(expr.CmpOpEq, binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)),
	}
	if h, err := netip.ParseAddr(pb.HostIP); err == nil && h.Is4() && !h.IsUnspecified() {
		ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}, cmp(expr.CmpOpEq, h.AsSlice()))
	}
	proto := byte(unix.IPPROTO_TCP)
	if pb.Proto == "udp" {
		proto = unix.IPPROTO_UDP
	}
	return append(ex,
		meta(expr.MetaKeyL4PROTO), cmp(expr.CmpOpEq, []byte{proto}),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		cmp(expr.CmpOpEq, binaryutil.BigEndian.PutUint16(uint16(pb.HostPort))),
		&expr.Immediate{Register: 1, Data: ip.AsSlice()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(uint16(pb.ContainerPort))},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
}

func meta(k expr.MetaKey) *expr.Meta { return &expr.Meta{Key: k, Register: 1} }

func cmp(op expr.CmpOp, data []byte) *expr.Cmp {
	return &expr.Cmp{Op: op, Register: 1, Data: data}
}

// ifname is an interface name as nftables compares it (IFNAMSIZ bytes).
func ifname(s string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, s)
	return b
}

func prefixMask(bits int) []byte {
	m := uint32(0xffffffff) << (32 - bits)
	if bits == 0 {
		m = 0
	}
	return []byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}

// Rules lists the chains of hoist's table and how many rules each has
// (none when the table is absent): for tests and check.
func Rules() (map[string]int, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		if t.Name != TableName {
			continue
		}
		chains, err := c.ListChains()
		if err != nil {
			return nil, err
		}
		for _, ch := range chains {
			if ch.Table.Name != TableName || ch.Table.Family != nftables.TableFamilyIPv4 {
				continue
			}
			rules, err := c.GetRules(t, ch)
			if err != nil {
				return nil, err
			}
			out[ch.Name] = len(rules)
		}
	}
	return out, nil
}
