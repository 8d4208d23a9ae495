// Package copier writes what COPY and ADD produce into a root filesystem,
// with docker's rules: a directory source's contents go into the
// destination, a file goes to it (or into it when it ends in "/" or is a
// directory), missing parents are created owned as the copy, --chown names
// are resolved in the image's /etc/passwd and /etc/group, --chmod
// replaces modes, hardlinked sources stay hardlinked, local archives are
// extracted by ADD (through an Unpacker; ArchiveUnpacker is the one over
// internal/archive), URLs are downloaded (with --checksum verified), COPY
// --parents keeps source paths.
//
// Sources are the build context (a buildcontext.Selection) or a Tree (a
// stage's or image's rootfs, for --from and RUN --mount). Nothing is
// written outside the root: every destination path is resolved inside it
// (securejoin); a symlink to a missing directory on the way has that
// directory created inside the root, as docker does
// (fsutil.MkdirAllInRoot). When the destination does not exist in the image and the
// root is an overlay mount, directories are written straight into its
// upper dir (Copier.Upper): overlayfs' write path costs several times a
// plain write. There, a file whose content and metadata equal the same
// path of an earlier layer directory of the same COPY (Copier.Reuse, with
// that layer's Index) is hardlinked from it instead of copied; a linked
// file is never written through (reuse.go says why that is safe).
//
// It owns no on-disk state.
package copier
