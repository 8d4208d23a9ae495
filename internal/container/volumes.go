package container

import (
	"slices"

	"github.com/hoistproject/hoist/internal/container/volume"
)

// Volumes returns the volume store and which containers use which volume
// (from the container records), for volume create, ls, inspect, rm and
// prune.
func (m *Manager) Volumes() (volume.Store, volume.Users, error) {
	ids, err := m.ids()
	if err != nil {
		return volume.Store{}, nil, err
	}
	users := volume.Users{}
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
	return m.volumes(), users, nil
}

// NewVolumeName is the name of a volume created without one (64 hex
// digits, as docker's).
func NewVolumeName() string { return newID() }
