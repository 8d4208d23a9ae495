package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/images"
)

// FilterError is a list's or a prune's bad --filter (docker's daemon
// checks filters; its client prints their failures as the daemon's).
type FilterError struct{ Err error }

func (f *FilterError) Error() string { return f.Err.Error() }
func (f *FilterError) Unwrap() error { return f.Err }

// PortRange is a PORT[/PROTO] or START-END[/PROTO] argument (--expose,
// ps's publish= and expose= filters).
type PortRange = network.PortRange

// ParsePortRange reads a PortRange (network.ParsePortRange).
func ParsePortRange(v string) (PortRange, error) { return network.ParsePortRange(v) }

// ErrPortOrder is ParsePortRange's error for START-END with END < START.
var ErrPortOrder = network.ErrPortOrder

// ContainerListOptions are ps's options.
type ContainerListOptions struct {
	// All lists stopped containers too.
	All bool
	// Last lists the Last last created containers only, in any state
	// (<= 0: no limit).
	Last int
	// Filters are docker's ps filters, KEY=VALUE.
	Filters []string
}

// ListContainers is ps: the containers (newest first) that o selects. A bad
// filter is a *FilterError.
func (e *Engine) ListContainers(ctx context.Context, o ContainerListOptions) ([]*Container, error) {
	m, err := e.containers()
	if err != nil {
		return nil, err
	}
	cs, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	var nets map[string][]string
	if slices.ContainsFunc(o.Filters, func(f string) bool { return strings.HasPrefix(f, "network=") }) {
		nets = e.containerNetworkNames(ctx)
	}
	match, err := psFilter(o.Filters, func(ref string) (*container.Container, error) { return m.Get(ctx, ref) }, nets)
	if err != nil {
		return nil, &FilterError{err}
	}
	var out []*Container
	for _, ctr := range cs {
		if !o.All && o.Last <= 0 && !ctr.State.Running() && !hasStatusFilter(o.Filters) {
			continue
		}
		if !match(ctr) {
			continue
		}
		if o.Last > 0 && len(out) >= o.Last {
			break
		}
		out = append(out, ctr)
	}
	return out, nil
}

func hasStatusFilter(filters []string) bool {
	for _, f := range filters {
		if strings.HasPrefix(f, "status=") || strings.HasPrefix(f, "exited=") {
			return true
		}
	}
	return false
}

// ContainerImage is ps's IMAGE of c: the reference it was created from,
// or its image's ID once that reference names another image or none (the
// tag moved or was removed), as docker's.
func (e *Engine) ContainerImage(ctx context.Context, c *Container) string {
	ref := c.Config.Image
	if ref == c.ImageID {
		return ref
	}
	if e.o.Images != nil { // the front-end's own images (Options.Images)
		if img, err := e.o.Images.ResolveImage(ctx, ref); err != nil || img.ID != c.ImageID {
			return c.ImageID
		}
		return ref
	}
	st, err := e.images()
	if err != nil {
		return ref
	}
	img, err := st.Resolve(ctx, ref)
	if err != nil && !errdefs.IsNotFound(err) {
		return ref
	}
	if err != nil || img.ID.String() != c.ImageID {
		return c.ImageID
	}
	return ref
}

// ContainerSize is docker's sizes of a container: its writable layer
// (SizeRw) and that plus its image's (SizeRootFs).
func (e *Engine) ContainerSize(ctx context.Context, c *Container) (rw, rootFs int64) {
	rw = fsutil.DirSize(filepath.Join(c.Dir(), "upper"))
	var img int64
	if st, err := e.images(); err == nil {
		if i, err := st.Get(ctx, c.ImageID); err == nil {
			img = i.Size
		}
	}
	return rw, rw + img
}

