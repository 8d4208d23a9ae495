package engine

import (
	"context"
	"log/slog"

	"github.com/hoistproject/hoist/internal/registry/server"
	"github.com/hoistproject/hoist/internal/registry/server/storage"
)

// The built-in registry (`hoist registry serve` and `gc`) keeps its own
// storage, not a hoist root's; these are its use cases, so that a
// front-end reaches it through the engine like everything else.
type (
	// RegistryConfig is the registry's configuration: distribution's keys,
	// from defaults, a JSON file, HOIST_REGISTRY_* variables and flags.
	RegistryConfig = server.Config
	// RegistryGCOptions and RegistryGCReport are `registry gc`'s.
	RegistryGCOptions = storage.GCOptions
	RegistryGCReport  = storage.GCReport
)

// RegistryEnvPrefix is the prefix of the registry's environment variables.
const RegistryEnvPrefix = server.EnvPrefix

// DefaultRegistryConfig is the registry's configuration before any file,
// variable or flag.
func DefaultRegistryConfig() RegistryConfig { return server.DefaultConfig() }

// RegistryConfigKeys are the configuration's keys (each also a flag and a
// variable).
func RegistryConfigKeys() []string { return server.ConfigKeys() }

// ServeRegistry runs the registry until ctx ends.
func ServeRegistry(ctx context.Context, cfg RegistryConfig, log *slog.Logger) error {
	return server.Run(ctx, cfg, log)
}

// RegistryGC collects what nothing references in the registry's storage,
// safe while replicas serve it (see storage.GCOptions).
func RegistryGC(ctx context.Context, cfg RegistryConfig, o RegistryGCOptions) (RegistryGCReport, error) {
	st, err := cfg.OpenStore(ctx)
	if err != nil {
		return RegistryGCReport{}, err
	}
	return st.GC(ctx, o)
}
