package imagearchive

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is one image to save.
type Image struct {
	// Config is the image config blob (its digest is the image ID).
	Config ocispec.Descriptor
	// Layers are the stored layer blobs, bottom first.
	Layers []ocispec.Descriptor
	// Names are the image's tags (normalised references); may be empty.
	Names []reference.Named
}

// ociLayoutFile is the content of the oci-layout member.
const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// dockerManifestEntry is one element of docker's manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Save writes images as one archive (see the package doc) to w, reading blobs
// from p. progress, if not nil, is called with each blob as it is written.
func Save(ctx context.Context, w io.Writer, p content.Provider, images []Image, progress func(ocispec.Descriptor)) error {
	tw := tar.NewWriter(w)
	written := map[digest.Digest]bool{}
	var index ocispec.Index
	index.SchemaVersion = 2
	index.MediaType = ocispec.MediaTypeImageIndex
	var dockerManifest []dockerManifestEntry
	repositories := map[string]map[string]string{}
	mtime := time.Unix(0, 0)

	writeBytes := func(name string, b []byte) error {
		hdr := &tar.Header{Name: name, Mode: 0o444, Size: int64(len(b)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	writeBlob := func(desc ocispec.Descriptor) error {
		if written[desc.Digest] {
			return nil
		}
		r, err := p.Open(ctx, desc.Digest)
		if err != nil {
			return fmt.Errorf("save: blob %s: %w", desc.Digest, err)
		}
		defer r.Close()
		hdr := &tar.Header{Name: blobPath(desc.Digest), Mode: 0o444, Size: desc.Size, ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		n, err := io.Copy(tw, r)
		if err != nil {
			return fmt.Errorf("save: blob %s: %w", desc.Digest, err)
		}
		if n != desc.Size {
			return fmt.Errorf("save: blob %s: stored size %d, expected %d", desc.Digest, n, desc.Size)
		}
		written[desc.Digest] = true
		if progress != nil {
			progress(desc)
		}
		return ctx.Err()
	}

	for _, img := range images {
		cfg := img.Config
		cfg.MediaType = ocispec.MediaTypeImageConfig
		if err := writeBlob(cfg); err != nil {
			return err
		}
		entry := dockerManifestEntry{Config: blobPath(cfg.Digest), RepoTags: []string{}}
		mf := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{}}
		for _, l := range img.Layers {
			if err := writeBlob(l); err != nil {
				return err
			}
			entry.Layers = append(entry.Layers, blobPath(l.Digest))
			mf.Layers = append(mf.Layers, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
		}
		mb, err := json.Marshal(mf)
		if err != nil {
			return err
		}
		mdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(mb), Size: int64(len(mb))}
		if !written[mdesc.Digest] {
			if err := writeBytes(blobPath(mdesc.Digest), mb); err != nil {
				return err
			}
			written[mdesc.Digest] = true
		}
		if len(img.Names) == 0 {
			index.Manifests = append(index.Manifests, mdesc)
		}
		for _, n := range img.Names {
			tag := reference.Tag(n)
			if tag == "" {
				continue
			}
			d := mdesc
			d.Annotations = map[string]string{
				"io.containerd.image.name": n.String(),
				ocispec.AnnotationRefName:  tag,
			}
			index.Manifests = append(index.Manifests, d)
			entry.RepoTags = append(entry.RepoTags, reference.Familiar(n))
			repo := reference.FamiliarName(n)
			if repositories[repo] == nil {
				repositories[repo] = map[string]string{}
			}
			if len(img.Layers) > 0 {
				repositories[repo][tag] = img.Layers[len(img.Layers)-1].Digest.Encoded()
			}
		}
		dockerManifest = append(dockerManifest, entry)
	}
	for _, m := range []struct {
		name string
		v    any
	}{{"index.json", index}, {"manifest.json", dockerManifest}, {"repositories", repositories}} {
		b, err := json.Marshal(m.v)
		if err != nil {
			return err
		}
		if err := writeBytes(m.name, b); err != nil {
			return err
		}
	}
	if err := writeBytes("oci-layout", []byte(ociLayoutFile)); err != nil {
		return err
	}
	return tw.Close()
}

func blobPath(d digest.Digest) string {
	return "blobs/" + string(d.Algorithm()) + "/" + d.Encoded()
}
