package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/container/names"
	ctrnet "github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
)

// PortBinding is a published port (-p, -P) of a container.
type PortBinding = ctrnet.PortBinding

// Network is one network's record: docker's fields and its address leases
// (Endpoints).
type Network struct {
	ID       string            `json:"Id"`
	Name     string            `json:"Name"`
	Driver   string            `json:"Driver"` // bridge, host, null
	Created  time.Time         `json:"Created"`
	Internal bool              `json:"Internal"`
	Subnet   string            `json:"Subnet,omitempty"`
	Gateway  string            `json:"Gateway,omitempty"`
	IPRange  string            `json:"IPRange,omitempty"`
	Labels   map[string]string `json:"Labels"`
	Options  map[string]string `json:"Options"`
	// Bridge is the Linux bridge interface of a bridge network; Active
	// says it is set up on the host (made by the network's first
	// container, kept while the network exists, as docker keeps docker0,
	// with its rules and resolver).
	Bridge string `json:"Bridge,omitempty"`
	Active bool   `json:"Active,omitempty"`
	// Endpoints are the containers attached, by container ID: each holds
	// an address lease from create (or connect) to rm (or disconnect).
	Endpoints map[string]*Endpoint `json:"Endpoints"`
	// Resolver is the pid and start time of the network's DNS resolver
	// process (user-defined bridge networks, while Active).
	ResolverPid   int    `json:"ResolverPid,omitempty"`
	ResolverStart uint64 `json:"ResolverStart,omitempty"`
}

// Endpoint is a container's attachment to a network, from create (or
// connect) to rm (or disconnect). As docker's, it has an address lease,
// a MAC and an endpoint ID only while the container runs (Up): a stopped
// container's address is free for another.
type Endpoint struct {
	ContainerID   string   `json:"ContainerID"`
	ContainerName string   `json:"ContainerName"`
	EndpointID    string   `json:"EndpointID,omitempty"`
	IP            string   `json:"IP,omitempty"`
	MAC           string   `json:"MAC,omitempty"`
	Aliases       []string `json:"Aliases,omitempty"`
	Links         []string `json:"Links,omitempty"` // CONTAINER:ALIAS
	// IPAMIP and ConfigMAC are the address and MAC asked for with --ip
	// and --mac-address ("" for any).
	IPAMIP    string `json:"IPAMIP,omitempty"`
	ConfigMAC string `json:"ConfigMAC,omitempty"`
	// Up: the interface exists in the running container's namespace
	// (Sandbox), HostVeth its host end; Ports are DNATed to it.
	Up       bool          `json:"Up,omitempty"`
	Sandbox  string        `json:"Sandbox,omitempty"`
	HostVeth string        `json:"HostVeth,omitempty"`
	IfName   string        `json:"IfName,omitempty"`
	Ports    []PortBinding `json:"Ports,omitempty"`
}

// Predefined is true for docker's networks bridge, host and none.
func (n *Network) Predefined() bool {
	return n.Name == "bridge" || n.Name == "host" || n.Name == "none"
}

// prefix is the network's subnet ("" prefix when it has none).
func (n *Network) prefix() netip.Prefix {
	p, _ := netip.ParsePrefix(n.Subnet)
	return p
}

// AnyUp reports whether a container of n runs (its endpoint is up).
func (n *Network) AnyUp() bool {
	for _, ep := range n.Endpoints {
		if ep.Up {
			return true
		}
	}
	return false
}

// state is networks/state.json: every network of the root.
type state struct {
	Networks []*Network `json:"Networks"`
	// Rules is the digest of the nftables table last written (syncRules
	// skips a rebuild that would write the same).
	Rules string `json:"Rules,omitempty"`
}

func (s *state) find(ref string) *Network {
	for _, n := range s.Networks {
		if n.Name == ref || n.ID == ref {
			return n
		}
	}
	var hit *Network
	for _, n := range s.Networks {
		if ref != "" && strings.HasPrefix(n.ID, ref) {
			if hit != nil {
				return nil
			}
			hit = n
		}
	}
	return hit
}

