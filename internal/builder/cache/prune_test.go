package cache

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// oneFileTar is a layer tar holding one file.
func oneFileTar(t *testing.T, name, body string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	tw.Close()
	return b.Bytes()
}

// storeBlob writes b to the content store and describes it.
func storeBlob(t *testing.T, st *images.Store, mt string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if _, err := content.WriteBlob(context.Background(), st.Blobs(), bytes.NewReader(b), d.Size, d.Digest); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPruneKeepsBlobsManifestsName: a layer that only the build cache (or
// nothing) reaches can have for blob the gzip blob another image's stored
// manifest names (the blob push made of that image's uncompressed layer,
// which a pull of the same content on another base then used). Prune
// removes the layer but keeps that blob (images.BlobsInUse decides, as for
// rmi): system check stays clean and the image's manifest stays readable.
func TestPruneKeepsBlobsManifestsName(t *testing.T) {
	ctx := context.Background()
	st, err := images.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	layerTar := oneFileTar(t, "f", "shared layer\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(layerTar)
	zw.Close()
	u := storeBlob(t, st, ocispec.MediaTypeImageLayer, layerTar)
	g := storeBlob(t, st, ocispec.MediaTypeImageLayerGzip, gz.Bytes())

	// The image: its layer stored uncompressed, its pushed manifest naming g.
	cfg, _ := json.Marshal(images.Config{OS: "linux", Architecture: "amd64", RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{u.Digest}}})
	img, err := st.CreateFromBlobs(ctx, images.NewImage{Config: cfg, Names: []string{"img:1"}}, []ocispec.Descriptor{u})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: img.ID}, Layers: []ocispec.Descriptor{g}})
	m := storeBlob(t, st, ocispec.MediaTypeImageManifest, raw)
	if err := st.AddRepoDigest(ctx, img.ID, "example.com/img@"+m.Digest.String(), &m); err != nil {
		t.Fatal(err)
	}

	// The same layer content on another base, stored as g, reached by no image.
	base := storeBlob(t, st, ocispec.MediaTypeImageLayer, oneFileTar(t, "base", "another base\n"))
	if _, err := st.CreateLayers(ctx, []ocispec.Descriptor{base, g}, []digest.Digest{base.Digest, u.Digest}, nil); err != nil {
		t.Fatal(err)
	}

	rep, err := Prune(ctx, st, filepath.Join(st.Root(), "build"), PruneOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.LayersRemoved != 2 {
		t.Fatalf("prune removed %d layers, want the 2 no image uses", rep.LayersRemoved)
	}
	if ok, _ := content.Exists(ctx, st.Blobs(), g.Digest); !ok {
		t.Fatal("prune deleted the gzip blob the image's manifest names")
	}
	if ok, _ := content.Exists(ctx, st.Blobs(), base.Digest); ok {
		t.Fatal("prune kept the blob of a layer nothing uses")
	}
	check, err := st.Check(ctx, false)
	if err != nil || len(check.Problems) != 0 || len(check.Leftovers) != 0 {
		t.Fatalf("check after prune: %+v %v", check, err)
	}
}
