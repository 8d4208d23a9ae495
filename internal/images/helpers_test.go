package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// layerTar builds an uncompressed layer tar holding files (path -> content).
func layerTar(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg, ModTime: time.Unix(1, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	return b.Bytes()
}

func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mkImage records an image made of the given layer tars (stored as blobs
// first, as load and pull do), with an optional parent, labels and names.
func mkImage(t testing.TB, s *Store, created time.Time, parent digest.Digest, labels map[string]string, layerTars [][]byte, names ...string) Image {
	t.Helper()
	ctx := context.Background()
	var blobs []ocispec.Descriptor
	var diffIDs []digest.Digest
	for _, lt := range layerTars {
		info, err := content.WriteBlob(ctx, s.cs, bytes.NewReader(lt), int64(len(lt)), digest.FromBytes(lt))
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: info.Digest, Size: info.Size})
		diffIDs = append(diffIDs, info.Digest)
	}
	cfg := Config{Created: &created, Architecture: "amd64", OS: "linux",
		Config: ContainerConfig{Labels: labels, Cmd: []string{"sh"}},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}}
	for range layerTars {
		cfg.History = append(cfg.History, ocispec.History{Created: &created, CreatedBy: "/bin/sh -c #(nop) ADD file"})
	}
	raw, _ := json.Marshal(cfg)
	img, err := s.CreateFromBlobs(ctx, NewImage{Config: raw, Names: names, Parent: parent}, blobs)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
