package cli

import (
	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/apiserver"
)

// newServeCmd is `hoist serve` (and `hoist system service`, podman's
// name): the Docker Engine API over this root, until interrupted.
func newServeCmd(e *env) *cobra.Command {
	return newServiceCmd(e, "serve")
}

func newServiceCmd(e *env, name string) *cobra.Command {
	var o apiserver.Options
	cmd := &cobra.Command{
		Use:   name + " [OPTIONS]",
		Short: "Serve the Docker Engine API (DOCKER_HOST=unix:///run/hoist.sock)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(o.Hosts) == 0 {
				o.Hosts = []string{"unix:///run/hoist.sock"}
			}
			o.Version, o.Logger = Version, e.logger()
			return apiserver.Serve(cmd.Context(), e.engine(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.Hosts, "host", "H", nil, "Listen on: unix:///path, tcp://127.0.0.1:2375 or fd:// (systemd); repeatable (default unix:///run/hoist.sock)")
	f.BoolVar(&o.TLSVerify, "tlsverify", false, "Use TLS and require client certificates signed by --tlscacert (needed for a non-loopback tcp host)")
	f.StringVar(&o.TLSCACert, "tlscacert", "", "Trust client certificates signed by this CA")
	f.StringVar(&o.TLSCert, "tlscert", "", "The server's TLS certificate")
	f.StringVar(&o.TLSKey, "tlskey", "", "The server's TLS key")
	return cmd
}
