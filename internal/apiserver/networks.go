package apiserver

import (
	"net"
	"net/http"
	"net/netip"

	"github.com/moby/moby/api/types/network"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// networkOf is docker's network object of n (list and inspect).
func networkOf(n *engine.Network) network.Network {
	out := network.Network{Name: n.Name, ID: n.ID, Scope: "local", Driver: n.Driver, EnableIPv4: n.Driver == "bridge",
		Created: n.Created, Internal: n.Internal, Labels: n.Labels, Options: n.Options,
		IPAM: network.IPAM{Driver: "default", Options: map[string]string{}, Config: []network.IPAMConfig{}}}
	if n.Subnet != "" {
		var c network.IPAMConfig
		c.Subnet, _ = netip.ParsePrefix(n.Subnet)
		c.IPRange, _ = netip.ParsePrefix(n.IPRange)
		c.Gateway, _ = netip.ParseAddr(n.Gateway)
		out.IPAM.Config = append(out.IPAM.Config, c)
	}
	return out
}

// networkInspectOf is n with its containers' endpoints.
func networkInspectOf(n *engine.Network) network.Inspect {
	in := network.Inspect{Network: networkOf(n), Containers: map[string]network.EndpointResource{}}
	for _, ep := range engine.NetworkContainers(n) {
		a, bits := ep.Addr(n)
		res := network.EndpointResource{Name: ep.ContainerName, EndpointID: ep.EndpointID, IPv4Address: netip.PrefixFrom(a, bits)}
		if mac, err := net.ParseMAC(ep.MAC); err == nil {
			res.MacAddress = network.HardwareAddr(mac)
		}
		in.Containers[ep.ContainerID] = res
	}
	return in
}

func (s *Server) networkList(w http.ResponseWriter, r *http.Request) {
	filters, err := filterArgs(r)
	if err != nil {
		writeError(w, err)
		return
	}
	nets, err := s.eng.ListNetworks(r.Context(), filters)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]network.Summary, 0, len(nets))
	for _, n := range nets {
		out = append(out, network.Summary{Network: networkOf(n)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) networkInspect(w http.ResponseWriter, r *http.Request) {
	n, err := s.eng.Network(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, networkInspectOf(n))
}

func (s *Server) networkCreate(w http.ResponseWriter, r *http.Request) {
	var req network.CreateRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	o := engine.NetworkCreateOptions{Name: req.Name, Driver: req.Driver, Internal: req.Internal, Labels: req.Labels, Options: req.Options}
	if req.Name == "" {
		writeError(w, errdefs.InvalidArgumentf("network name is required"))
		return
	}
	if req.EnableIPv6 != nil && *req.EnableIPv6 {
		writeError(w, errdefs.InvalidArgumentf("IPv6 networks are not supported by hoist"))
		return
	}
	if req.Scope != "" && req.Scope != "local" {
		writeError(w, errdefs.InvalidArgumentf("scope %q is not supported by hoist (local only)", req.Scope))
		return
	}
	if req.IPAM != nil {
		if d := req.IPAM.Driver; d != "" && d != "default" {
			writeError(w, errdefs.NotFoundf("IPAM driver %q not found", d))
			return
		}
		if len(req.IPAM.Config) > 1 {
			writeError(w, errdefs.InvalidArgumentf("hoist networks take one IPv4 subnet"))
			return
		}
		for _, c := range req.IPAM.Config {
			if c.Subnet.IsValid() {
				o.Subnet = c.Subnet.String()
			}
			if c.Gateway.IsValid() {
				o.Gateway = c.Gateway.String()
			}
			if c.IPRange.IsValid() {
				o.IPRange = c.IPRange.String()
			}
		}
	}
	n, err := s.eng.CreateNetwork(r.Context(), o)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, network.CreateResponse{ID: n.ID})
}

func (s *Server) networkDelete(w http.ResponseWriter, r *http.Request) {
	noContent(w, s.eng.RemoveNetwork(r.Context(), r.PathValue("id")))
}

func (s *Server) networkConnect(w http.ResponseWriter, r *http.Request) {
	var req network.ConnectRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Container == "" {
		writeError(w, errdefs.InvalidArgumentf("container is required"))
		return
	}
	err := s.eng.ConnectNetwork(r.Context(), r.PathValue("id"), req.Container, endpointOptions(req.EndpointConfig))
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) networkDisconnect(w http.ResponseWriter, r *http.Request) {
	var req network.DisconnectRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Container == "" {
		writeError(w, errdefs.InvalidArgumentf("container is required"))
		return
	}
	if err := s.eng.DisconnectNetwork(r.Context(), r.PathValue("id"), req.Container, req.Force); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) networkPrune(w http.ResponseWriter, r *http.Request) {
	filters, err := filterArgs(r)
	if err != nil {
		writeError(w, err)
		return
	}
	names, err := s.eng.PruneNetworks(r.Context(), filters)
	if err != nil {
		writeError(w, err)
		return
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, network.PruneReport{NetworksDeleted: names})
}

// endpointOptions are an endpoint's settings (aliases, its IPv4 address,
// its MAC address) as hoist's.
func endpointOptions(es *network.EndpointSettings) engine.EndpointOptions {
	var o engine.EndpointOptions
	if es == nil {
		return o
	}
	o.Aliases = es.Aliases
	if es.IPAMConfig != nil && es.IPAMConfig.IPv4Address.IsValid() {
		o.IP = es.IPAMConfig.IPv4Address.String()
	}
	if len(es.MacAddress) > 0 {
		o.MAC = es.MacAddress.String()
	}
	return o
}
