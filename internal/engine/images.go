package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/hoistproject/hoist/internal/container"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/metadata"
)

// storeImages resolves container images in the image store: the config and
// the unpacked layer dirs.
type storeImages struct{ e *Engine }

func (s storeImages) ResolveImage(ctx context.Context, ref string) (container.Image, error) {
	st, err := s.e.images()
	if err != nil {
		return container.Image{}, err
	}
	// Held in the caller's lease (CreateContainer) until the container's
	// record names the image.
	f, err := st.Hold(ctx, ref)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return container.Image{}, &missingImage{err}
		}
		return container.Image{}, err
	}
	img := container.Image{ID: f.Record.ID.String(), Ref: ref}
	if err := json.Unmarshal(f.RawConfig, &img.Config); err != nil {
		return img, fmt.Errorf("image %s: config: %w", ref, err)
	}
	img.Healthcheck = f.Config.Config.Healthcheck
	dirs, chains, err := st.DiffDirs(ctx, f)
	if err != nil {
		return img, fmt.Errorf("image %s: %w", ref, err)
	}
	img.LowerDirs = dirs
	for _, c := range chains {
		img.ChainIDs = append(img.ChainIDs, c.String())
	}
	return img, nil
}

// containerUsers tells the image store which images and layers containers
// use, so that rmi refuses (or, with -f, only untags) them and layer GC
// keeps them.
type containerUsers struct{ m *container.Manager }

func (u containerUsers) ImageUsers(tx *metadata.Tx) (map[digest.Digest][]images.ContainerUse, error) {
	users, _, err := u.m.ImageUsers()
	if err != nil {
		return nil, err
	}
	out := map[digest.Digest][]images.ContainerUse{}
	for id, us := range users {
		for _, x := range us {
			out[digest.Digest(id)] = append(out[digest.Digest(id)], images.ContainerUse{ID: x.ID, Running: x.Running})
		}
	}
	return out, nil
}

func (u containerUsers) LayerRefs(tx *metadata.Tx, refs map[digest.Digest]bool) error {
	_, chains, err := u.m.ImageUsers()
	if err != nil {
		return err
	}
	for c := range chains {
		refs[digest.Digest(c)] = true
	}
	return nil
}
