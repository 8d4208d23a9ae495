package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// SecurityOpts are parsed --security-opt values.
type SecurityOpts struct {
	NoNewPrivileges bool
	// Seccomp is "" or "builtin" (docker's default profile), "unconfined"
	// (no filter), or a profile's JSON (ResolveSecurityOpts puts a
	// profile file's content here, as docker's client does).
	Seccomp  string
	AppArmor string   // apparmor=PROFILE; "" for the default
	Labels   []string // label=VALUE (SELinux), and "disable"
	// SystemPaths is "unconfined" to keep /proc and /sys unmasked and
	// writable (no masked or read-only paths), else "".
	SystemPaths string
}

// Seccomp values with a meaning of their own; anything else is a profile.
const (
	SeccompDefault    = "builtin"
	SeccompUnconfined = "unconfined"
)

// ParseSecurityOpts parses --security-opt values with dockerd's rules and
// messages: "no-new-privileges" and "disable" alone, else KEY=VALUE (or the
// deprecated KEY:VALUE) with KEY one of label, apparmor, seccomp,
// systempaths (only "unconfined") and no-new-privileges (a boolean).
// Anything else is "invalid --security-opt 1: ..." (no value) or "invalid
// --security-opt 2: ..." (unknown key, bad boolean).
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
		k, v, ok := splitSecurityOpt(opt)
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
		case "systempaths":
			if v != "unconfined" {
				return s, errdefs.InvalidArgumentf("invalid --security-opt 2: SystemPaths=%s is not supported", v)
			}
			s.SystemPaths = v
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

// splitSecurityOpt splits KEY=VALUE, or the deprecated KEY:VALUE.
func splitSecurityOpt(opt string) (key, value string, ok bool) {
	if k, v, ok := strings.Cut(opt, "="); ok {
		return k, v, true
	}
	return strings.Cut(opt, ":")
}

// ResolveSecurityOpts checks --security-opt values and replaces a seccomp
// profile's file name by its (compacted) JSON, as docker's client does
// before it creates a container: the container keeps the profile it was
// created with, and inspect's HostConfig.SecurityOpt shows it. The
// profile must be one the runtime can load (see Seccomp).
func ResolveSecurityOpts(opts []string) ([]string, error) {
	if _, err := ParseSecurityOpts(opts); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(opts))
	for _, opt := range opts {
		k, v, ok := splitSecurityOpt(opt)
		if !ok || k != "seccomp" || v == SeccompUnconfined || v == SeccompDefault || strings.HasPrefix(v, "{") {
			out = append(out, opt)
			continue
		}
		b, err := os.ReadFile(v)
		if err != nil {
			return nil, errdefs.InvalidArgumentf("opening seccomp profile (%s) failed: %v", v, err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return nil, errdefs.InvalidArgumentf("compacting json for seccomp profile (%s) failed: %v", v, err)
		}
		if _, err := loadProfile(buf.String(), DefaultCapabilities()); err != nil {
			return nil, errdefs.InvalidArgumentf("seccomp profile (%s): %v", v, err)
		}
		out = append(out, "seccomp="+buf.String())
	}
	return out, nil
}
