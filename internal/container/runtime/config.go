package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// WriteConfig writes s as the bundle's config.json for the runtime
// binary: for crun, s as forCrun adapts it (the seccomp filter compiled
// by hoist, and the mounts that make its container look as runc's); for
// runc, s as it is.
func WriteConfig(bundle, binary string, s *specs.Spec) error {
	if isCrun(binary) {
		s = forCrun(s)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600)
}
