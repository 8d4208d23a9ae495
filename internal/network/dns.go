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
// A queries for the names, network aliases and short IDs of the
// network's containers from the store's state (read again when it
// changes), and forwards every other query to the host's resolvers
// (/etc/resolv.conf; none for an --internal network). It exits when the
// network is gone or no longer active (its bridge taken down).
func (s *Store) RunResolver(netID string, ready *os.File) error {
	r := &resolver{s: s, netID: netID}
	n := r.network()
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
		if n := r.network(); n == nil || !n.Active {
			return nil
		}
	}
}

type resolver struct {
	s        *Store
	netID    string
	upstream []string

	mu    sync.Mutex
	mtime time.Time
	cur   *Network
}

// network is the resolver's network from the state file, re-read when the
// file changed.
func (r *resolver) network() *Network {
	r.mu.Lock()
	defer r.mu.Unlock()
	fi, err := os.Stat(r.s.statePath())
	if err != nil {
		return nil
	}
	if r.cur != nil && fi.ModTime().Equal(r.mtime) {
		return r.cur
	}
	st, err := r.s.load() // written atomically: no lock needed to read
	if err != nil {
		return r.cur
	}
	r.mtime = fi.ModTime()
	r.cur = st.find(r.netID)
	if r.cur != nil && r.cur.ID != r.netID {
		r.cur = nil
	}
	return r.cur
}

// lookup finds a container of n by name, alias or short ID.
func lookup(n *Network, name string) (net.IP, bool) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	for id, ep := range n.Endpoints {
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
	n := r.network()
	if n == nil || len(q.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeServerFailure)
		w.WriteMsg(m)
		return
	}
	qq := q.Question[0]
	if ip, ok := lookup(n, qq.Name); ok && qq.Qclass == dns.ClassINET {
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
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeNameError)
		w.WriteMsg(m)
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
	m := new(dns.Msg)
	m.SetRcode(q, dns.RcodeServerFailure)
	w.WriteMsg(m)
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
