package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/errdefs"
	networks "github.com/hoistproject/hoist/internal/network"
)

// EndpointOptions are a container's settings on its network (--ip,
// --network-alias, --mac-address; --link is HostConfig.Links).
type EndpointOptions = networks.EndpointOptions

// Networks is the root's network store (package network).
func (m *Manager) Networks() *networks.Store { return m.nets }

// netKind is how c is networked: "host", "none", "container" (another
// container's namespace) or "bridge" (a namespace of its own on a
// bridge-driver network: the default one or a user-defined one).
func (c *Container) netKind() string {
	switch mode := c.Network(); {
	case mode == "host" || mode == "none":
		return mode
	case strings.HasPrefix(mode, "container:"):
		return "container"
	}
	return "bridge"
}

// resolveNetwork settles the network of a container being created (hc is
// changed in place: a host or null network named by its name or ID is
// its mode, container:NAME becomes container:ID) and checks the endpoint
// options and links against it, with docker's messages. It returns the
// bridge network to lease an address on ("" for none).
func (m *Manager) resolveNetwork(ctx context.Context, hc *HostConfig, o EndpointOptions) (string, error) {
	mode := network.Mode(hc.NetworkMode)
	userNet := func() error {
		if len(o.Aliases) > 0 {
			return errdefs.InvalidArgumentf("network-scoped alias is supported only for containers in user defined networks")
		}
		if o.IP != "" {
			return errdefs.InvalidArgumentf("user specified IP address is supported on user defined networks only")
		}
		return nil
	}
	switch {
	case mode == "host" || mode == "none":
		if len(hc.Links) > 0 {
			return "", errdefs.InvalidArgumentf("conflicting options: %s networking can't be used with links. This would result in undefined behavior", mode)
		}
		return "", userNet()
	case strings.HasPrefix(mode, "container:"):
		other, err := m.Get(ctx, strings.TrimPrefix(mode, "container:"))
		if err != nil {
			return "", err
		}
		hc.NetworkMode = "container:" + other.ID
		if len(hc.PortBindings) > 0 || hc.PublishAll {
			return "", errdefs.InvalidArgumentf("conflicting options: port publishing and the container type network mode")
		}
		return "", userNet()
	}
	n, err := m.nets.Get(ctx, mode)
	if err != nil {
		return "", err
	}
	switch n.Driver {
	case "host", "null":
		hc.NetworkMode = map[string]string{"host": "host", "null": "none"}[n.Driver]
		return m.resolveNetwork(ctx, hc, o)
	}
	if n.Name == "bridge" {
		if err := userNet(); err != nil {
			return "", err
		}
	}
	for i, l := range hc.Links {
		name, alias, _ := strings.Cut(l, ":")
		target, err := m.Get(ctx, name)
		if err != nil {
			return "", errdefs.NotFoundf("could not get container for %s: %v", name, err)
		}
		if alias == "" {
			alias = target.Name
		}
		hc.Links[i] = target.Name + ":" + alias
	}
	return n.Name, nil
}

// connectCreated leases c's address on net (create).
func (m *Manager) connectCreated(ctx context.Context, c *Container, net string, o EndpointOptions) error {
	if net == "" {
		return nil
	}
	o.Links = c.HostConfig.Links
	_, _, err := m.nets.Connect(ctx, net, c.ID, c.Name, o)
	return err
}

// startNetwork brings up c's namespace and networks (bridge kind): with
// the bridge transport its interfaces, with slirp4netns the user-mode
// network.
func (m *Manager) startNetwork(ctx context.Context, c *Container) (*network.Bridge, error) {
	if networks.Transport() != "bridge" {
		return network.StartBridge(c.dir, c.Ports)
	}
	b, err := network.StartNamespace(c.dir, func(ns string) (int, error) {
		return m.nets.Up(context.WithoutCancel(ctx), c.ID, ns, c.Network(), c.Ports)
	})
	if err != nil {
		return nil, err
	}
	b.OnStop = m.networkDown(c, b.Pid(), true)
	return b, nil
}

