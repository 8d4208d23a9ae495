package container

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/container/volume"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// Volume describes a local volume and the containers that use it.
type Volume struct {
	Name       string
	Mountpoint string // its data directory
	CreatedAt  time.Time
	UsedBy     []string // IDs of the containers whose records name it
}

// VolumeCreate creates the local volume name (a random 64-hex name when
// empty) and returns its name; creating an existing volume is a no-op, as
// in docker.
func (m *Manager) VolumeCreate(name string) (string, error) {
	if name == "" {
		name = newID()
	}
	if err := volume.CheckName(name); err != nil {
		return "", err
	}
	if _, err := m.volumes().Path(name); err != nil {
		return "", err
	}
	return name, nil
}

// Volumes lists the volumes by name, each with its users.
func (m *Manager) Volumes(ctx context.Context) ([]Volume, error) {
	users, err := m.volumeUsers()
	if err != nil {
		return nil, err
	}
	var out []Volume
	for _, name := range m.volumes().Names() {
		v, ok := m.volumeInfo(name, users)
		if ok {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// VolumeGet describes volume name; an unknown one is errdefs.NotFound.
func (m *Manager) VolumeGet(ctx context.Context, name string) (Volume, error) {
	users, err := m.volumeUsers()
	if err != nil {
		return Volume{}, err
	}
	v, ok := m.volumeInfo(name, users)
	if !ok {
		return Volume{}, errdefs.NotFoundf("get %s: no such volume", name)
	}
	return v, nil
}

// VolumeRemove deletes volume name, which no container may use (not even a
// stopped one). With force an unknown volume is no error.
func (m *Manager) VolumeRemove(ctx context.Context, name string, force bool) error {
	v, err := m.VolumeGet(ctx, name)
	if err != nil {
		if force && errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	if len(v.UsedBy) > 0 {
		return errdefs.Conflictf("remove %s: volume is in use - [%s]", name, strings.Join(v.UsedBy, ", "))
	}
	m.volumes().Remove(name)
	return nil
}

// VolumePrune deletes every volume no container uses and returns their
// names and the bytes they held.
func (m *Manager) VolumePrune(ctx context.Context) ([]string, int64, error) {
	vols, err := m.Volumes(ctx)
	if err != nil {
		return nil, 0, err
	}
	var removed []string
	var reclaimed int64
	for _, v := range vols {
		if len(v.UsedBy) > 0 {
			continue
		}
		n := dirBytes(v.Mountpoint)
		m.volumes().Remove(v.Name)
		removed = append(removed, v.Name)
		reclaimed += n
	}
	return removed, reclaimed, nil
}

// volumeInfo describes volume name if it exists.
func (m *Manager) volumeInfo(name string, users map[string][]string) (Volume, bool) {
	if volume.CheckName(name) != nil {
		return Volume{}, false
	}
	fi, err := os.Stat(filepath.Join(m.volumesDir(), name))
	if err != nil || !fi.IsDir() {
		return Volume{}, false
	}
	return Volume{Name: name, Mountpoint: m.volumes().DataDir(name), CreatedAt: fi.ModTime(), UsedBy: users[name]}, true
}

// volumeUsers maps volume names to the IDs of the containers using them.
func (m *Manager) volumeUsers() (map[string][]string, error) {
	ids, err := m.ids()
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, id := range ids {
		c, err := m.load(id)
		if err != nil {
			continue // removed meanwhile, or a remnant
		}
		for _, mp := range c.Mounts {
			if mp.Type == "volume" && !slices.Contains(users[mp.Name], c.ID) {
				users[mp.Name] = append(users[mp.Name], c.ID)
			}
		}
	}
	return users, nil
}
