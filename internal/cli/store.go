package cli

import (
	"os"

	"github.com/hoistproject/hoist/internal/engine"
)

// engine is the application layer over the root given by --root, made on
// first use. e.fakes, when tests set them, are passed on as they are.
func (e *env) engine() *engine.Engine {
	if e.eng == nil {
		o := e.fakes
		o.Root, o.Logger, o.Config, o.UserAgent, o.Version = e.g.Root, e.logger(), e.g.Config, "hoist/"+Version, Version
		// HOIST_STORAGE=copy forces plain-copy root filesystems (no
		// overlayfs); HOIST_RUNTIME names the default OCI runtime (docker's
		// default-runtime; when unset crun if installed, else runc).
		o.Storage, o.Runtime = os.Getenv("HOIST_STORAGE"), os.Getenv("HOIST_RUNTIME")
		e.eng = engine.New(o)
	}
	return e.eng
}