// Store is the networks of one hoist root (<root>/networks/state.json,
// changed under networks/lock). Self re-executes hoist (the port proxy and
// the DNS resolver are hoist processes); SelfEnv is extra environment.
type Store struct {
	Root    string
	Self    []string
	SelfEnv []string
}

func (s *Store) dir() string       { return filepath.Join(s.Root, "networks") }
func (s *Store) statePath() string { return filepath.Join(s.dir(), "state.json") }

// lock takes networks/lock (how: unix.LOCK_EX or LOCK_SH).
func (s *Store) lock(how int) (func(), error) {
	if err := os.MkdirAll(s.dir(), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.dir(), "lock"), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("network lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("network lock: %w", err)
	}
	return func() { f.Close() }, nil
}

func (s *Store) load() (*state, error) {
	st := &state{}
	b, err := os.ReadFile(s.statePath())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("networks/state.json: %w", err)
		}
	}
	for _, n := range st.Networks {
		if n.Endpoints == nil {
			n.Endpoints = map[string]*Endpoint{}
		}
		// A state written before leases were per run: an endpoint down
		// holds no address, a network with one up is active.
		for _, ep := range n.Endpoints {
			if !ep.Up {
				if a, err := netip.ParseAddr(ep.IP); err == nil && ep.MAC != "" && ep.MAC != macFor(a) && ep.ConfigMAC == "" {
					ep.ConfigMAC = ep.MAC // its --mac-address
				}
				ep.IP, ep.MAC, ep.EndpointID = "", "", ""
			} else {
				n.Active = true
			}
		}
	}
	return st, nil
}

func (s *Store) save(st *state) error {
	return fsutil.WriteFileAtomic(s.statePath(), 0o600, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(st)
	})
}

