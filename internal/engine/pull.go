package engine

import (
	"context"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/distribution"
)

// PullOptions are the options of Pull.
type PullOptions struct {
	// Platform selects from a multi-platform image; nil: this machine's,
	// and any for single-platform images.
	Platform *ocispec.Platform
	// Pulling, if set, is called before each reference is pulled and
	// returns the receiver of its progress events (nil for none).
	Pulling func(ref reference.Named) client.ProgressFunc
	// Pulled, if set, is called after each reference is pulled.
	Pulled func(res distribution.PullResult)
	// Auth, when set, is the registry login to use instead of the stored
	// ones (the Engine API's X-Registry-Auth).
	Auth *AuthConfig
}

// PullReport is the outcome of Pull.
type PullReport struct {
	// Last is the last reference's result.
	Last distribution.PullResult
	// Fresh reports that any reference brought a new image.
	Fresh bool
}

// PullLabel is how docker names a reference being pulled: its tag, or its
// digest.
func PullLabel(r reference.Named) string {
	if d := reference.Digest(r); d != "" {
		return d.String()
	}
	return reference.Tag(r)
}

// Tags lists the tags of n's repository in its registry (pull -a).
func (e *Engine) Tags(ctx context.Context, n reference.Named) ([]reference.Named, error) {
	c, _, err := e.registryClient()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	tags, err := c.Repository(n).Tags(ctx)
	if err != nil {
		return nil, err
	}
	refs := make([]reference.Named, 0, len(tags))
	for _, t := range tags {
		r, err := reference.WithTag(n, t)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// Pull pulls refs (tagged or digested) into the image store one after the
// other, and records the pull event of the last one.
func (e *Engine) Pull(ctx context.Context, refs []reference.Named, o PullOptions) (PullReport, error) {
	var rep PullReport
	st, err := e.images()
	if err != nil {
		return rep, err
	}
	c, _, err := e.registry(o.Auth)
	if err != nil {
		return rep, err
	}
	defer c.Close()
	for _, r := range refs {
		var prog client.ProgressFunc
		if o.Pulling != nil {
			prog = o.Pulling(r)
		}
		res, err := distribution.Pull(ctx, c, st, r, distribution.PullOptions{Platform: o.Platform, Progress: prog})
		if err != nil {
			return rep, err
		}
		if o.Pulled != nil {
			o.Pulled(res)
		}
		rep.Fresh = rep.Fresh || res.Fresh
		rep.Last = res
	}
	if len(refs) > 0 {
		e.events.Record("image", "pull", rep.Last.Name.String(), map[string]string{"name": rep.Last.Name.String()})
	}
	return rep, nil
}
