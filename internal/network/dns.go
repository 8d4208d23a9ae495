package network

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// RunResolver is `network-helper resolver NETWORK-ID`: the DNS server of a
// user-defined network, on its gateway's port 53 (UDP and TCP). It answers
// a container of the network, known by the query's source address, as
// docker's embedded DNS answers it: A records for the names, network
// aliases and short IDs of the containers of every user-defined network
// the asker is attached to (its network first: a container connected to
// a second network resolves that network's names through the same
// nameserver) and for the aliases of its --link options. Anything else is
// forwarded to the host's resolvers (/etc/resolv.conf; none for an
// --internal network). A query from an address that is no container of
// the network is refused (another network's container reaching the
// gateway address through the host learns nothing). The state is read
// again when it changes. It exits when the network is gone or no longer
// active (its bridge taken down).
func (s *Store) RunResolver(netID string, ready *os.File) error {
	r := &resolver{s: s, netID: netID}
	n := r.network(r.state())
	if n == nil {
		fmt.Fprintf(ready, "network %s not found\n", netID)
		return fmt.Errorf("network %s not found", netID)
	}
	r.upstream = hostNameservers()
	addr := net.JoinHostPort(n.Gateway, "53")
	udp, err := net.ListenPacket("udp4", addr)
	if err != nil {
		fmt.Fprintf(ready, "listen %s: %v\n", addr, err)
		return err
	}
	tcp, err := net.Listen("tcp4", addr)
	if err != nil {
		fmt.Fprintf(ready, "listen %s: %v\n", addr, err)
		return err
	}
	h := dns.HandlerFunc(r.serve)
	go (&dns.Server{PacketConn: udp, Handler: h}).ActivateAndServe()
	go (&dns.Server{Listener: tcp, Handler: h}).ActivateAndServe()
	fmt.Fprintln(ready, "ok")
	ready.Close()
	for {
		time.Sleep(time.Second)
		if n := r.network(r.state()); n == nil || !n.Active {
			return nil
		}
	}
}

type resolver struct {
	s        *Store
	netID    string
	upstream []string

	mu   sync.Mutex
	seen os.FileInfo // of the state file cur was read from
	cur  *state
}

// state is the store's state, read again when the file changed (it is
// replaced by rename at each change: a new inode).
func (r *resolver) state() *state {
	r.mu.Lock()
	defer r.mu.Unlock()
	fi, err := os.Stat(r.s.statePath())
	if err != nil {
		return nil
	}
	if r.cur != nil && os.SameFile(fi, r.seen) && fi.ModTime().Equal(r.seen.ModTime()) && fi.Size() == r.seen.Size() {
		return r.cur
	}
	st, err := r.s.load() // written atomically: no lock needed to read
	if err != nil {
		return r.cur
	}
	r.seen, r.cur = fi, st
	return st
}

// network is the resolver's network in st (nil when gone).
func (r *resolver) network(st *state) *Network {
	if st == nil {
		return nil
	}
	if n := st.find(r.netID); n != nil && n.ID == r.netID {
		return n
	}
	return nil
}

// asker is the container of n with address ip (nil: none).
func asker(n *Network, ip net.IP) *Endpoint {
	for _, ep := range n.Endpoints {
		if ep.Up && net.ParseIP(ep.IP).Equal(ip) {
			return ep
		}
	}
	return nil
}

// lookup answers name for the container id asking on network own: its
// --link aliases there, then the containers of own and of its other
// user-defined networks by name, alias or short ID.
func lookup(st *state, own *Network, id, name string) (net.IP, bool) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	nets := []*Network{own}
	for _, n := range st.Networks {
		if _, ok := n.Endpoints[id]; ok && n != own && !n.Predefined() {
			nets = append(nets, n)
		}
	}
	for _, n := range nets {
		for _, l := range n.Endpoints[id].Links {
			target, alias, _ := strings.Cut(l, ":")
			if strings.ToLower(alias) == name {
				if ip, ok := byName(n, strings.ToLower(target)); ok {
					return ip, true
				}
			}
		}
	}
	for _, n := range nets {
		if ip, ok := byName(n, name); ok {
			return ip, true
		}
	}
	return nil, false
}

// byName finds a running container of n by name, alias or short ID.
func byName(n *Network, name string) (net.IP, bool) {
	for id, ep := range n.Endpoints {
		if !ep.Up {
			continue
		}
		match := strings.ToLower(ep.ContainerName) == name || (len(name) >= 12 && strings.HasPrefix(id, name) && len(name) <= len(id))
		for _, a := range ep.Aliases {
			match = match || strings.ToLower(a) == name
		}
		if match {
			return net.ParseIP(ep.IP).To4(), true
		}
	}
	return nil, false
}

func (r *resolver) serve(w dns.ResponseWriter, q *dns.Msg) {
	reply := func(rcode int) {
		m := new(dns.Msg)
		m.SetRcode(q, rcode)
		w.WriteMsg(m)
	}
	st := r.state()
	n := r.network(st)
	if n == nil || len(q.Question) != 1 {
		reply(dns.RcodeServerFailure)
		return
	}
	var from net.IP
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		from = a.IP
	case *net.TCPAddr:
		from = a.IP
	}
	ep := asker(n, from)
	if ep == nil {
		reply(dns.RcodeRefused)
		return
	}
	qq := q.Question[0]
	if ip, ok := lookup(st, n, ep.ContainerID, qq.Name); ok && qq.Qclass == dns.ClassINET {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		if qq.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 600}, A: ip})
		}
		w.WriteMsg(m)
		return
	}
	if n.Internal || len(r.upstream) == 0 {
		reply(dns.RcodeNameError)
		return
	}
	netw := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		netw = "tcp"
	}
	c := &dns.Client{Net: netw, Timeout: 5 * time.Second}
	for _, up := range r.upstream {
		if resp, _, err := c.Exchange(q, net.JoinHostPort(up, "53")); err == nil {
			w.WriteMsg(resp)
			return
		}
	}
	reply(dns.RcodeServerFailure)
}

// hostNameservers are the host's resolvers (the resolver runs on the host:
// loopback ones, such as systemd-resolved's, are fine).
func hostNameservers() []string {
	cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	return cfg.Servers
}
