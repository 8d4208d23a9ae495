package images

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/hoistproject/hoist/internal/layers"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImportOptions are `import` options.
type ImportOptions struct {
	// Name is the REPO[:TAG] to tag the image with ("" leaves it dangling).
	Name string
	// Changes are Dockerfile instructions applied to the config (--change).
	Changes []string
	// Message is the commit message; default "Imported from <Source>".
	Message string
	// Source names where the tar came from ("-" or a URL).
	Source string
	// MaxBytes is the decompression-bomb limit (0: archive's default).
	MaxBytes int64
}

// Import makes a one-layer image from a rootfs tarball (plain, gzip, zstd,
// xz or bzip2, sniffed) as `docker import` does. The name is set last.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (Image, error) {
	if opts.Name != "" {
		if _, err := NormalizeName(opts.Name); err != nil {
			return Image{}, err
		}
	}
	var cc ContainerConfig
	if err := ApplyChanges(&cc, opts.Changes); err != nil {
		return Image{}, err
	}
	ctx, done, err := s.db.WithLease(ctx)
	if err != nil {
		return Image{}, err
	}
	defer done()
	l, err := s.ls.Create(ctx, "", r, layers.TarOptions{MaxBytes: opts.MaxBytes})
	if err != nil {
		return Image{}, fmt.Errorf("importing: %w", err)
	}
	msg := opts.Message
	if msg == "" {
		src := opts.Source
		if src == "" {
			src = "-"
		}
		msg = "Imported from " + src
	}
	created := time.Now().UTC()
	cfg := Config{
		Created:      &created,
		Architecture: runtime.GOARCH,
		OS:           runtime.GOOS,
		Config:       cc,
		Comment:      msg,
		RootFS:       ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{l.DiffID}},
		History:      []ocispec.History{{Created: &created, Comment: msg}},
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return Image{}, err
	}
	n := NewImage{Config: raw}
	if opts.Name != "" {
		n.Names = []string{opts.Name}
	}
	return s.Create(ctx, n)
}
