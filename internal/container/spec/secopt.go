package spec

import (
	"strconv"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// SecurityOpts are parsed --security-opt values.
type SecurityOpts struct {
	NoNewPrivileges bool
	Seccomp         string   // seccomp=VALUE ("unconfined", a profile); "" for the default
	AppArmor        string   // apparmor=PROFILE; "" for the default
	Labels          []string // label=VALUE (SELinux), and "disable"
}

// ParseSecurityOpts parses --security-opt values with dockerd's rules and
// messages: "no-new-privileges" and "disable" alone, else KEY=VALUE (or the
// deprecated KEY:VALUE) with KEY one of label, apparmor, seccomp and
// no-new-privileges (a boolean). Anything else is "invalid --security-opt
// 1: ..." (no value) or "invalid --security-opt 2: ..." (unknown key, bad
// boolean).
func ParseSecurityOpts(opts []string) (SecurityOpts, error) {
	var s SecurityOpts
	for _, opt := range opts {
		switch opt {
		case "no-new-privileges":
			s.NoNewPrivileges = true
			continue
		case "disable":
			s.Labels = append(s.Labels, opt)
			continue
		}
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			k, v, ok = strings.Cut(opt, ":")
		}
		if !ok {
			return s, errdefs.InvalidArgumentf("invalid --security-opt 1: %q", opt)
		}
		switch k {
		case "label":
			s.Labels = append(s.Labels, v)
		case "apparmor":
			s.AppArmor = v
		case "seccomp":
			s.Seccomp = v
		case "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return s, errdefs.InvalidArgumentf("invalid --security-opt 2: %q", opt)
			}
			s.NoNewPrivileges = b
		default:
			return s, errdefs.InvalidArgumentf("invalid --security-opt 2: %q", opt)
		}
	}
	return s, nil
}
