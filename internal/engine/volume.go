package engine

import (
	"context"
	"strings"

	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/container/volume"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/images"
)

// Volume is a local volume with the containers that use it.
type Volume = volume.Volume

// volumes opens the volume store with its users (the container records).
func (e *Engine) volumes() (volume.Store, volume.Users, error) {
	m, err := e.containers()
	if err != nil {
		return volume.Store{}, nil, err
	}
	return m.Volumes()
}

// CreateVolume creates the local volume name (a new name when "") with
// labels, recording the create event; an existing volume is kept. It
// returns the volume's name.
func (e *Engine) CreateVolume(ctx context.Context, name string, labels map[string]string) (string, error) {
	vs, _, err := e.volumes()
	if err != nil {
		return "", err
	}
	n, created, err := vs.Create(name, labels, container.NewVolumeName)
	if err != nil {
		return "", err
	}
	if created {
		e.events.Record("volume", "create", n, map[string]string{"driver": "local"})
	}
	return n, nil
}

// Volumes is volume ls: the volumes that pass filters (dangling=, name=,
// driver=, label=); a bad filter is a *FilterError.
func (e *Engine) Volumes(ctx context.Context, filters []string) ([]Volume, error) {
	keep, err := volumeFilter(filters)
	if err != nil {
		return nil, &FilterError{err}
	}
	vs, users, err := e.volumes()
	if err != nil {
		return nil, err
	}
	var out []Volume
	for _, v := range vs.List(users) {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// Volume is the volume name.
func (e *Engine) Volume(ctx context.Context, name string) (Volume, error) {
	vs, users, err := e.volumes()
	if err != nil {
		return Volume{}, err
	}
	return vs.Get(name, users)
}

// RemoveVolume removes the volume name (force: even when a container uses
// it; an unknown name is no error then), recording the destroy event.
func (e *Engine) RemoveVolume(ctx context.Context, name string, force bool) error {
	vs, users, err := e.volumes()
	if err != nil {
		return err
	}
	_, gone := vs.Get(name, users)
	if err := vs.Delete(name, force, users); err != nil {
		return err
	}
	if gone == nil {
		e.events.Record("volume", "destroy", name, map[string]string{"driver": "local"})
	}
	return nil
}

// PruneVolumes removes the volumes no container uses, recording the
// destroy event of each; it returns their names and the bytes reclaimed.
func (e *Engine) PruneVolumes(ctx context.Context) ([]string, int64, error) {
	vs, users, err := e.volumes()
	if err != nil {
		return nil, 0, err
	}
	removed, reclaimed := vs.Prune(users)
	for _, name := range removed {
		e.events.Record("volume", "destroy", name, map[string]string{"driver": "local"})
	}
	return removed, reclaimed, nil
}

// volumeFilter builds `volume ls -f` (dangling=, name=, driver=, label=).
func volumeFilter(filters []string) (func(Volume) bool, error) {
	var tests []func(Volume) bool
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errdefs.InvalidArgumentf("Bad format of filter (expected name=value)")
		}
		switch k {
		case "dangling":
			var want bool
			switch strings.ToLower(v) {
			case "true", "1":
				want = true
			case "false", "0":
			default:
				return nil, errdefs.InvalidArgumentf("Invalid filter 'dangling=%s'", v)
			}
			tests = append(tests, func(vol Volume) bool { return (len(vol.UsedBy) == 0) == want })
		case "name":
			tests = append(tests, func(vol Volume) bool { return strings.Contains(vol.Name, v) })
		case "driver":
			tests = append(tests, func(Volume) bool { return v == "local" })
		case "label":
			tests = append(tests, func(vol Volume) bool { return images.LabelMatches(vol.Labels, v) })
		default:
			return nil, errdefs.InvalidArgumentf("Invalid filter '%s'", k)
		}
	}
	return func(vol Volume) bool {
		for _, t := range tests {
			if !t(vol) {
				return false
			}
		}
		return true
	}, nil
}
