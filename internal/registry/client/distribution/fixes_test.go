package distribution

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/images"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestPushMountsLocalLayer: an image imported locally (its layer stored
// uncompressed) pushed to one repository and then to another mounts the
// layer from the first (it used to upload it again: mount candidates were
// keyed by the uncompressed blob).
func TestPushMountsLocalLayer(t *testing.T) {
	host := hoistRegistry(t)
	c := newClient()
	defer c.Close()
	src := openStore(t)
	if _, err := src.Import(ctx, bytes.NewReader(layerTar(t, "a.txt", strings.Repeat("local ", 5000))), images.ImportOptions{Name: host + "/team/a:v1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, c, src, name(t, host+"/team/a:v1"), PushOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := src.Tag(ctx, host+"/team/a:v1", host+"/team/b:v1"); err != nil {
		t.Fatal(err)
	}
	var ev events
	if _, err := Push(ctx, c, src, name(t, host+"/team/b:v1"), PushOptions{Progress: ev.add}, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(ev.list, "\n"), ": Mounted from team/a") {
		t.Fatalf("second push did not mount the layer: %v", ev.list)
	}
}

// TestPushZstdAfterGzip: --compression zstd after a gzip push of the same
// image pushes zstd layers (it reused the stored gzip manifest).
func TestPushZstdAfterGzip(t *testing.T) {
	host := hoistRegistry(t)
	c := newClient()
	defer c.Close()
	src := openStore(t)
	if _, err := src.Import(ctx, bytes.NewReader(layerTar(t, "z.txt", strings.Repeat("zz ", 5000))), images.ImportOptions{Name: host + "/team/z:v1"}); err != nil {
		t.Fatal(err)
	}
	gz, err := Push(ctx, c, src, name(t, host+"/team/z:v1"), PushOptions{Compression: "gzip"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	zs, err := Push(ctx, c, src, name(t, host+"/team/z:v1"), PushOptions{Compression: "zstd"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := c.Repository(name(t, host+"/team/z")).GetManifest(ctx, zs[0].Digest.String())
	if err != nil || zs[0].Digest == gz[0].Digest || !strings.Contains(string(raw), ocispec.MediaTypeImageLayerZstd) {
		t.Fatalf("zstd push after gzip pushed %s (gzip was %s): %s %v", zs[0].Digest, gz[0].Digest, raw, err)
	}
}
