// Package imagearchive reads and writes image archives: the tar streams of
// `save`/`load` and the OCI image layout.
//
// Save writes ONE tar that holds both layouts over the same blobs, as docker
// 25+ does, so that docker (20.10 and later), podman and skopeo all load it:
//
//	blobs/sha256/<hex>   layers, configs and OCI manifests, each written once
//	oci-layout           {"imageLayoutVersion":"1.0.0"}
//	index.json           one entry per tag (io.containerd.image.name and
//	                     org.opencontainers.image.ref.name annotations), or
//	                     one unnamed entry for an untagged image
//	manifest.json        docker's list of {Config, RepoTags, Layers} paths
//	repositories         docker's legacy {"repo":{"tag":"<top layer>"}} map
//
// Layers are written as they are stored: an uncompressed layer as an
// uncompressed tar (its digest is its diffID); a layer kept compressed (as
// pulled) as that compressed blob, which docker and podman decompress on
// load. Members are streamed from the content store: no temporary copies.
//
// Load reads a tar stream once, front to back. Every regular member is
// streamed into the content store (digest computed while writing); small JSON
// members (manifest.json, index.json, repositories, oci-layout) are kept in
// memory up to a size limit. With Options.Stage, a member that looks like a
// layer (tar, gzip or zstd by its first bytes) is also fed, through a bounded
// queue, to a layer unpacker running beside the blob's write: the archive is
// read once and a layer's extraction overlaps its hashing and storing
// (Loaded.Staged; at most two such unpackers at once). Symlinked members (docker before v25 links
// identical layers) are resolved inside the archive's own namespace only. At
// the end the archive's manifests are resolved to images: member paths map
// to blob digests, never to host files, so a manifest naming `../../x` only
// fails to find a member. Rollback owns only what it created: the blobs this
// load wrote that were not already stored (a member not named by its digest,
// such as docker's <id>/layer.tar, is hashed first and dropped when its blob
// exists) and that no loaded image uses (all of them after a failure) go to
// Options.Discard, which removes only those that no record or other live
// lease holds (images.Store.DiscardBlobs). Accepted: docker save before and after v25, podman save
// (docker-archive and oci-archive), skopeo docker-archive:/oci-archive:, and
// an OCI image layout directory (LoadDir).
package imagearchive