// psFilter builds the predicate for -f filters (ANDed across keys, ORed
// within one key, as docker does); lookup finds the container before= and
// since= name.
func psFilter(filters []string, lookup func(ref string) (*container.Container, error), nets map[string][]string) (func(*container.Container) bool, error) {
	created := map[string]time.Time{}       // before=/since= reference -> its creation time
	ports := map[string]network.PortRange{} // publish=/expose= value -> its ports
	byKey, err := filterValues(filters, "Bad format of filter (expected name=value)", func(k, v string) error {
		switch k {
		case "status":
			switch v {
			case container.StatusCreated, container.StatusRestarting, container.StatusRunning,
				container.StatusRemoving, container.StatusPaused, container.StatusExited, container.StatusDead:
			default:
				return errdefs.InvalidArgumentf("Invalid filter 'status=%s'", v)
			}
		case "health":
			switch v {
			case container.HealthStarting, container.HealthHealthy, container.HealthUnhealthy, "none":
			default:
				return errdefs.InvalidArgumentf("Unrecognised filter value for health: %s", v)
			}
		case "before", "since":
			ref, err := lookup(v)
			if err != nil {
				return err
			}
			created[v] = ref.Created
		case "publish", "expose":
			r, err := network.ParsePortRange(v)
			if errors.Is(err, network.ErrPortOrder) {
				ports, _, _ := strings.Cut(v, "/")
				err = fmt.Errorf("Invalid range specified for the Port: %s", ports)
			}
			if err != nil {
				return errdefs.InvalidArgumentf("error while looking up for %s %s: %v", k, v, err)
			}
			ports[v] = r
		case "name", "ancestor", "label", "exited", "id", "volume", "network":
		default:
			return errdefs.InvalidArgumentf("Invalid filter '%s'", k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	one := func(c *container.Container, k, v string) bool {
		switch k {
		case "status":
			return c.State.Status == v
		case "name":
			return strings.Contains(c.Name, strings.TrimPrefix(v, "/"))
		case "id":
			return strings.HasPrefix(c.ID, v)
		case "ancestor":
			img := c.Config.Image
			return img == v || strings.TrimSuffix(img, ":latest") == strings.TrimSuffix(v, ":latest") ||
				strings.TrimPrefix(c.ImageID, "sha256:") == strings.TrimPrefix(v, "sha256:") ||
				(len(v) >= 4 && strings.HasPrefix(strings.TrimPrefix(c.ImageID, "sha256:"), strings.TrimPrefix(v, "sha256:")))
		case "label":
			return images.LabelMatches(c.Config.Labels, v)
		case "exited":
			n, err := strconv.Atoi(v)
			return err == nil && c.State.Status == container.StatusExited && c.State.ExitCode == n
		case "health":
			if h := c.State.Health; h != nil && c.State.Running() {
				return h.Status == v
			}
			return v == "none"
		case "before":
			return c.Created.Before(created[v])
		case "since":
			return c.Created.After(created[v])
		case "volume":
			return slices.ContainsFunc(c.Mounts, func(mp container.MountPoint) bool {
				return mp.Name == v || mp.Source == v || mp.Destination == v
			})
		case "network":
			return networkMatches(c, nets[c.ID], v)
		case "publish", "expose":
			r := ports[v]
			if k == "publish" {
				return slices.ContainsFunc(c.Ports, func(p network.PortBinding) bool { return r.Has(p.ContainerPort, p.Proto) })
			}
			for p := range c.Config.ExposedPorts {
				port, proto, _ := strings.Cut(p, "/")
				if n, err := strconv.Atoi(port); err == nil && r.Has(n, proto) {
					return true
				}
			}
			return false
		}
		return false
	}
	return matchAll(byKey, one), nil
}

// filterValues reads --filter KEY=VALUE arguments into their values by
// key, in order; check refuses a key or a value (docker's words), and
// badFormat is what an argument without "=" is told (its capital letter
// differs between docker's endpoints).
func filterValues(filters []string, badFormat string, check func(k, v string) error) (map[string][]string, error) {
	byKey := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errdefs.InvalidArgumentf("%s", badFormat)
		}
		if err := check(k, v); err != nil {
			return nil, err
		}
		byKey[k] = append(byKey[k], v)
	}
	return byKey, nil
}

// matchAll is docker's rule for repeated filters: every key must match,
// through at least one of its values; but every label filter must match
// (docker's MatchKVList: label=a and label=b select what has both).
func matchAll[T any](byKey map[string][]string, one func(T, string, string) bool) func(T) bool {
	return func(x T) bool {
		for k, vs := range byKey {
			match := func(v string) bool { return one(x, k, v) }
			ok := slices.ContainsFunc(vs, match)
			if k == "label" {
				ok = !slices.ContainsFunc(vs, func(v string) bool { return !match(v) })
			}
			if !ok {
				return false
			}
		}
		return true
	}
}
