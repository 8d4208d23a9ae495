package engine

import (
	"context"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/container"
	ctrnet "github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/network"
)

// The network values the front-ends pass and get.
type (
	Network              = network.Network
	NetworkCreateOptions = network.CreateOptions
	EndpointOptions      = network.EndpointOptions
)

// NetworkHelperVerb is the hidden verb of the network helpers.
const NetworkHelperVerb = network.HelperVerb

// NetworkTransport is how containers on bridge networks are connected
// here: "bridge" or "slirp4netns" (info).
func NetworkTransport() string { return network.Transport() }

// RunNetworkHelper is the body of the hidden `network-helper` verb: the
// ports proxy of a container or the DNS resolver of a network (package
// network); ready is the fd it reports readiness on.
func RunNetworkHelper(o Options, args []string, ready *os.File) error {
	s := &network.Store{Root: o.Root}
	if len(args) >= 2 && args[0] == "resolver" {
		return s.RunResolver(args[1], ready)
	}
	if len(args) >= 2 && args[0] == "proxy" {
		return network.RunProxy(args[1], args[2:], ready)
	}
	return errdefs.InvalidArgumentf("network-helper: unknown helper %q", args)
}

func (e *Engine) networks() (*network.Store, error) {
	m, err := e.containers()
	if err != nil {
		return nil, err
	}
	return m.Networks(), nil
}

// CreateNetwork is network create.
func (e *Engine) CreateNetwork(ctx context.Context, o NetworkCreateOptions) (*Network, error) {
	s, err := e.networks()
	if err != nil {
		return nil, err
	}
	n, err := s.Create(ctx, o)
	if err == nil {
		e.events.Record("network", "create", n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	}
	return n, err
}

// Network finds a network by name, ID or unique ID prefix.
func (e *Engine) Network(ctx context.Context, ref string) (*Network, error) {
	s, err := e.networks()
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, ref)
}

