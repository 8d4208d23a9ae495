// Package distribution pulls and pushes whole images between hoist's image
// store (package images) and registries (package client): pull resolves a
// reference, copies the platform's manifest and config into the content
// store, then streams the layers in parallel (bounded): each layer's bytes
// are hashed and written to content and, in the same pass, decompressed,
// hashed for the diffID and unpacked into a temporary layer directory
// (images.Store.StageLayer), so a layer unpacks while it downloads and
// layers unpack side by side; the staged layers are recorded in order, each
// on top of the one below (images.Store.CreateLayers), and the image and its tag are recorded last;
// push uploads an image's blobs and manifest, reusing the stored
// distribution manifest (so an unchanged pulled image keeps its digest) or
// building a Docker schema2 manifest whose layers are compressed on the fly
// (gzip, or zstd with an OCI manifest). It owns no files: every write goes
// through the image store (its Blobs, layers and records), under a lease.
package distribution
