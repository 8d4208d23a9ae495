// Package mediatype is hoist's one table of image media types: Docker's
// (OCI's are image-spec's ocispec constants) and what each kind means, for
// every package that reads or writes manifests, indexes and layers (the
// image store, save/load, the registry client and server).
//
//   - manifests: IsIndex (an OCI index or a Docker manifest list),
//     IsImageManifest, IsManifest (either), Manifests (the Accept list, in
//     order of preference); Docker schema 1 is named only to be refused;
//   - layers: LayerKind ("tar", "gzip" or "zstd") of a layer media type,
//     foreign and non-distributable layers included, and Layer, the media
//     type of a kind, OCI's or Docker schema 2's (which has no zstd).
package mediatype