// networkFilter is network ls's filters (prune: label and until only).
func networkFilter(filters []string, prune bool) (func(*Network) bool, error) {
	byKey, err := filterValues(filters, "bad format of filter (expected name=value)", func(k, v string) error {
		switch k {
		case "name", "id", "label", "driver", "type", "dangling", "scope":
			if prune && k != "label" {
				return errdefs.InvalidArgumentf("invalid filter '%s'", k)
			}
		case "until", "label!":
		default:
			return errdefs.InvalidArgumentf("invalid filter '%s'", k)
		}
		switch {
		case k == "type" && v != "custom" && v != "builtin":
			return errdefs.InvalidArgumentf("invalid filter: 'type'='%s'", v)
		case k == "dangling" && v != "true" && v != "false" && v != "1" && v != "0":
			return errdefs.InvalidArgumentf("invalid filter 'dangling=%s'", v)
		case k == "until":
			if _, err := images.ParseTimestamp(v, time.Now()); err != nil {
				return errdefs.InvalidArgumentf("invalid filter 'until=%s': %v", v, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	one := func(n *Network, k, v string) bool {
		switch k {
		case "name":
			return strings.Contains(n.Name, v)
		case "id":
			return strings.HasPrefix(n.ID, v)
		case "label":
			return images.LabelMatches(n.Labels, v)
		case "label!":
			return !images.LabelMatches(n.Labels, v)
		case "driver":
			return n.Driver == v
		case "scope":
			return v == "local"
		case "type":
			return (v == "builtin") == n.Predefined()
		case "dangling":
			d := v == "true" || v == "1"
			return d == (!n.AnyUp() && !n.Predefined())
		case "until":
			t, _ := images.ParseTimestamp(v, time.Now())
			return n.Created.Before(t)
		}
		return false
	}
	return matchAll(byKey, one), nil
}

// ListNetworks is network ls: the networks that pass the filters.
func (e *Engine) ListNetworks(ctx context.Context, filters []string) ([]*Network, error) {
	match, err := networkFilter(filters, false)
	if err != nil {
		return nil, err
	}
	s, err := e.networks()
	if err != nil {
		return nil, err
	}
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Network
	for _, n := range all {
		if match(n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// RemoveNetwork is network rm of one network.
func (e *Engine) RemoveNetwork(ctx context.Context, ref string) error {
	s, err := e.networks()
	if err != nil {
		return err
	}
	n, err := s.Get(ctx, ref)
	if err != nil {
		return err
	}
	if err := s.Remove(ctx, n.ID); err != nil {
		return err
	}
	e.events.Record("network", "destroy", n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	return nil
}

// PruneNetworks removes the user-defined networks no container uses that
// pass the filters (label, until); it returns their names.
func (e *Engine) PruneNetworks(ctx context.Context, filters []string) ([]string, error) {
	match, err := networkFilter(filters, true)
	if err != nil {
		return nil, err
	}
	s, err := e.networks()
	if err != nil {
		return nil, err
	}
	return s.Prune(ctx, match)
}

// ConnectNetwork is network connect: the container's address is leased
// and, when it runs, its interface plugged in at once.
func (e *Engine) ConnectNetwork(ctx context.Context, netRef, ctrRef string, o EndpointOptions) error {
	m, err := e.containers()
	if err != nil {
		return err
	}
	c, err := m.Get(ctx, ctrRef)
	if err != nil {
		return err
	}
	switch mode := c.Network(); {
	case mode == "host" || mode == "none" || strings.HasPrefix(mode, "container:"):
		return errdefs.FailedPreconditionf("container sharing network namespace with another container or host cannot be connected to any other network")
	}
	s := m.Networks()
	n, err := s.Get(ctx, netRef)
	if err != nil {
		return err
	}
	if _, _, err := s.Connect(ctx, n.ID, c.ID, c.Name, o); err != nil {
		return err
	}
	if c.State.Running() && network.Transport() == "bridge" {
		if err := s.UpOne(ctx, n.ID, c.ID, ctrnet.NSPath(c.Dir())); err != nil {
			s.Disconnect(ctx, n.ID, c.ID, c.Name, true)
			return err
		}
	}
	e.events.Record("network", "connect", n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.ID})
	return nil
}

// DisconnectNetwork is network disconnect.
func (e *Engine) DisconnectNetwork(ctx context.Context, netRef, ctrRef string, force bool) error {
	m, err := e.containers()
	if err != nil {
		return err
	}
	s := m.Networks()
	n, err := s.Get(ctx, netRef)
	if err != nil {
		return err
	}
	c, err := m.Get(ctx, ctrRef)
	if err != nil {
		if !force {
			return err
		}
		// -f: the endpoint of a container that is gone
		return s.Disconnect(ctx, n.ID, ctrRef, ctrRef, true)
	}
	if err := s.Disconnect(ctx, n.ID, c.ID, c.Name, force); err != nil {
		return err
	}
	e.events.Record("network", "disconnect", n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.ID})
	return nil
}

// ContainerNetworks are the networks of the container id with its
// endpoints there.
func (e *Engine) ContainerNetworks(ctx context.Context, id string) ([]network.Attachment, error) {
	s, err := e.networks()
	if err != nil {
		return nil, err
	}
	return s.Of(ctx, id)
}

// RepairNetworks is system check --repair's part for networks: leases of
// removed containers, interfaces of stopped ones and what nothing uses.
func (e *Engine) RepairNetworks(ctx context.Context) ([]string, error) {
	m, err := e.containers()
	if err != nil {
		return nil, err
	}
	cs, err := m.List(ctx) // reconciles: a dead container's helpers are stopped
	if err != nil {
		return nil, err
	}
	exists := map[string]bool{}
	running := map[string]bool{}
	for _, c := range cs {
		exists[c.ID] = true
		running[c.ID] = c.State.Running()
	}
	return m.Networks().Repair(ctx, func(id string) bool { return exists[id] }, func(id string) bool { return running[id] })
}

// containerNetworkNames are the names and IDs of the networks of each
// container (ps -f network=, the NETWORKS column).
func (e *Engine) containerNetworkNames(ctx context.Context) map[string][]string {
	out := map[string][]string{}
	s, err := e.networks()
	if err != nil {
		return out
	}
	all, err := s.List(ctx)
	if err != nil {
		return out
	}
	for _, n := range all {
		for id := range n.Endpoints {
			out[id] = append(out[id], n.Name, n.ID)
		}
	}
	return out
}

// networkMatches is ps's network= filter for c: its mode, or a network it
// is attached to by name or ID (prefix).
func networkMatches(c *container.Container, nets []string, v string) bool {
	if c.Network() == v {
		return true
	}
	return slices.ContainsFunc(nets, func(n string) bool { return n == v || (len(v) >= 12 && strings.HasPrefix(n, v)) })
}

// NetworkContainers are the running containers of network n with their
// endpoints, sorted by name (network inspect's Containers: docker lists
// no stopped container there).
func NetworkContainers(n *Network) []*network.Endpoint {
	var out []*network.Endpoint
	for _, ep := range n.Endpoints {
		if ep.Up {
			out = append(out, ep)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContainerName < out[j].ContainerName })
	return out
}
