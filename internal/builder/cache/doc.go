// Package cache is the build cache: step keys (Key), the records a step
// leaves (Record: its Outcome, i.e. history entry, diffID and chainID, and
// when it ran), the Store role the builder uses (Get, Probe for explaining
// a miss, Put), its implementations (Memory; Bolt in the metadata
// database), and `builder prune` / `system df` over it (Prune, DiskUsage).
// FromImages is the other source of cached steps: the history of
// --cache-from images.
// What goes into a key is the builder's business (package build).
//
// Records do not hold layers: a record whose layer was removed (rmi,
// prune) is a miss. Bolt.LayerRefs names the layers records use, for
// layers.Store.Release where cached layers must survive. Prune deletes the
// dangling records (whose layers no image or container uses) and the cache
// mounts, with All every record, then the layers only they used
// (images.Store.ReleaseLayers: their blobs are decided by images.BlobsInUse,
// as for rmi, so a blob another image's stored manifest names stays);
// KeepDuration keeps what is newer (records by their creation time, mounts
// by their mtime); KeepStorage deletes the oldest first until what the
// cache alone holds fits.
//
// # On-disk layout
//
//	metadata.db bucket buildcache:  records/<key> -> JSON {outcome: {history, diffID, chainID}, created}
//	                                parents/<state ID> -> "" (a step ran on this state)
//	                                instrs/<hash(state ID, instruction)> -> "" (this instruction ran on it)
//
// Prune and DiskUsage also count and delete the RUN --mount=type=cache
// directories <root>/build/cache/<id>/ (made by package build). The bucket
// is dropped when its last record goes.
package cache
