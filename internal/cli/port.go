package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

func newPortCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.engine().Container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ports := c.Ports
			sort.SliceStable(ports, func(i, j int) bool {
				if ports[i].ContainerPort != ports[j].ContainerPort {
					return ports[i].ContainerPort < ports[j].ContainerPort
				}
				return ports[i].Proto < ports[j].Proto
			})
			host := func(ip string, port int) string {
				if ip == "" {
					ip = "0.0.0.0"
				}
				return fmt.Sprintf("%s:%d", ip, port)
			}
			if len(args) == 1 {
				for _, p := range ports {
					fmt.Fprintf(e.out, "%d/%s -> %s\n", p.ContainerPort, p.Proto, host(p.HostIP, p.HostPort))
				}
				return nil
			}
			want, proto, _ := strings.Cut(args[1], "/")
			if proto == "" {
				proto = "tcp"
			}
			found := false
			for _, p := range ports {
				if fmt.Sprint(p.ContainerPort) == want && p.Proto == proto {
					fmt.Fprintln(e.out, host(p.HostIP, p.HostPort))
					found = true
				}
			}
			if !found {
				return fmt.Errorf("No public port '%s' published for %s", args[1], args[0])
			}
			return nil
		},
	}
}
