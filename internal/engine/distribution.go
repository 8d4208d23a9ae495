package engine

import (
	"context"
	"encoding/json"
	"io"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mediatype"
	"github.com/hoistproject/hoist/internal/reference"
)

// DistributionInfo is what a registry holds for a reference (docker's
// /distribution/NAME/json): the manifest's descriptor and the platforms
// it serves (an index's entries, or a single image's config).
type DistributionInfo struct {
	Descriptor ocispec.Descriptor
	Platforms  []ocispec.Platform
}

// DistributionInspect asks n's registry for n, with auth (nil: the stored
// credentials).
func (e *Engine) DistributionInspect(ctx context.Context, n reference.Named, auth *AuthConfig) (DistributionInfo, error) {
	c, _, err := e.registry(auth)
	if err != nil {
		return DistributionInfo{}, err
	}
	defer c.Close()
	repo := c.Repository(n)
	data, desc, err := repo.GetManifest(ctx, PullLabel(n))
	if err != nil {
		return DistributionInfo{}, err
	}
	info := DistributionInfo{Descriptor: desc, Platforms: []ocispec.Platform{}}
	switch {
	case mediatype.IsIndex(desc.MediaType):
		var idx ocispec.Index
		if err := json.Unmarshal(data, &idx); err != nil {
			return info, errdefs.InvalidArgumentf("%s: malformed index: %v", n, err)
		}
		for _, m := range idx.Manifests {
			if m.Platform != nil {
				info.Platforms = append(info.Platforms, *m.Platform)
			}
		}
	case mediatype.IsImageManifest(desc.MediaType):
		var m ocispec.Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return info, errdefs.InvalidArgumentf("%s: malformed manifest: %v", n, err)
		}
		rc, err := repo.Fetch(ctx, m.Config)
		if err != nil {
			return info, err
		}
		defer rc.Close()
		var cfg ocispec.Image
		if err := json.NewDecoder(io.LimitReader(rc, 8<<20)).Decode(&cfg); err != nil {
			return info, errdefs.InvalidArgumentf("%s: malformed image config: %v", n, err)
		}
		info.Platforms = append(info.Platforms, cfg.Platform)
	}
	return info, nil
}
