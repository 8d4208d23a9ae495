// Package distribution pulls and pushes whole images between hoist's image
// store (package images) and registries (package client): pull resolves a
// reference, copies the platform's manifest, config and layers into the
// content store, unpacks each layer as soon as it and the layers below it
// are there (overlapping downloads), and records the image and its tag last;
// push uploads an image's blobs and manifest, reusing the stored
// distribution manifest (so an unchanged pulled image keeps its digest) or
// building a Docker schema2 manifest whose layers are compressed on the fly
// (gzip, or zstd with an OCI manifest). It owns no files: every write goes
// through the content, layer and image stores, under a metadata lease.
package distribution
