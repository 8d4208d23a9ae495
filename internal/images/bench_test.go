package images

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/layers"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// storeWith1000 makes a store with n images (two tags each) over one shared layer.
func storeWith(b *testing.B, n int) *Store {
	b.Helper()
	s := openStore(b)
	base := mkImage(b, s, t0, "", nil, [][]byte{layerTar(b, map[string]string{"f": "x"})}, "base:1")
	f, err := s.Get(context.Background(), base.ID.String())
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		created := t0.Add(time.Duration(i) * time.Second)
		cfg := Config{Created: &created, Architecture: "amd64", OS: "linux",
			Config: ContainerConfig{Labels: map[string]string{"n": fmt.Sprint(i)}, Env: []string{"PATH=/bin"}, Cmd: []string{"sh"}},
			RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{f.Layers[0].DiffID}}}
		raw, _ := json.Marshal(cfg)
		if _, err := s.Create(context.Background(), NewImage{Config: raw, Names: []string{fmt.Sprintf("repo%d/app:v%d", i%50, i), fmt.Sprintf("other%d:latest", i)}}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

var _ = layers.Bucket

// BenchmarkImages1000 measures the library calls behind `images`,
// `inspect` and `tag` with 1,000 images in the store (target: < 50 ms each
// for the whole command).
func BenchmarkImages1000(b *testing.B) {
	s := storeWith(b, 1000)
	ctx := context.Background()
	b.Run("List", func(b *testing.B) {
		for b.Loop() {
			l, err := s.List(ctx, ListOptions{})
			if err != nil || len(l) != 1001 {
				b.Fatal(len(l), err)
			}
		}
	})
	b.Run("Inspect", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Inspect(ctx, "repo7/app:v507"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Tag", func(b *testing.B) {
		for b.Loop() {
			if err := s.Tag(ctx, "repo7/app:v507", "new:tag"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ResolvePrefix", func(b *testing.B) {
		img, _ := s.Resolve(ctx, "other3:latest")
		for b.Loop() {
			if _, err := s.Resolve(ctx, img.ID.Encoded()[:10]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
