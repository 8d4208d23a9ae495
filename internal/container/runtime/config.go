package runtime

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hoistproject/hoist/internal/seccomp"
)

// crunSeccompBPF is crun's annotation for a seccomp filter compiled by
// the caller (base64 of the program): crun then loads it as it is instead
// of compiling linux.seccomp with libseccomp at every start.
const crunSeccompBPF = "run.oci.seccomp_bpf_data"

// WriteConfig writes s as the bundle's config.json for the runtime
// binary. For crun, the seccomp filter compiled by hoist (package
// seccomp) rides along in crun's annotation, which spares the ~13 ms
// libseccomp takes over docker's profile; linux.seccomp stays in the file
// for whoever reads it. A filter hoist does not compile (seccomp.
// ErrUnsupported) is left to the runtime, as is every filter for runc.
func WriteConfig(bundle, binary string, s *specs.Spec) error {
	if filepath.Base(binary) == "crun" && s.Linux != nil && s.Linux.Seccomp != nil {
		if prog, err := seccomp.Compile(s.Linux.Seccomp); err == nil {
			c := *s
			c.Annotations = maps.Clone(s.Annotations)
			if c.Annotations == nil {
				c.Annotations = map[string]string{}
			}
			c.Annotations[crunSeccompBPF] = base64.StdEncoding.EncodeToString(prog)
			s = &c
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600)
}
