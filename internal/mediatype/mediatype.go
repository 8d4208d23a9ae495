package mediatype

import (
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker's media types.
const (
	DockerManifestList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	DockerManifest         = "application/vnd.docker.distribution.manifest.v2+json"
	DockerSchema1          = "application/vnd.docker.distribution.manifest.v1+json"
	DockerSchema1Signed    = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	DockerConfig           = "application/vnd.docker.container.image.v1+json"
	DockerLayer            = "application/vnd.docker.image.rootfs.diff.tar"
	DockerLayerGzip        = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	DockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// OCI's non-distributable layers: deprecated by image-spec (nothing writes
// them any more) but still found in images, so still read.
const (
	ociNonDistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
	ociNonDistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
)

// Manifests are the manifest and index media types hoist accepts, in order
// of preference (a registry client's Accept header).
func Manifests() []string {
	return []string{ocispec.MediaTypeImageIndex, DockerManifestList, ocispec.MediaTypeImageManifest, DockerManifest}
}

// IsIndex reports whether mt is an OCI index or a Docker manifest list.
func IsIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == DockerManifestList
}

// IsImageManifest reports whether mt is an OCI or Docker schema 2 image
// manifest.
func IsImageManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == DockerManifest
}

// IsManifest reports whether mt is an index or an image manifest.
func IsManifest(mt string) bool { return IsIndex(mt) || IsImageManifest(mt) }

// The kinds of layer blob.
const (
	Tar  = "tar"
	Gzip = "gzip"
	Zstd = "zstd"
)

// LayerKind is the kind of layer blob of media type mt: Gzip, Zstd, or Tar
// (for a plain tar and for any type it does not know).
func LayerKind(mt string) string {
	switch mt {
	case ocispec.MediaTypeImageLayerGzip, DockerLayerGzip, DockerForeignLayerGzip, ociNonDistributableGzip:
		return Gzip
	case ocispec.MediaTypeImageLayerZstd, ociNonDistributableZstd:
		return Zstd
	}
	return Tar
}

// Layer is the media type of a layer blob of kind (Tar, Gzip or Zstd; a
// compression's name, anything else counting as Tar): OCI's with oci, else
// Docker schema 2's, which has no zstd (OCI's then).
func Layer(kind string, oci bool) string {
	switch {
	case kind == Zstd:
		return ocispec.MediaTypeImageLayerZstd
	case kind == Gzip && oci:
		return ocispec.MediaTypeImageLayerGzip
	case kind == Gzip:
		return DockerLayerGzip
	case oci:
		return ocispec.MediaTypeImageLayer
	}
	return DockerLayer
}