// adoptNetwork is the monitor's handle on the network its starter
// brought up (helperPid: slirp4netns or the ports' proxy).
func (m *Manager) adoptNetwork(c *Container, helperPid int) *network.Bridge {
	b := network.Adopt(c.dir, helperPid)
	b.OnStop = m.networkDown(c, helperPid, true)
	return b
}

// networkExited releases c's addresses as its process ended, before its
// clients learn it (networks.Down); its veth pairs go after, with the
// namespace (networkDown).
func (m *Manager) networkExited(c *Container) {
	if c.netKind() != "bridge" || networks.Transport() != "bridge" {
		return
	}
	if err := m.nets.Down(context.Background(), c.ID); err != nil {
		m.log.Warn("network down", "container", c.ID, "err", err)
	}
}

// networkDown stops c's ports proxy, takes its interfaces down and
// deletes its veth pairs. With own, the namespace is the one there now
// (the monitor's or its starter's): the pairs of a namespace a new start
// of c has made since are not touched.
func (m *Manager) networkDown(c *Container, helperPid int, own bool) func() {
	nsPath := network.NSPath(c.dir)
	var ns unix.Stat_t
	if own && unix.Stat(nsPath, &ns) != nil {
		own = false
	}
	return func() {
		networks.StopProxy(helperPid, nsPath)
		var now unix.Stat_t
		if own && (unix.Stat(nsPath, &now) != nil || now.Ino != ns.Ino || now.Dev != ns.Dev) {
			return
		}
		m.networkExited(c)
		networks.Unplug(nsPath)
	}
}

// etcFor is what c's /etc files say of its network: its address, gateway
// and resolver on its network, --link entries on the default bridge
// (bridge transport).
func (m *Manager) etcFor(ctx context.Context, c *Container) network.Etc {
	e := c.etc()
	if c.netKind() != "bridge" || networks.Transport() != "bridge" {
		return e
	}
	atts, err := m.nets.Of(ctx, c.ID)
	if err != nil {
		return e
	}
	for _, a := range atts {
		if a.Network.Name != c.Network() {
			continue
		}
		e.IP, e.Gateway = a.Endpoint.IP, a.Network.Gateway
		if a.Network.Name != "bridge" {
			e.Nameserver = a.Network.Gateway
		}
	}
	if c.Network() != "bridge" {
		return e // on user-defined networks links are DNS aliases (package network)
	}
	for _, l := range c.HostConfig.Links {
		name, alias, _ := strings.Cut(l, ":")
		target, err := m.Get(ctx, name)
		if err != nil {
			continue
		}
		tatts, _ := m.nets.Of(ctx, target.ID)
		for _, a := range tatts {
			if a.Network.Name == c.Network() && a.Endpoint.IP != "" {
				names := alias
				if alias != target.Name {
					names += " " + target.Name
				}
				e.Hosts = append(e.Hosts, fmt.Sprintf("%s\t%s %s", a.Endpoint.IP, names, target.ID[:12]))
			}
		}
	}
	return e
}

// writeEtcFiles writes c's hosts, hostname and resolv.conf.
func (m *Manager) writeEtcFiles(ctx context.Context, c *Container) error {
	return network.WriteEtcFiles(c.dir, c.netKind(), c.Config.Hostname, m.etcFor(ctx, c))
}

// joinedNetNS is the namespace path of the container c shares the network
// of (--network container:ID), which must run; its /etc files are copied.
func (m *Manager) joinedNetNS(c *Container) (string, error) {
	other, err := m.Get(context.Background(), strings.TrimPrefix(c.Network(), "container:"))
	if err != nil {
		return "", err
	}
	if !other.State.Running() || other.State.Pid == 0 {
		return "", errdefs.FailedPreconditionf("cannot join network of a non running container: %s", other.ID)
	}
	for _, f := range []string{"hosts", "resolv.conf"} {
		if b, err := os.ReadFile(filepath.Join(other.dir, f)); err == nil {
			os.WriteFile(filepath.Join(c.dir, f), b, 0o644)
		}
	}
	return fmt.Sprintf("/proc/%d/ns/net", other.State.Pid), nil
}
