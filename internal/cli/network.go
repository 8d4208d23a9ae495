package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
)

// newNetworkCmd is `hoist network`: docker's networks (package network).
func newNetworkCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "network", Short: "Manage networks", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	c.AddCommand(newNetworkCreateCmd(e), newNetworkLsCmd(e), newNetworkInspectCmd(e), newNetworkRmCmd(e),
		newNetworkPruneCmd(e), newNetworkConnectCmd(e), newNetworkDisconnectCmd(e))
	return c
}

// keyValues reads K=V flags into a map (nil when none).
func keyValues(kvs []string) map[string]string {
	var m map[string]string
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		if m == nil {
			m = map[string]string{}
		}
		m[k] = v
	}
	return m
}

func newNetworkCreateCmd(e *env) *cobra.Command {
	var o engine.NetworkCreateOptions
	var labels, opts, subnets, gateways, ranges []string
	c := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name, o.Labels, o.Options = args[0], keyValues(labels), keyValues(opts)
			for _, l := range [][]string{subnets, gateways, ranges} {
				if len(l) > 1 {
					return &shapedErr{err: fmt.Errorf("hoist networks take one IPv4 subnet (--subnet, --gateway, --ip-range once each)"), daemon: true}
				}
			}
			o.Subnet, o.Gateway, o.IPRange = first(subnets), first(gateways), first(ranges)
			n, err := e.engine().CreateNetwork(cmd.Context(), o)
			if err != nil {
				return &shapedErr{err: err, daemon: true}
			}
			fmt.Fprintln(e.out, n.ID)
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Driver, "driver", "d", "bridge", "Driver to manage the Network (bridge)")
	f.StringArrayVar(&subnets, "subnet", nil, "Subnet in CIDR format that represents a network segment")
	f.StringArrayVar(&gateways, "gateway", nil, "IPv4 Gateway for the master subnet")
	f.StringArrayVar(&ranges, "ip-range", nil, "Allocate container ip from a sub-range")
	f.BoolVar(&o.Internal, "internal", false, "Restrict external access to the network")
	f.StringArrayVar(&labels, "label", nil, "Set metadata on a network")
	f.StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	return c
}

func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

// networkRow is one line of network ls (its --format fields).
type networkRow struct {
	ID, Name, Driver, Scope, Labels, CreatedAt string
	IPv6, Internal                             bool
}

func newNetworkLsCmd(e *env) *cobra.Command {
	var quiet, noTrunc bool
	var format string
	var filters []string
	c := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			nets, err := e.engine().ListNetworks(cmd.Context(), filters)
			if err != nil {
				return &shapedErr{err: err, daemon: true}
			}
			var rows []any
			for _, n := range nets {
				id := n.ID
				if !noTrunc {
					id = id[:12]
				}
				if quiet {
					fmt.Fprintln(e.out, id)
					continue
				}
				rows = append(rows, networkRow{ID: id, Name: n.Name, Driver: n.Driver, Scope: "local", Internal: n.Internal,
					Labels: labelString(n.Labels), CreatedAt: n.Created.Local().Format("2006-01-02 15:04:05 -0700 MST")})
			}
			if quiet {
				return nil
			}
			return renderList(e.out, format, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
				map[string]string{"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
					"Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}, rows)
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "Do not truncate the output")
	c.Flags().StringVar(&format, "format", "", "Pretty-print networks using a Go template")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, `Provide filter values (e.g. "driver=bridge")`)
	return c
}

// The network inspect object, in docker's field order.
type (
	networkInspect struct {
		Name       string
		Id         string
		Created    string
		Scope      string
		Driver     string
		EnableIPv6 bool
		IPAM       networkIPAM
		Internal   bool
		Attachable bool
		Ingress    bool
		ConfigFrom struct{ Network string }
		ConfigOnly bool
		Containers map[string]networkContainer
		Options    map[string]string
		Labels     map[string]string
	}
	networkIPAM struct {
		Driver  string
		Options map[string]string
		Config  []ipamConfig
	}
	ipamConfig struct {
		Subnet  string
		IPRange string `json:",omitempty"`
		Gateway string
	}
	networkContainer struct {
		Name        string
		EndpointID  string
		MacAddress  string
		IPv4Address string
		IPv6Address string
	}
)

func networkObject(n *engine.Network) networkInspect {
	in := networkInspect{Name: n.Name, Id: n.ID, Created: n.Created.Format(time.RFC3339Nano), Scope: "local", Driver: n.Driver,
		Internal: n.Internal, Containers: map[string]networkContainer{}, Options: n.Options, Labels: n.Labels,
		IPAM: networkIPAM{Driver: "default", Config: []ipamConfig{}}}
	if n.Subnet != "" {
		in.IPAM.Config = append(in.IPAM.Config, ipamConfig{Subnet: n.Subnet, IPRange: n.IPRange, Gateway: n.Gateway})
	}
	for _, ep := range engine.NetworkContainers(n) {
		a, bits := ep.Addr(n)
		in.Containers[ep.ContainerID] = networkContainer{Name: ep.ContainerName, EndpointID: ep.EndpointID, MacAddress: ep.MAC,
			IPv4Address: fmt.Sprintf("%s/%d", a, bits)}
	}
	return in
}

func newNetworkInspectCmd(e *env) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var items []any
			var missing []string
			for _, ref := range args {
				n, err := e.engine().Network(cmd.Context(), ref)
				if err != nil {
					missing = append(missing, ref)
					continue
				}
				items = append(items, networkObject(n))
			}
			if err := renderInspect(e.out, format, items); err != nil {
				return err
			}
			for _, ref := range missing {
				fmt.Fprintln(e.errOut, "Error: No such network:", ref)
			}
			if len(missing) > 0 {
				return &StatusError{Code: 1}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json', 'TEMPLATE'")
	c.Flags().BoolP("verbose", "v", false, "Verbose output for diagnostics")
	return c
}

func newNetworkRmCmd(e *env) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(e, args, func(ref string) error {
				err := e.engine().RemoveNetwork(cmd.Context(), ref)
				if err != nil && force && strings.HasSuffix(err.Error(), "not found") {
					return nil
				}
				return err
			})
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return c
}

func newNetworkPruneCmd(e *env) *cobra.Command {
	var force bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !e.confirm("WARNING! This will remove all custom networks not used by at least one container.") {
				return nil
			}
			removed, err := e.engine().PruneNetworks(cmd.Context(), filters)
			if err != nil {
				return &shapedErr{err: err, daemon: true}
			}
			if len(removed) > 0 {
				fmt.Fprintln(e.out, "Deleted Networks:")
				for _, n := range removed {
					fmt.Fprintln(e.out, n)
				}
				fmt.Fprintln(e.out)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	c.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return c
}

func newNetworkConnectCmd(e *env) *cobra.Command {
	var o engine.EndpointOptions
	var links []string
	c := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Links = links
			if err := e.engine().ConnectNetwork(cmd.Context(), args[0], args[1], o); err != nil {
				return &shapedErr{err: err, daemon: true}
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&o.Aliases, "alias", nil, "Add network-scoped alias for the container")
	c.Flags().StringVar(&o.IP, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	c.Flags().StringArrayVar(&links, "link", nil, "Add link to another container")
	return c
}

func newNetworkDisconnectCmd(e *env) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.engine().DisconnectNetwork(cmd.Context(), args[0], args[1], force); err != nil {
				return &shapedErr{err: err, daemon: true}
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return c
}
