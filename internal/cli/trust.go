package cli

import (
	"github.com/spf13/pflag"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// contentTrustFlag registers docker's --disable-content-trust (run,
// create, pull, push, build). It is accepted as docker's default, true:
// hoist checks every blob against its digest but speaks no Notary, so
// asking for signed images (false) is refused by check.
type contentTrustFlag struct{ disabled bool }

func (c *contentTrustFlag) register(fs *pflag.FlagSet) {
	fs.BoolVar(&c.disabled, "disable-content-trust", true, "Skip image verification (hoist verifies digests; no Notary signing)")
}

func (c *contentTrustFlag) check() error {
	if !c.disabled {
		return errdefs.InvalidArgumentf("content trust (Notary image signing) is not supported by hoist")
	}
	return nil
}
