package mediatype

import (
	"slices"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestManifestKinds(t *testing.T) {
	for _, mt := range Manifests() {
		if !IsManifest(mt) || IsIndex(mt) == IsImageManifest(mt) {
			t.Errorf("%s: manifest %v index %v image %v", mt, IsManifest(mt), IsIndex(mt), IsImageManifest(mt))
		}
	}
	for _, mt := range []string{DockerSchema1, DockerSchema1Signed, DockerConfig, ocispec.MediaTypeImageConfig, DockerLayerGzip, ""} {
		if IsManifest(mt) || slices.Contains(Manifests(), mt) {
			t.Errorf("%q taken for a manifest", mt)
		}
	}
}

func TestLayerKinds(t *testing.T) {
	for mt, kind := range map[string]string{
		ocispec.MediaTypeImageLayer: Tar, ocispec.MediaTypeImageLayerGzip: Gzip, ocispec.MediaTypeImageLayerZstd: Zstd,
		DockerLayer: Tar, DockerLayerGzip: Gzip, DockerForeignLayerGzip: Gzip,
		ociNonDistributableGzip: Gzip, ociNonDistributableZstd: Zstd, "application/octet-stream": Tar,
	} {
		if got := LayerKind(mt); got != kind {
			t.Errorf("LayerKind(%s) = %s, want %s", mt, got, kind)
		}
	}
	for _, kind := range []string{Tar, Gzip, Zstd} {
		for _, oci := range []bool{true, false} {
			if got := LayerKind(Layer(kind, oci)); got != kind {
				t.Errorf("Layer(%s, %v) = %s, of kind %s", kind, oci, Layer(kind, oci), got)
			}
		}
	}
	if Layer(Gzip, false) != DockerLayerGzip || Layer(Tar, false) != DockerLayer || Layer(Zstd, false) != ocispec.MediaTypeImageLayerZstd {
		t.Error("Docker schema 2 layer types")
	}
	if Layer("uncompressed", true) != ocispec.MediaTypeImageLayer {
		t.Error("an uncompressed blob is a plain tar")
	}
}
