// Package content is the content-addressed blob store: immutable bytes named
// by their digest. It knows digests only; names (tags, repositories) live in
// package images.
//
// Roles are small interfaces, composed: Provider reads, Ingester writes,
// Manager lists and deletes. Functions take the narrowest role they need.
//
// On-disk layout of Local (under its root directory):
//
//	blobs/<algorithm>/<hex>   immutable blob content (sha256 or sha512)
//	ingest/<pid>-<random>     in-progress writes; never visible as blobs
//
// A write goes to ingest/, is hashed while written, fsynced, checked against
// the expected digest and size, renamed into blobs/ and the directory is
// fsynced. A blob whose bytes do not hash to its name is never visible.
// Concurrent writers of the same digest are safe: the rename is atomic and the
// loser's ingest file is removed. A writer holds an exclusive flock on its
// ingest file until it commits or closes, and the file's name carries its
// pid: Ingests tells a write in progress (lock held, or the pid alive for
// the instant before the lock) from one left by a crash (lock free, pid
// gone), and PruneIngests removes only the latter, at once, whatever its
// age. Age decides only for a pid that may have been reused and for files
// named without a pid.
package content