// update runs fn on the state under the exclusive lock, with the
// predefined networks present, and saves what it changed.
func (s *Store) update(fn func(st *state) error) error {
	unlock, err := s.lock(unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := s.load()
	if err != nil {
		return err
	}
	before, _ := json.Marshal(st)
	s.ensurePredefined(st)
	ferr := fn(st)
	after, _ := json.Marshal(st)
	if string(before) != string(after) {
		if err := s.save(st); err != nil {
			return err
		}
	}
	return ferr
}

// view runs fn on the state under the shared lock (predefined networks
// shown even when not yet saved).
func (s *Store) view(fn func(st *state) error) error {
	unlock, err := s.lock(unix.LOCK_SH)
	if err != nil {
		return err
	}
	st, err := s.load()
	unlock()
	if err != nil {
		return err
	}
	if !hasPredefined(st) {
		// saved by the next update; listed now with fresh IDs
		return s.update(fn)
	}
	return fn(st)
}

func hasPredefined(st *state) bool {
	return st.find("bridge") != nil && st.find("host") != nil && st.find("none") != nil
}

// ensurePredefined adds docker's bridge, host and none networks.
func (s *Store) ensurePredefined(st *state) {
	if st.find("bridge") == nil {
		subnet := defaultBridgeSubnet(st)
		p := netip.MustParsePrefix(subnet)
		st.Networks = append(st.Networks, &Network{
			ID: newID(), Name: "bridge", Driver: "bridge", Created: time.Now().UTC(), Subnet: subnet,
			Gateway: p.Addr().Next().String(), Bridge: DefaultBridge, Labels: map[string]string{},
			Options: map[string]string{
				"com.docker.network.bridge.default_bridge":       "true",
				"com.docker.network.bridge.enable_icc":           "true",
				"com.docker.network.bridge.enable_ip_masquerade": "true",
				"com.docker.network.bridge.host_binding_ipv4":    "0.0.0.0",
				"com.docker.network.bridge.name":                 DefaultBridge,
				"com.docker.network.driver.mtu":                  "1500",
			},
			Endpoints: map[string]*Endpoint{},
		})
	}
	for name, driver := range map[string]string{"host": "host", "none": "null"} {
		if st.find(name) == nil {
			st.Networks = append(st.Networks, &Network{ID: newID(), Name: name, Driver: driver, Created: time.Now().UTC(),
				Labels: map[string]string{}, Options: map[string]string{}, Endpoints: map[string]*Endpoint{}})
		}
	}
}

// DefaultBridge is the Linux bridge of the default network (docker's docker0).
const DefaultBridge = "hoist0"

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// CreateOptions are network create's flags.
type CreateOptions struct {
	Name, Driver             string
	Subnet, Gateway, IPRange string
	Internal                 bool
	Labels, Options          map[string]string
}

// Create records a new network (its bridge is made when a container first
// needs it).
func (s *Store) Create(ctx context.Context, o CreateOptions) (*Network, error) {
	if o.Driver == "" {
		o.Driver = "bridge"
	}
	if o.Driver != "bridge" {
		return nil, errdefs.NotFoundf("plugin %q not found", o.Driver)
	}
	if !names.Valid(o.Name) {
		return nil, errdefs.InvalidArgumentf("invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name)
	}
	var out *Network
	err := s.update(func(st *state) error {
		for _, n := range st.Networks {
			if n.Name == o.Name {
				return errdefs.Conflictf("network with name %s already exists", o.Name)
			}
		}
		ipam, err := planSubnet(st, o.Subnet, o.Gateway, o.IPRange)
		if err != nil {
			return err
		}
		n := &Network{ID: newID(), Name: o.Name, Driver: o.Driver, Created: time.Now().UTC(), Internal: o.Internal,
			Subnet: ipam.Subnet, Gateway: ipam.Gateway, IPRange: ipam.IPRange, Labels: o.Labels, Options: o.Options,
			Endpoints: map[string]*Endpoint{}}
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		if n.Options == nil {
			n.Options = map[string]string{}
		}
		n.Bridge = "hbr-" + n.ID[:10]
		if b := n.Options["com.docker.network.bridge.name"]; b != "" {
			n.Bridge = b
		}
		st.Networks = append(st.Networks, n)
		out = n
		return nil
	})
	return out, err
}

// List is every network, sorted by name.
func (s *Store) List(ctx context.Context) ([]*Network, error) {
	var out []*Network
	err := s.view(func(st *state) error {
		out = st.Networks
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Get finds a network by name, ID or unique ID prefix.
func (s *Store) Get(ctx context.Context, ref string) (*Network, error) {
	var out *Network
	err := s.view(func(st *state) error {
		out = st.find(ref)
		if out == nil {
			return errdefs.NotFoundf("network %s not found", ref)
		}
		return nil
	})
	return out, err
}

// Remove deletes a network no running container is attached to, and its
// bridge (as docker, stopped containers do not keep it: their attachment
// goes with it, and their start then fails on the missing network).
func (s *Store) Remove(ctx context.Context, ref string) error {
	return s.update(func(st *state) error {
		n := st.find(ref)
		if n == nil {
			return errdefs.NotFoundf("network %s not found", ref)
		}
		if n.Predefined() {
			return errdefs.Forbiddenf("%s is a pre-defined network and cannot be removed", n.Name)
		}
		if n.AnyUp() {
			return errdefs.Conflictf("error while removing network: network %s id %s has active endpoints", n.Name, n.ID)
		}
		st.Networks = slicesDelete(st.Networks, n)
		return s.syncDatapath(st, n)
	})
}

// Prune removes the user-defined networks no running container is
// attached to that match says to remove; it returns their names.
func (s *Store) Prune(ctx context.Context, match func(*Network) bool) ([]string, error) {
	var removed []string
	err := s.update(func(st *state) error {
		for _, n := range append([]*Network{}, st.Networks...) {
			if n.Predefined() || n.AnyUp() || !match(n) {
				continue
			}
			st.Networks = slicesDelete(st.Networks, n)
			removed = append(removed, n.Name)
			if err := s.syncDatapath(st, n); err != nil {
				return err
			}
		}
		return nil
	})
	sort.Strings(removed)
	return removed, err
}

func slicesDelete(l []*Network, n *Network) []*Network {
	out := l[:0]
	for _, x := range l {
		if x != n {
			out = append(out, x)
		}
	}
	return out
}

// EndpointOptions are a container's settings on one network (--ip,
// --network-alias, --mac-address, --link).
type EndpointOptions struct {
	IP      string
	MAC     string
	Aliases []string
	Links   []string
}

// Connect attaches the container id (name) to network ref: the endpoint
// it returns is the container's until Disconnect or Release; its address
// is leased when it comes up (--ip is checked against the subnet now).
func (s *Store) Connect(ctx context.Context, ref, id, name string, o EndpointOptions) (*Network, *Endpoint, error) {
	var net *Network
	var ep *Endpoint
	err := s.update(func(st *state) error {
		n := st.find(ref)
		if n == nil {
			return errdefs.NotFoundf("network %s not found", ref)
		}
		if n.Driver != "bridge" {
			return errdefs.FailedPreconditionf("container cannot be disconnected from host network or connected to host network")
		}
		if _, ok := n.Endpoints[id]; ok {
			return errdefs.Conflictf("endpoint with name %s already exists in network %s", name, n.Name)
		}
		userDefined := n.Name != "bridge"
		if !userDefined && len(o.Aliases) > 0 {
			return errdefs.InvalidArgumentf("network-scoped alias is supported only for containers in user defined networks")
		}
		if !userDefined && o.IP != "" {
			return errdefs.InvalidArgumentf("user specified IP address is supported on user defined networks only")
		}
		if o.IP != "" {
			if _, err := asked(n, o.IP); err != nil {
				return err
			}
		}
		if o.MAC != "" && !validMAC(o.MAC) {
			return errdefs.InvalidArgumentf("%s is not a valid mac address", o.MAC)
		}
		ep = &Endpoint{ContainerID: id, ContainerName: name, Aliases: o.Aliases, Links: o.Links, IPAMIP: o.IP, ConfigMAC: o.MAC}
		n.Endpoints[id] = ep
		net = n
		return nil
	})
	return net, ep, err
}

// Disconnect releases the container id's lease on network ref and takes
// its interface down; force does not complain when it has none.
func (s *Store) Disconnect(ctx context.Context, ref, id, name string, force bool) error {
	return s.update(func(st *state) error {
		n := st.find(ref)
		if n == nil {
			return errdefs.NotFoundf("network %s not found", ref)
		}
		ep, ok := n.Endpoints[id]
		if !ok {
			if force {
				return nil
			}
			return errdefs.FailedPreconditionf("container %s is not connected to network %s", name, n.Name)
		}
		down(ep)
		delete(n.Endpoints, id)
		return s.syncDatapath(st, n)
	})
}

// Release drops every endpoint of the container id (rm). One still up
// is quiesced (Down's way), its veth pair left to Unplug by the
// container's monitor right after (run --rm: the removal does not wait
// for the kernel to delete the pair; Repair deletes a pair left behind).
func (s *Store) Release(ctx context.Context, id string) error {
	return s.update(func(st *state) error {
		var changed []*Network
		for _, n := range st.Networks {
			if ep, ok := n.Endpoints[id]; ok {
				if ep.Up && nsAlive(ep.Sandbox) {
					quiesce(ep)
				} else {
					down(ep)
				}
				delete(n.Endpoints, id)
				changed = append(changed, n)
			}
		}
		return s.syncDatapath(st, changed...)
	})
}

// Attachment is one network of a container with its endpoint.
type Attachment struct {
	Network  *Network
	Endpoint *Endpoint
}

// Of lists the networks the container id is attached to, by name.
func (s *Store) Of(ctx context.Context, id string) ([]Attachment, error) {
	var out []Attachment
	err := s.view(func(st *state) error {
		for _, n := range st.Networks {
			if ep, ok := n.Endpoints[id]; ok {
				out = append(out, Attachment{n, ep})
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Network.Name < out[j].Network.Name })
	return out, err
}
