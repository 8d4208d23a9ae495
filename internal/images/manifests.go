package images

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/mediatype"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxManifestSize bounds the read of a stored manifest (what registries
// accept).
const maxManifestSize = 4 << 20

// maxIndexDepth bounds the nesting of indexes followed by manifestBlobs.
const maxIndexDepth = 4

// manifestBlobs lists the blobs that the stored manifests ms name: an image
// manifest's config and layers, an index's manifests and, for those stored,
// what they name (Record.ManifestBlobs). A stored manifest that cannot be
// read or parsed is an error naming it.
func (s *Store) manifestBlobs(ctx context.Context, ms []ocispec.Descriptor) ([]digest.Digest, error) {
	var out []digest.Digest
	seen := map[digest.Digest]bool{}
	add := func(d digest.Digest) {
		if d.Validate() == nil && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	read := map[digest.Digest]bool{}
	var walk func(d digest.Digest, depth int) error
	walk = func(d digest.Digest, depth int) error {
		if read[d] || depth > maxIndexDepth {
			return nil
		}
		read[d] = true
		raw, err := content.ReadBlob(ctx, s.cs, d, maxManifestSize)
		if err != nil {
			return fmt.Errorf("manifest %s: %w", d, err)
		}
		var m struct {
			Config    ocispec.Descriptor   `json:"config"`
			Layers    []ocispec.Descriptor `json:"layers"`
			Manifests []ocispec.Descriptor `json:"manifests"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("manifest %s: %w", d, err)
		}
		add(m.Config.Digest)
		for _, l := range m.Layers {
			add(l.Digest)
		}
		for _, c := range m.Manifests {
			add(c.Digest)
			if !mediatype.IsManifest(c.MediaType) || c.Digest.Validate() != nil {
				continue
			}
			if ok, _ := content.Exists(ctx, s.cs, c.Digest); ok {
				if err := walk(c.Digest, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, m := range ms {
		if err := walk(m.Digest, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}
