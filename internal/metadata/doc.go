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
// A lease keeps in-progress work (a layer unpacked but not yet used by an
// image) from being removed by another process's prune. A lease is live while
// its process runs; leases of dead processes are ignored and removed by
// PruneLeases (called by `system check --repair` and by prune). A rollback
// drops its own claims (DropResources) and, in the same transaction, deletes
// only what no other live lease or record holds (images.BlobsInUse).
package metadata
