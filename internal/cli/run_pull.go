package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/hoistproject/hoist/internal/container"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client/distribution"
)

// createContainer creates a container, pulling its image as run/create's
// --pull says: "missing" (default) pulls an image the store lacks, "always"
// pulls first, "never" does not. Pull progress goes to stderr, as docker
// run prints it.
func (e *env) createContainer(ctx context.Context, m *container.Manager, o container.CreateOptions, policy string) (*container.Container, error) {
	switch policy {
	case "", "missing", "always", "never":
	default:
		return nil, errdefs.InvalidArgumentf("invalid pull option: '%s': must be one of \"always\", \"missing\" or \"never\"", policy)
	}
	if policy == "always" && e.images == nil {
		if err := e.pullImage(ctx, o.Image, false); err != nil {
			return nil, err
		}
	}
	c, err := m.Create(ctx, o)
	var missing *missingImage
	if err == nil || !errors.As(err, &missing) || policy == "never" || e.images != nil {
		return c, err
	}
	if err := e.pullImage(ctx, o.Image, true); err != nil {
		return nil, err
	}
	return m.Create(ctx, o)
}

// missingImage is the resolver's "not in the store" error.
type missingImage struct{ err error }

func (m *missingImage) Error() string { return m.err.Error() }
func (m *missingImage) Unwrap() error { return m.err }

// pullImage pulls ref into the store, printing docker run's messages.
func (e *env) pullImage(ctx context.Context, ref string, missing bool) error {
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
	res, err := distribution.Pull(ctx, c, st, n, distribution.PullOptions{Progress: newProgress(e.errOut, false).Event})
	if err != nil {
		return &shapedErr{err: err, daemon: true} // run adds its "hoist: "
	}
	fmt.Fprintf(e.errOut, "Digest: %s\n", res.Digest)
	if res.Fresh {
		fmt.Fprintf(e.errOut, "Status: Downloaded newer image for %s\n", reference.Familiar(res.Name))
	} else {
		fmt.Fprintf(e.errOut, "Status: Image is up to date for %s\n", reference.Familiar(res.Name))
	}
	return nil
}
