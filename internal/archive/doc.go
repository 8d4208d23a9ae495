// Package archive owns hoist's layer tar handling: it is the only package
// that knows the whiteout conventions (".wh.NAME", ".wh..wh..opq") and
// overlayfs's markers for them (char device 0/0, trusted.overlay.opaque),
// and fuse-overlayfs's in an upper directory (".wh.NAME" of any type for a
// whiteout, ".wh..wh..opq" and user.fuseoverlayfs.opaque for an opaque
// directory, whose ".wh..opq" companion is dropped; user.fuseoverlayfs.*
// never travels in a tar): DiffOverlay and OverlayChanges read both.
//
// It provides:
//   - DecompressStream / CompressStream: gzip, zstd, xz, bzip2 sniffed by
//     magic bytes (klauspost/pgzip, klauspost/compress/zstd, ulikunitz/xz,
//     compress/bzip2);
//   - Apply: safe extraction of a layer tar onto a directory, either as a
//     standalone overlay layer directory (whiteouts become overlay
//     whiteouts) or onto a plain rootfs (whiteouts delete). Every path is
//     resolved inside the target as if it were "/" (fsutil.OpenInRoot:
//     openat2 RESOLVE_IN_ROOT, with filepath-securejoin as the fallback),
//     so a hostile tar cannot write outside it; ApplyAt does the same onto
//     an open directory handle (`cp` into a running container);
//   - DiffOverlay: the layer tar of an overlay upper directory;
//   - Tar: a whole tree as a tar (export, COPY sources); TarEntry: one
//     entry of an open directory, under another name (`cp` out);
//   - OverlayChanges: `docker diff` of an upper directory;
//   - DiffDirs / DirChanges: the same from two plain trees (a lower rootfs
//     and a changed copy of it), the fallback where overlayfs is missing;
//   - SyncFS: one syncfs(2) instead of an fsync per file.
//
// Tars are written with docker's header conventions (PAX format, numeric
// ids, empty user/group names, mtimes truncated to seconds, docker's mode
// type bits, lexical order), so the same tree always gives the same bytes.
//
// Apply does not fsync: the caller syncs the filesystem once (SyncFS).
// Nobody else should write into a directory while Apply works on it; if
// someone does (a running container), the result may be wrong but never
// outside the directory: everything is created with *at calls relative to
// directory handles, never by host path name.
//
// Every walk (Tar, TarEntry, DiffOverlay, OverlayChanges, DiffDirs) goes
// through directory descriptors, opening each child relative to its
// directory with O_NOFOLLOW, so a tree changing meanwhile (a running
// container swapping a directory for a symlink to a host path) cannot lead
// it out. A file is opened without blocking and checked to be the inode
// its stat described before it is read (a FIFO or device swapped in is
// never read); an entry replaced between its stat and its open is looked
// at again, a few times, before the walk fails. In
// overlay mode a layer is a standalone directory, so a hardlink to a file
// of a lower layer cannot be made (an error naming the entry), as with
// docker's overlay2 driver.
//
// Amplifying entries and the per-layer size cap. Apply writes no more file
// content than a tar declares in its headers, and every declared size is
// charged, before a byte is written, against one per-layer cap
// (ApplyOptions.MaxBytes, DefaultMaxBytes = 64 GiB of regular file
// content), the same for load, import, pull, build ADD/COPY and cp.
// Sparse entries are refused (RejectSparse: the GNU 'S' type and the PAX
// GNU.sparse.* formats 0.0, 0.1, 1.0), as docker refuses the type: Go's
// reader would expand their holes to zeros, so a 2 MB archive became a
// 2 GB layer. Storing them sparse was not chosen: the layer's tar (its
// diffID) would then have to be regenerated with the same sparse map. So
// the only amplification left is compression's, and it stops at the cap;
// 64 GiB was chosen as docker has no cap at all and real layers (CUDA,
// ML models) reach tens of GB, while a bomb still fails before it fills a
// disk of ordinary size. The cap counts declared content, so a layer of
// many empty files costs inodes, not bytes, as with docker.
//
// The package owns no on-disk layout: it writes only inside the
// directories its callers give it. Overlays whose upper directories are
// diffed must be mounted with redirect_dir=off and metacopy=off (the
// kernel defaults), since renamed directories and metadata-only copy-ups
// cannot be expressed in a layer tar; DiffOverlay refuses such an upper
// directory.
package archive
