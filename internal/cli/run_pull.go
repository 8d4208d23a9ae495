package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/distribution"
)

// createContainer creates a container, pulling its image as run/create's
// --pull says: "missing" (default) pulls an image the store lacks, "always"
// pulls first, "never" does not. Pull progress goes to stderr, as docker
// run prints it.
//
// With a platform (--platform), an image of another platform in the store
// counts as missing, as in docker 20.10: it is pulled for that platform
// (and refused with "never").
func (e *env) createContainer(ctx context.Context, m *container.Manager, o container.CreateOptions, f *createFlags) (*container.Container, error) {
	policy, platform := f.pull, f.platform
	if f.quiet { // -q: no pull output
		q := *e
		q.errOut = io.Discard
		e = &q
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
	if policy == "always" && e.images == nil {
		if err := e.pullImage(ctx, o.Image, false, plat); err != nil {
			return nil, err
		}
	}
	if plat != nil && policy != "always" && e.images == nil {
		if other, err := e.otherPlatform(ctx, o.Image, *plat); err != nil {
			return nil, err
		} else if other != "" {
			if policy == "never" {
				return nil, errdefs.NotFoundf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s", o.Image, client.FormatPlatform(*plat), other)
			}
			if err := e.pullImage(ctx, o.Image, true, plat); err != nil {
				return nil, err
			}
		}
	}
	if e.images == nil {
		// The image is held in a lease from its lookup until the
		// container's record names it: no prune or rmi takes its layers
		// in between (storeImages.ResolveImage).
		st, err := e.imageStore()
		if err != nil {
			return nil, err
		}
		lctx, done, err := st.DB().WithLease(ctx)
		if err != nil {
			return nil, err
		}
		defer done()
		ctx = lctx
	}
	c, err := m.Create(ctx, o)
	var missing *missingImage
	if err == nil || !errors.As(err, &missing) || policy == "never" || e.images != nil {
		return c, err
	}
	if err := e.pullImage(ctx, o.Image, true, plat); err != nil {
		return nil, err
	}
	return m.Create(ctx, o)
}

// otherPlatform returns the platform of the stored image ref when it is not
// want ("" when it matches or is not stored).
func (e *env) otherPlatform(ctx context.Context, ref string, want ocispec.Platform) (string, error) {
	st, err := e.imageStore()
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

// pullImage pulls ref into the store, printing docker run's messages.
func (e *env) pullImage(ctx context.Context, ref string, missing bool, plat *ocispec.Platform) error {
	st, err := e.imageStore()
	if err != nil {
		return err
	}
	n, err := reference.ParseTagged(ref)
	if err != nil {
		// An ID or prefix that is not in the store cannot be pulled.
		return errdefs.NotFoundf("Unable to find image '%s' locally", ref)
	}
	if missing {
		fmt.Fprintf(e.errOut, "Unable to find image '%s' locally\n", reference.Familiar(n))
	}
	c, _, err := e.registryClient()
	if err != nil {
		return err
	}
	defer c.Close()
	label := reference.Tag(n)
	if d := reference.Digest(n); d != "" {
		label = d.String()
	}
	fmt.Fprintf(e.errOut, "%s: Pulling from %s\n", label, reference.Path(n))
	res, err := distribution.Pull(ctx, c, st, n, distribution.PullOptions{Platform: plat, Progress: newProgress(e.errOut, false).Event})
	if err != nil {
		return &shapedErr{err: err, daemon: true} // run adds its "hoist: "
	}
	e.events().Record("image", "pull", res.Name.String(), map[string]string{"name": res.Name.String()})
	fmt.Fprintf(e.errOut, "Digest: %s\n", res.Digest)
	if res.Fresh {
		fmt.Fprintf(e.errOut, "Status: Downloaded newer image for %s\n", reference.Familiar(res.Name))
	} else {
		fmt.Fprintf(e.errOut, "Status: Image is up to date for %s\n", reference.Familiar(res.Name))
	}
	return nil
}
