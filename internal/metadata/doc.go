// Package metadata is a tiny wrapper around one bbolt database file,
// <root>/metadata.db, shared by every hoist process working on a root.
//
// The file is opened per operation: View and Update open it, take bbolt's
// file lock (shared for View, exclusive for Update) waiting at most until the
// context is done or the lock timeout passes, run one transaction and close
// the file again. So several hoist processes can work on one root at once, a
// long command (a pull, a build) never holds the lock, and in-process
// goroutines are serialised by the same flock (each open is its own file
// description).
//
// Buckets are owned by the packages that use them (images, layers;
// containers and the build cache later). This package owns only the leases
// bucket:
//
//	leases/<lease id>          JSON {"pid", "created"}: a process's claim
//	leases/<lease id>/res/<r>  resources it protects ("layer/<chainID>", "blob/<digest>")
//
// # Concurrent use of one root: who holds what
//
// Deleters (rmi, image/system/builder prune, rollbacks) decide inside one
// Update transaction from the records and the live leases (layers.Release,
// images.BlobsInUse), then delete files after the commit (the trash, see
// trash.go). So every process that relies on content before a record of its
// own names it must have it in its lease, added in the same transaction that
// finds it (or before it writes it); once added, no deleter takes it:
//
//   - pull: manifest and config digests are claimed before they are looked
//     for in the store (client.PullOptions.Claim), layer blobs once the
//     manifest is known, existing layers when the chain is checked;
//   - load: every blob before it is written or found stored;
//   - build: its base images (images.Store.Hold: the image's top layer and
//     config), its cache hits' layers (cache.Bolt.Get) and the blobs and
//     layers it creates (layers: a blob is claimed before its commit);
//   - run/create: the image (images.Store.Hold) from its lookup until the
//     container's record names it (containers are layer users through
//     their records);
//   - commit, import, tag: their new blobs and layers.
//
// Containers are not rows here: a container's own file lock (package
// container) orders create, start, rm and container prune.
//
// A lease keeps in-progress work (a layer unpacked but not yet used by an
// image) from being removed by another process's prune. A lease is live while
// its process runs; leases of dead processes are ignored and removed by
// PruneLeases (called by `system check --repair` and by prune), which
// returns what they held: the caller trashes the blobs among them that no
// record or live lease holds (images.BlobsInUse), so what a killed process
// wrote goes as soon as it is known dead, not after an age. A rollback
// drops its own claims (DropResources) and, in the same transaction, deletes
// only what no other live lease or record holds (images.BlobsInUse).
package metadata
