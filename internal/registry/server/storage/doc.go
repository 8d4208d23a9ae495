// Package storage is the persistent state of the hoist registry server: blobs
// (shared by every repository, stored once), per-repository links, manifests
// and tags, the referrers index, resumable upload sessions, search metadata,
// and the garbage collector that reclaims what nothing references.
//
// It knows nothing about HTTP; errors carry errdefs classes (NotFound,
// InvalidArgument, DataLoss, ...) which the server translates to
// distribution error codes in one table.
//
// A Driver keeps it (driver.go): the filesystem driver (Open: a root
// directory, the layout below) or the S3 driver (OpenS3: the same key
// layout in a bucket under rootdirectory, see s3driver.go). Store holds the
// rules (validation, links, tags, referrers, GC marking, session caps); the
// drivers only store bytes. A driver that is also a Redirector (S3 with
// redirect on) gives Store.BlobURL a presigned GET URL of a blob (valid
// 20 minutes), which the server answers blob GETs with (307), after the
// repository's link was checked.
//
// On S3: small files are single PUTs (atomic: last writer wins, never torn).
// An upload session's state is the object uploads/<id>/state (offset,
// hash state, and the pieces and tail holding the bytes received), so any
// replica continues any session. The bytes a request receives go to
// objects only that request writes: its piece, a multipart upload
// uploads/<id>/piece-<random> in parts of exactly chunksize, and a new
// tail object tail-<random> for the bytes short of a part; then the state
// is replaced by a conditional PUT (If-Match the ETag it read). Two
// requests racing on one session (two PATCHes on two replicas) thus
// cannot corrupt it: the first state write wins, the loser's fails, it
// removes what it wrote and answers ErrFailedPrecondition (the server's
// 416 with the session's range: the client asks for the offset and goes
// on). A piece named by a saved state is never written again but by the
// request that owns it, and only in parts beyond those recorded (dropped
// at completion), so a killed or slow request leaves the session as its
// last checkpoint says. Commit verifies the digest (the hash state is of
// exactly the recorded bytes), completes the open pieces and assembles
// pieces and tail server-side into blobs/<alg>/<hex> (CopyObject, or a
// multipart upload of UploadPartCopy ranges and the tail): the blob
// appears whole or not at all. The GC lock is a no-op on S3: the grace
// period alone protects pushes in flight, with blob uses recorded as
// blobtouch/<alg>/<hex> objects (a blob's last use is the later of its
// and its marker's LastModified). Abandoned sessions are purged with
// their multipart uploads after upload_max_age; multipart uploads no
// session names (lost races, crashed monolithic PUTs and commits) are
// aborted then too. The race protection needs a server that honours
// If-Match on PutObject (AWS S3, MinIO, versitygw); one that ignores it
// leaves races between replicas undetected (last state written wins;
// the commit's digest check still refuses bytes other than the client's).
//
// On-disk layout (under the registry root):
//
//	blobs/<alg>/<hex>                                   blob bytes (owned by content.Local; sha256 or sha512);
//	                                                    manifests are blobs too, stored byte for byte
//	ingest/<random>                                     content.Local's in-progress writes (monolithic uploads)
//	uploads/<id>/data                                   bytes received so far by a chunked/streamed upload session
//	uploads/<id>/state                                  JSON: repository, digest algorithm, offset, serialized
//	                                                    hash state, start time, owner (the client, for caps);
//	                                                    written atomically after each chunk
//	repositories/<name>/_layers/<alg>/<hex>             empty file: the blob is part of repository <name>
//	repositories/<name>/_manifests/revisions/<alg>/<hex> the manifest is in <name>; file content = its media type
//	repositories/<name>/_manifests/tags/<tag>           file content = the digest the tag points at
//	repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>
//	                                                    a manifest whose subject is <alg>:<hex>; file content = the
//	                                                    referrer's descriptor JSON (mediaType, size, digest,
//	                                                    artifactType, annotations)
//	repositories/<name>/_meta/description               the org.opencontainers.image.description label of the
//	                                                    most recently tagged image (for search)
//	repositories/<name>/_meta/stars/<user>              empty file per user who starred the repository
//	gc.lock                                             flock: shared by manifest PUTs, exclusive by each GC deletion
//
// <name> is a validated repository name (lowercase path components), so it
// never contains "..", and never a component starting with "_" (the
// grammar forbids it), which keeps the _layers/_manifests/... directories
// apart from nested repository names.
//
// <id> is 32 random hex digits (the session id in upload URLs). A long chunk
// saves its state every 16 MiB, so a crash loses at most that much of it.
//
// An upload session holds no file descriptor between requests: every
// operation on it opens uploads/<id>/data, takes an exclusive flock on it
// (which serialises requests on one session, across processes too), reloads
// the state and hash, works, and closes. A purge (PurgeUploads, expiry)
// skips a session whose flock is held. The only per-session memory is an
// index entry (repository, owner) used to enforce the caps of
// SetUploadLimits: at most PerRepository open sessions per repository and
// PerOwner per client (errdefs.ErrUnavailable beyond, after expired and
// vanished sessions were dropped), and a session idle for longer than
// MaxAge is expired (not found, and removed).
//
// Every file is written atomically: to a temporary name in the same directory
// and renamed into place (blobs go through content.Local's ingest, fsync,
// verify, rename). An upload session's data is hashed while it is received;
// its hash state is saved after every chunk so that a restarted server resumes
// the session. Completing a session verifies the digest, fsyncs the data and
// renames it into blobs/ (no copy).
//
// Garbage collection marks every manifest reachable from a tag (or, without
// DeleteUntagged, every manifest revision), their configs, layers, index
// children and referrers; it deletes unmarked blobs whose modification time is
// older than the grace period. Blobs are touched (mtime set to now) when
// uploaded, mounted, found by HEAD or referenced by a manifest PUT, so a
// push in flight never loses a blob it has just checked (the server's HEAD
// refreshes a blob older than a tenth of the grace, at most a minute, so
// the client keeps at least 90% of the grace); a grace of 0 protects nothing; gc.lock closes the
// remaining race between a manifest PUT's existence check and a deletion.
package storage
