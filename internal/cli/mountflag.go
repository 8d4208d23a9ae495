package cli

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// mountFlag is one parsed --mount: a bind (Source a host path), a volume
// (Source a name, or "" for an anonymous one) or a tmpfs (Options).
type mountFlag struct {
	Type, Source, Target string
	ReadOnly             bool
	Options              string // tmpfs: size=..,mode=..
	Propagation          string // bind-propagation (bind only)
	NoCopy               bool   // volume-nocopy (volume only)
}

// parseMount reads docker's --mount type=bind|volume|tmpfs,source=,target=
// [,readonly][,bind-propagation=][,volume-nocopy][,tmpfs-size=][,tmpfs-mode=].
func parseMount(v string) (mountFlag, error) {
	m := mountFlag{Type: "volume"}
	bad := func(format string, a ...any) error {
		return errdefs.InvalidArgumentf("invalid argument %q for \"--mount\" flag: %s", v, fmt.Sprintf(format, a...))
	}
	var tmpfs []string
	bindOpt, volumeOpt := false, false // a bind-* or volume-* option was given
	for _, field := range strings.Split(v, ",") {
		k, val, hasVal := strings.Cut(field, "=")
		switch strings.ToLower(k) {
		case "type":
			m.Type = val
		case "source", "src":
			m.Source = val
		case "target", "destination", "dst":
			m.Target = val
		case "readonly", "ro":
			if !hasVal {
				m.ReadOnly = true
				break
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return m, bad("invalid value for %s: %s", k, val)
			}
			m.ReadOnly = b
		case "bind-propagation":
			bindOpt = true
			switch val {
			case "private", "rprivate", "shared", "rshared", "slave", "rslave":
				m.Propagation = val
			default:
				return m, errdefs.FailedPreconditionf("invalid mount config for type \"bind\": invalid propagation mode: %s", val) // the daemon's check in docker
			}
		case "bind-nonrecursive":
			bindOpt = true // accepted: hoist's binds are recursive
		case "volume-nocopy":
			volumeOpt = true
			m.NoCopy = true
			if hasVal {
				b, err := strconv.ParseBool(val)
				if err != nil {
					return m, bad("invalid value for %s: %s", k, val)
				}
				m.NoCopy = b
			}
		case "consistency": // macOS only: accepted as docker on Linux
		case "tmpfs-size":
			n, err := parseBytes(val)
			if err != nil {
				return m, bad("invalid value for %s: %s", k, val)
			}
			tmpfs = append(tmpfs, fmt.Sprintf("size=%d", n))
		case "tmpfs-mode":
			if _, err := strconv.ParseUint(val, 8, 32); err != nil {
				return m, bad("invalid value for %s: %s", k, val)
			}
			tmpfs = append(tmpfs, "mode="+val)
		default:
			return m, bad("unexpected key '%s' in '%s'", k, field)
		}
	}
	if m.Target == "" {
		return m, errdefs.InvalidArgumentf("invalid argument %q for \"--mount\" flag: target is required", v)
	}
	if !path.IsAbs(m.Target) {
		return m, errdefs.InvalidArgumentf("invalid mount config for type %q: invalid mount path: '%s' mount path must be absolute", m.Type, m.Target)
	}
	if bindOpt && m.Type != "bind" {
		return m, bad("cannot mix 'bind-*' options with mount type '%s'", m.Type)
	}
	if volumeOpt && m.Type != "volume" {
		return m, bad("cannot mix 'volume-*' options with mount type '%s'", m.Type)
	}
	switch m.Type {
	case "bind":
		if m.Source == "" {
			return m, errdefs.InvalidArgumentf("invalid mount config for type \"bind\": field Source must not be empty")
		}
		if !path.IsAbs(m.Source) {
			return m, errdefs.InvalidArgumentf("invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", m.Source)
		}
		if _, err := os.Stat(m.Source); err != nil {
			return m, errdefs.FailedPreconditionf("invalid mount config for type \"bind\": bind source path does not exist: %s", m.Source) // the daemon says so in docker
		}
	case "volume":
		if m.Source == "" && m.NoCopy {
			return m, bad("volume-nocopy needs a named volume (source=NAME) in hoist")
		}
		if m.Source == "" && m.ReadOnly {
			return m, errdefs.FailedPreconditionf("invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes") // the daemon's check in docker
		}
	case "tmpfs":
		if m.Source != "" {
			return m, errdefs.InvalidArgumentf("invalid mount config for type \"tmpfs\": field Source must not be specified")
		}
		m.Options = strings.Join(tmpfs, ",")
	default:
		return m, bad("invalid mount type %q", m.Type)
	}
	return m, nil
}

// bind is the mount as a -v argument (bind and named volume).
func (m mountFlag) bind() string {
	var mode []string
	if m.ReadOnly {
		mode = append(mode, "ro")
	}
	if m.Propagation != "" {
		mode = append(mode, m.Propagation)
	}
	if m.NoCopy {
		mode = append(mode, "nocopy")
	}
	if len(mode) == 0 {
		return m.Source + ":" + m.Target
	}
	return m.Source + ":" + m.Target + ":" + strings.Join(mode, ",")
}
