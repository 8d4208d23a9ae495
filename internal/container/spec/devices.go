package spec

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// HostDevices lists the host's character and block devices under /dev
// (not pts, shm or mqueue, which a container has its own of), for
// --privileged.
func HostDevices() []specs.LinuxDevice {
	var out []specs.LinuxDevice
	filepath.WalkDir("/dev", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			switch p {
			case "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/.lxc", "/dev/.udev":
				return filepath.SkipDir
			}
			return nil
		}
		if p == "/dev/console" || strings.HasPrefix(p, "/dev/ptmx") {
			return nil // the runtime makes these itself
		}
		if dev, ok := deviceAt(p, p); ok {
			out = append(out, dev)
		}
		return nil
	})
	return out
}

// deviceAt describes the character or block device node at host path p
// as the container's path; false when p is no such node.
func deviceAt(p, path string) (specs.LinuxDevice, bool) {
	var st unix.Stat_t
	if unix.Lstat(p, &st) != nil {
		return specs.LinuxDevice{}, false
	}
	typ := ""
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return specs.LinuxDevice{}, false
	}
	mode := os.FileMode(st.Mode & 0o777)
	uid, gid := st.Uid, st.Gid
	return specs.LinuxDevice{Path: path, Type: typ, Major: int64(unix.Major(st.Rdev)),
		Minor: int64(unix.Minor(st.Rdev)), FileMode: &mode, UID: &uid, GID: &gid}, true
}

// DeviceMapping is docker's --device HOST[:CONTAINER][:PERMISSIONS].
type DeviceMapping struct {
	PathOnHost        string
	PathInContainer   string
	CgroupPermissions string // of r, w, m
}

// ParseDevice reads --device as docker does: the second field is the
// permissions when it is made of r, w and m only; the container path
// defaults to the host path and must be absolute.
func ParseDevice(v string) (DeviceMapping, error) {
	d := DeviceMapping{CgroupPermissions: "rwm"}
	arr := strings.Split(v, ":")
	switch len(arr) {
	case 3:
		d.CgroupPermissions = arr[2]
		if !validDeviceMode(arr[2]) {
			return d, errdefs.InvalidArgumentf("invalid argument %q for \"--device\" flag: bad mode specified: %s", v, arr[2])
		}
		d.PathInContainer = arr[1]
	case 2:
		if validDeviceMode(arr[1]) {
			d.CgroupPermissions = arr[1]
		} else {
			d.PathInContainer = arr[1]
		}
	case 1:
	default:
		return d, errdefs.InvalidArgumentf("invalid argument %q for \"--device\" flag: invalid device specification: %s", v, v)
	}
	d.PathOnHost = arr[0]
	if d.PathInContainer == "" {
		d.PathInContainer = d.PathOnHost
	}
	if !strings.HasPrefix(d.PathInContainer, "/") {
		return d, errdefs.InvalidArgumentf("invalid argument %q for \"--device\" flag: bad format for path: %s", v, d.PathInContainer)
	}
	return d, nil
}

func validDeviceMode(m string) bool {
	if m == "" || len(m) > 3 {
		return false
	}
	for _, c := range m {
		if !strings.ContainsRune("rwm", c) {
			return false
		}
	}
	return true
}

// Devices resolves --device mappings on the host: each device node (every
// one under a directory, recursively) with its cgroup rule.
func Devices(ms []DeviceMapping) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	var devs []specs.LinuxDevice
	var rules []specs.LinuxDeviceCgroup
	add := func(host, ctr, perms string) bool {
		dev, ok := deviceAt(host, ctr)
		if ok {
			major, minor := dev.Major, dev.Minor
			devs = append(devs, dev)
			rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: dev.Type, Major: &major, Minor: &minor, Access: perms})
		}
		return ok
	}
	for _, m := range ms {
		fi, err := os.Stat(m.PathOnHost)
		if err != nil {
			return nil, nil, errdefs.FailedPreconditionf("error gathering device information while adding custom device %q: %v", m.PathOnHost, unwrapPathError(err))
		}
		if !fi.IsDir() {
			if !add(m.PathOnHost, m.PathInContainer, m.CgroupPermissions) {
				return nil, nil, errdefs.FailedPreconditionf("error gathering device information while adding custom device %q: not a device node", m.PathOnHost)
			}
			continue
		}
		filepath.WalkDir(m.PathOnHost, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(m.PathOnHost, p)
				add(p, filepath.Join(m.PathInContainer, rel), m.CgroupPermissions)
			}
			return nil
		})
	}
	return devs, rules, nil
}

// unwrapPathError is a *PathError's bare cause ("no such file or
// directory"), as docker's message has it.
func unwrapPathError(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
