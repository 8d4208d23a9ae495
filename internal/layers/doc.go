// Package layers is the unpacked layer store: every layer of every image is
// unpacked once, into a directory per chainID, and shared by all images (and
// containers) whose layer stack contains it. The directories are overlay
// lowerdirs; whiteouts are stored in overlay form (char device 0/0,
// trusted.overlay.opaque=y), produced by archive.Apply with Overlay:true.
//
// On-disk layout under the hoist root:
//
//	layers/<chainID hex>/diff     the unpacked layer (an overlay lowerdir);
//	                              absent until first use for a layer
//	                              recorded by Create with Deferred (commit)
//	layers/tmp/<pid>-<random>/    a layer being unpacked by process pid
//	                              (layers/tmp carries FS_TOPDIR_FL; see fsutil.MarkTopDir)
//	layers/tmp/del-<random>/      a removed layer being deleted
//	content/blobs/...             the layer blob (package content)
//	metadata.db, bucket "layers": <chainID> -> JSON Layer record
//
// A layer record holds chainID, diffID, parent chainID, the unpacked size and
// the digest, size and media type of the stored layer blob.
//
// Keeping the blob. Every layer keeps its blob in the content store: the
// compressed blob as received when it came from a registry or an archive
// (KeepCompressed), else the uncompressed tar, so that save and push
// reproduce the exact bytes (diffID, and the compressed digest of a pulled
// image) with no regeneration logic at all. The alternative, tar-split
// metadata, costs about 1% of the layer but needs a byte-exact tar
// regenerator. Measured by TestMeasureBlobCost (HOIST_MEASURE=1) on the
// 2-core CI-class machine, ext4, with a 221 MB layer tar (13,293 files,
// 210 MB of file content from /usr/share and /usr/lib; gzip 107 MB):
//
//	                                   disk     time (median of 3 runs)
//	tar:  unpack + diffID, no blob     244 MB   6.5 s
//	tar:  unpack + diffID + tar blob   455 MB   6.3 s
//	gzip: unpack + diffID, no blob     244 MB   7.8 s
//	gzip: unpack + diffID + gz blob    346 MB   6.4 s
//
// The disk cost is one copy of the blob (+86% for an uncompressed layer,
// +42% for a gzip one). The time cost was lost in the noise: the blob is
// written sequentially while the stream is unpacked, and the run is
// dominated by syncfs and by the machine's load (other processes shared the
// 2 cores; single runs ranged 0.9-8 s). We accept the disk cost: it is the
// simplest correct approach, and it makes save and push plain blob copies.
//
// Creating a layer is crash-safe: the blob is streamed into content while
// the decompressed stream is teed into archive.Apply (into layers/tmp) and
// hashed for the diffID; the directory is synced (syncfs), then, inside one
// metadata transaction, renamed to layers/<chainID> and its record written.
// So a record exists only for a complete directory; leftovers in layers/tmp
// belong to dead processes and are removed by Cleanup (system check --repair,
// and every Store open removes those of dead processes). A layers/<chainID>
// without a record (a kill between the rename and the commit) has no live
// owner, since both happen in one transaction: OrphansTx lists them (`system
// df` counts them as build cache) and RemoveOrphans, under the lock,
// deletes them (`system prune`, `system check --repair`).
//
// Constructors, by where a layer comes from: Create, a tar stream that
// becomes the layer's own blob (stored as the uncompressed tar: import,
// build, squash; Deferred: commit, see below); Stage, a tar stream whose
// bytes as read are the blob (pull, load); CreateFromDir, a directory
// diff (an overlay upper dir, moved into place).
//
// Staging: pull and load unpack a layer while its blob arrives (Stage,
// or StageBlob from a stored blob) into layers/tmp, before the layers
// below it are recorded (pull) or before manifest.json says which image it
// belongs to (load): an overlay layer directory does not depend on its
// parent. Pull stores the bytes as read (StageOptions.Store) and checks
// the expected diffID as it goes; load stores the blob itself, in another
// goroutine. Both sync the directory as soon as it is unpacked
// (Staged.Sync). CreateChain then checks each staged layer's diffID
// against the image config and records it exactly as above, unpacking the
// layers not staged from their stored blobs (one syncfs covers them all);
// what no image used is removed (Staged.Discard).
//
// Unpacked on first use. Create with Deferred (container commit) stores only the
// layer tar, as the blob (fsynced like every blob), and records the layer
// with an empty layers/<chainID>/: committing a container that changed
// 10,000 files then writes one file instead of 10,000 (creating the inodes
// and the syncfs were most of the time of commit). Materialize, called by
// LowerDirs and by every user of layer directories before it mounts them,
// unpacks the missing diff dirs from their blobs into layers/tmp, syncs,
// and renames them into place (RENAME_NOREPLACE; a concurrent unpacker's
// directory wins) inside a metadata transaction that checks the record
// still exists. A lost diff dir is restored the same way, so a layer needs
// only its record and its blob.
//
// Every new blob (Create, Stage with Store, CreateFromDir) is claimed in the
// caller's lease before it is committed into the content store, so a
// concurrent deletion of an equal blob never removes the one a new layer
// names.
//
// Reference counting is computed, not counted: a layer is in use while an
// image record (or, later, a container) reaches it through its parent chain,
// or a live lease (metadata.WithLease) holds it. Users report the chainIDs
// they use (interface Users); Release deletes the records of the unused ones
// and puts their directories and blobs in the metadata trash, in the
// caller's transaction; EmptyTrash deletes the files afterwards, under the
// lock, unless a new record claimed them meanwhile. So a kill at any moment
// never leaves a record naming a deleted directory or blob.
package layers
