// Package images owns the image records of a hoist root: image ID (the
// digest of the config blob) -> record, names (tags) -> image ID, repo
// digests, parents, dangling images, prune and disk usage, and the image
// config helpers (parsing, --change instructions, inspect and history
// views).
//
// On-disk layout (in <root>/metadata.db, see package metadata):
//
//	bucket "images": <image ID "sha256:hex"> -> JSON Record
//	bucket "names":  <normalised reference "docker.io/library/busybox:latest"> -> image ID
//
// The config blob and distribution manifests live in the content store
// (<root>/content), the layers in the layer store (<root>/layers). A record
// holds everything `images` needs (tags aside), so listing never reads a
// config blob: top chainID, total size, created time, parent, labels, repo
// digests, manifest descriptors, last tag time.
//
// Every flow writes the config blob and layers first and the record and its
// tags last, in one metadata transaction, so a crash never leaves a tag
// pointing at a half image. Deleting is two-phase: the transaction that
// deletes the last image using a layer also deletes the layer record
// (package layers, Release) and puts its directory and blobs, and the
// image's config and manifest blobs, in the metadata trash; the files are
// removed after the commit (layers.EmptyTrash), so a kill at any point
// leaves no record naming a missing file.
//
// Rollback owns only what it created. A blob may be deleted only while no
// image record (config, manifests and the blobs they name), no layer record
// and no live lease holds it: one rule, BlobsInUse, decided inside a
// metadata transaction, used by rmi, prune, `system check --repair` and
// every rollback. What a stored manifest (or index) names is read when it
// is recorded (Record.ManifestBlobs): so the gzip blob push made of a layer
// stored uncompressed, which only its manifest names, stays while the image
// does (a later push reuses it) and goes with the last image naming it.
// The blobs of a layer that rmi, prune or builder prune frees are decided
// by the same rule (another image's manifest may name one): every removal
// of layers goes through ReleaseLayers, never layers.Store.Release alone. Prune and repair also
// trash the blobs that only a dead process's lease held (pruneLeases): what
// a killed load, pull or push wrote goes at once, not after an age. Operations claim a
// blob in their lease before they rely on it (before writing it, or on
// finding it stored), so a concurrent load or pull of the same content is
// seen. A failed operation gives back only the blobs it created
// (DiscardBlobs: drop them from its lease, trash the unused ones, empty the
// trash); what it found already stored it never removes. Audited failure
// paths: load (both layouts) rolls back through DiscardBlobs; import, pull,
// build, commit and tag remove nothing on failure but their own unpack
// directories in layers/tmp: their new blobs and layers stay, unreferenced
// once their lease ends, for prune and `system check --repair`.
//
// Leftovers (Leftovers, PruneLeftovers) are what interrupted work left:
// blob writes in content/ingest and layer directories without a record.
// They count in `system df` (Build Cache row) and are removed by `system
// prune` and `system check --repair` as soon as no live process owns them
// (the writer's flock and pid, package content; never by age alone).
//
// Users that rely on an image before a record of their own names it (a
// build on its base image, a container being created) resolve it with
// Hold: the lookup and the lease of its top layer and config blob happen in
// one transaction, so no rmi or prune removes them meanwhile (the image's
// record and tags may still go; its content stays until the lease ends).
//
// Lookup (Resolve) accepts a name (normalised, ":latest" added), a
// name@digest (repo digest), a full ID with or without "sha256:", or a
// unique ID prefix; an unknown image is errdefs.NotFound "No such image: X".
//
// Containers (a later package) plug in through the Containers interface, so
// rmi and prune see which images are in use.
//
// Save and Load (archive.go) run save/load against the store (resolution of
// save's arguments; load's lease, blob claims, layer staging and records),
// over the format package imagearchive.
//
// The store hands out none of its parts (database, content store, layer
// store): storage.go gives its users what they need of them, and no more.
// Leases (WithLease) and blob claims (ClaimBlobs); Blobs, the content as a
// transfer reads and writes it (no deletion: blobs go only through rmi,
// prune and DiscardBlobs); the layers of pull (StageLayer, StageLayerBlob,
// CreateLayers, HasLayer), push (LayerChain), containers (DiffDirs), commit
// (CreateLayerFromTar) and builds (Snapshotter); EmptyTrash after a
// ReleaseLayers. The store's transactions stay here and in package layers,
// except the build cache's prune, which decides in the same transaction
// (images.Store.ReleaseLayers takes it).
package images
