package dockerfile

import (
	"encoding/csv"
	"github.com/hoistproject/hoist/internal/units"
	"path"
	"strconv"
	"strings"
)

// parseMount parses one `--mount=` value. expand is applied to every value
// except `from` (docker refuses variables there). When lenient is true,
// values that still contain `$` are not validated (they are checked again
// after expansion).
func parseMount(spec string, expand func(string) (string, error), lenient bool) (*Mount, error) {
	r := csv.NewReader(strings.NewReader(spec))
	fields, err := r.Read()
	if err != nil {
		return nil, errorf("invalid mount %q: %v", spec, err)
	}
	m := &Mount{Type: MountBind}
	// The type decides which keys are allowed, so find it first.
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if ok && strings.ToLower(strings.TrimSpace(k)) == "type" {
			v, err := expand(v)
			if err != nil {
				return nil, err
			}
			switch strings.ToLower(v) {
			case MountBind, MountCache, MountTmpfs, MountSecret, MountSSH:
				m.Type = strings.ToLower(v)
			default:
				return nil, errorf("unsupported mount type %q", v)
			}
		}
	}
	roSet := false
	var sharingSet, modeSet, uidSet, gidSet bool
	for _, f := range fields {
		k, v, hasValue := strings.Cut(f, "=")
		key := strings.ToLower(strings.TrimSpace(k))
		if key == "type" {
			continue
		}
		switch key {
		case "readonly", "ro", "readwrite", "rw", "required":
			b := true
			if hasValue {
				ev, err := expand(v)
				if err != nil {
					return nil, err
				}
				if !(lenient && strings.Contains(ev, "$")) {
					b, err = strconv.ParseBool(ev)
					if err != nil {
						return nil, errorf("invalid value for %s: %s", key, v)
					}
				}
			}
			switch key {
			case "readonly", "ro":
				m.ReadOnly, roSet = b, true
			case "readwrite", "rw":
				m.ReadOnly, roSet = !b, true
			case "required":
				if m.Type != MountSecret && m.Type != MountSSH {
					return nil, errorf("unexpected key '%s' for mount type '%s'", key, m.Type)
				}
				m.Required = b
			}
			continue
		}
		if !hasValue {
			return nil, errorf("invalid field '%s' must be a key=value pair", f)
		}
		if key == "from" {
			if strings.Contains(v, "$") {
				return nil, errorf("'%s' doesn't support variable expansion, define alias stage instead", key)
			}
			if m.Type != MountBind && m.Type != MountCache {
				return nil, errorf("unexpected key '%s' for mount type '%s'", key, m.Type)
			}
			m.From = v
			continue
		}
		ev, err := expand(v)
		if err != nil {
			return nil, err
		}
		deferred := lenient && strings.Contains(ev, "$")
		switch key {
		case "source", "src":
			m.Source = ev
		case "target", "dst", "destination":
			m.Target = ev
		case "id":
			m.ID = ev
		case "sharing":
			if m.Type != MountCache {
				return nil, errorf("invalid cache sharing set for %v mount", m.Type)
			}
			sharingSet = true
			switch strings.ToLower(ev) {
			case SharingShared, SharingPrivate, SharingLocked:
				m.Sharing = strings.ToLower(ev)
			default:
				if !deferred {
					return nil, errorf("unsupported sharing value %q", ev)
				}
				m.Sharing = ev
			}
		case "mode":
			modeSet = true
			if !deferred {
				n, err := strconv.ParseUint(ev, 8, 32)
				if err != nil {
					return nil, errorf("invalid value %s for mode", ev)
				}
				u := uint32(n)
				m.Mode = &u
			}
		case "uid", "gid":
			if !deferred {
				n, err := strconv.ParseUint(ev, 10, 32)
				if err != nil {
					return nil, errorf("invalid value %s for %s", ev, key)
				}
				u := uint32(n)
				if key == "uid" {
					m.UID = &u
				} else {
					m.GID = &u
				}
			}
			if key == "uid" {
				uidSet = true
			} else {
				gidSet = true
			}
		case "size":
			if m.Type != MountTmpfs {
				return nil, errorf("unexpected key '%s' for mount type '%s'", key, m.Type)
			}
			if !deferred {
				n, err := units.ParseBytes(ev)
				if err != nil {
					return nil, errorf("invalid value for %s: %s", key, ev)
				}
				m.Size = n
			}
		case "env":
			if m.Type != MountSecret {
				return nil, errorf("unexpected key '%s' for mount type '%s'", key, m.Type)
			}
			m.Env = ev
		default:
			return nil, errorf("unexpected key '%s' in '%s'", key, f)
		}
	}

	switch m.Type {
	case MountBind, MountTmpfs:
		for _, c := range []struct {
			set  bool
			name string
		}{{modeSet, "mode"}, {uidSet, "uid"}, {gidSet, "gid"}} {
			if c.set {
				return nil, errorf("%s not allowed for %q type mounts", c.name, m.Type)
			}
		}
	}
	switch m.Type {
	case MountBind:
		if !roSet {
			m.ReadOnly = true
		}
	case MountCache:
		if !sharingSet {
			m.Sharing = SharingShared
		}
		if m.ID == "" {
			m.ID = m.Target
		}
	case MountSecret:
		if m.From != "" {
			return nil, errorf("secret mount should not have a from")
		}
		if m.Source != "" && m.ID != "" {
			return nil, errorf("both source and id can't be set")
		}
		if m.ID == "" {
			m.ID = m.Source
		}
		m.Source = ""
		if m.ID == "" && m.Target == "" {
			return nil, errorf("invalid secret mount. one of source, target required")
		}
		if m.ID == "" {
			m.ID = path.Base(m.Target)
		}
		if m.Target == "" && m.Env == "" {
			m.Target = "/run/secrets/" + m.ID
		}
		m.ReadOnly = true
	case MountSSH:
		if m.ID == "" {
			m.ID = "default"
		}
		m.ReadOnly = true
	}
	if m.Target == "" && (m.Type == MountBind || m.Type == MountCache || m.Type == MountTmpfs) {
		return nil, errorf("mount type=%s requires a target", m.Type)
	}
	return m, nil
}
