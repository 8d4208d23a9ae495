package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hoistproject/hoist/internal/container"
	ctrnet "github.com/hoistproject/hoist/internal/container/network"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client"
)

// CreateOptions are a container's creation: the container's options and
// the pull policy of its image.
type CreateOptions struct {
	container.CreateOptions
	// Pull is run/create's --pull: "missing" (or "") pulls an image the
	// store lacks, "always" pulls first, "never" does not.
	Pull string
	// Platform ("" for any) is the image's platform (os[/arch[/variant]]).
	Platform string
	// Status receives docker run's pull lines ("Unable to find image ...
	// locally", "Digest: ..."); nil discards them.
	Status io.Writer
	// Progress receives the pull's per-layer events; nil discards them.
	Progress client.ProgressFunc
	// Networks are the Engine API's NetworkingConfig.EndpointsConfig:
	// endpoint settings by network name or ID. The entry of the
	// container's network mode becomes its Endpoint; the container is
	// connected to the others once created (docker's multi-network
	// create).
	Networks map[string]EndpointOptions
}

// PullError is the failure of a pull that creating a container needed.
type PullError struct{ Err error }

func (p *PullError) Error() string { return p.Err.Error() }
func (p *PullError) Unwrap() error { return p.Err }

// CreateContainer creates a container, pulling its image as o.Pull says.
//
// With a platform, an image of another platform in the store counts as
// missing, as in docker 20.10: it is pulled for that platform (and refused
// with "never").
func (e *Engine) CreateContainer(ctx context.Context, o CreateOptions) (*container.Container, error) {
	policy, platform := o.Pull, o.Platform
	if o.Status == nil {
		o.Status = io.Discard
	}
	switch policy {
	case "", "missing", "always", "never":
	default:
		return nil, errdefs.InvalidArgumentf("invalid pull option: '%s': must be one of \"always\", \"missing\" or \"never\"", policy)
	}
	var plat *ocispec.Platform
	if platform != "" {
		p, err := client.ParsePlatform(platform)
		if err != nil {
			return nil, err
		}
		plat = &p
	}
	m, err := e.containers()
	if err != nil {
		return nil, err
	}
	st, err := e.images()
	if err != nil {
		return nil, err
	}
	if policy == "always" {
		if err := e.pullImage(ctx, o.Image, false, plat, o); err != nil {
			return nil, err
		}
	}
	if plat != nil && policy != "always" {
		if other, err := e.otherPlatform(ctx, o.Image, *plat); err != nil {
			return nil, err
		} else if other != "" {
			if policy == "never" {
				return nil, errdefs.NotFoundf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s", o.Image, client.FormatPlatform(*plat), other)
			}
			if err := e.pullImage(ctx, o.Image, true, plat, o); err != nil {
				return nil, err
			}
		}
	}
	// The image is held in a lease from its lookup until the container's
	// record names it: no prune or rmi takes its layers in between
	// (storeImages.ResolveImage).
	lctx, done, err := st.WithLease(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	ctx = lctx
	extra, err := e.splitEndpoints(ctx, &o)
	if err != nil {
		return nil, err
	}
	c, err := m.Create(ctx, o.CreateOptions)
	var missing *missingImage
	if err != nil && errors.As(err, &missing) && policy != "never" {
		if err := e.pullImage(ctx, o.Image, true, plat, o); err != nil {
			return nil, err
		}
		c, err = m.Create(ctx, o.CreateOptions)
	}
	if err != nil {
		return c, err
	}
	for _, ref := range slices.Sorted(maps.Keys(extra)) {
		if err := e.ConnectNetwork(ctx, ref, c.ID, extra[ref]); err != nil {
			// nothing half-made: the container goes with its leases
			m.Remove(context.WithoutCancel(ctx), c.ID, RemoveOptions{Force: true, Volumes: true})
			return nil, err
		}
	}
	return c, nil
}

// splitEndpoints moves the endpoint settings of o's network mode from
// o.Networks to o.Endpoint and returns the others by network ID. Every
// network named must exist, before anything is created: one that does not
// is a bad parameter of the create (not a missing object: a client takes
// a create's 404 for a missing image, and pulls).
func (e *Engine) splitEndpoints(ctx context.Context, o *CreateOptions) (map[string]EndpointOptions, error) {
	mode := ctrnet.Mode(o.HostConfig.NetworkMode)
	if len(o.Networks) == 0 && (mode == "host" || mode == "none" || strings.HasPrefix(mode, "container:")) {
		return nil, nil
	}
	s, err := e.networks()
	if err != nil {
		return nil, err
	}
	get := func(ref string) (*Network, error) {
		n, err := s.Get(ctx, ref)
		if errdefs.IsNotFound(err) {
			err = errdefs.InvalidArgumentf("%v", err) // of the create: no longer a not-found
		}
		return n, err
	}
	var primary *Network
	if !strings.HasPrefix(mode, "container:") {
		if primary, err = get(mode); err != nil {
			return nil, err
		}
	}
	extra := map[string]EndpointOptions{}
	for ref, ep := range o.Networks {
		n, err := get(ctrnet.Mode(ref)) // "default" is the default network
		if err != nil {
			return nil, err
		}
		if primary != nil && n.ID == primary.ID {
			o.Endpoint = ep
			continue
		}
		extra[n.ID] = ep
	}
	return extra, nil
}

// otherPlatform returns the platform of the stored image ref when it is not
// want ("" when it matches or is not stored).
func (e *Engine) otherPlatform(ctx context.Context, ref string, want ocispec.Platform) (string, error) {
	st, err := e.images()
	if err != nil {
		return "", err
	}
	img, err := st.Get(ctx, ref)
	if err != nil || img.Config == nil {
		return "", nil
	}
	have := ocispec.Platform{OS: img.Config.OS, Architecture: img.Config.Architecture, Variant: img.Config.Variant}
	if client.PlatformMatches(have, want) {
		return "", nil
	}
	return client.FormatPlatform(have), nil
}

// missingImage is the resolver's "not in the store" error.
type missingImage struct{ err error }

func (m *missingImage) Error() string { return m.err.Error() }
func (m *missingImage) Unwrap() error { return m.err }

// pullImage pulls ref into the store, writing docker run's messages.
func (e *Engine) pullImage(ctx context.Context, ref string, missing bool, plat *ocispec.Platform, o CreateOptions) error {
	n, err := reference.ParseTagged(ref)
	if err != nil {
		// An ID or prefix that is not in the store cannot be pulled.
		return errdefs.NotFoundf("Unable to find image '%s' locally", ref)
	}
	if missing {
		fmt.Fprintf(o.Status, "Unable to find image '%s' locally\n", reference.Familiar(n))
	}
	res, err := e.Pull(ctx, []reference.Named{n}, PullOptions{Platform: plat, Pulling: func(r reference.Named) client.ProgressFunc {
		fmt.Fprintf(o.Status, "%s: Pulling from %s\n", PullLabel(r), reference.Path(r))
		return o.Progress
	}})
	if err != nil {
		var ne net.Error
		if missing && errors.As(err, &ne) {
			// No way to the registry: say what that means for this run.
			err = fmt.Errorf("image '%s' is not present locally and could not be pulled from %s: %w", reference.Familiar(n), reference.Domain(n), err)
		}
		return &PullError{err} // run adds its "hoist: "
	}
	fmt.Fprintf(o.Status, "Digest: %s\n", res.Last.Digest)
	if res.Last.Fresh {
		fmt.Fprintf(o.Status, "Status: Downloaded newer image for %s\n", reference.Familiar(res.Last.Name))
	} else {
		fmt.Fprintf(o.Status, "Status: Image is up to date for %s\n", reference.Familiar(res.Last.Name))
	}
	return nil
}
