// Package snapshot prepares the root filesystems build steps work in: a
// Snapshot is an overlay mount of a layer chain (lowerdirs from the layer
// store) with a new upper dir; Commit moves the upper dir into the layer
// store as a new layer (layers.Store.CreateFromDir, its tar written once
// by archive.DiffOverlay; streamed through layers.Store.Create when the
// two are on different filesystems) and Release unmounts and removes it.
// View mounts a chain read-only (COPY --from, RUN --mount from=, --output),
// Squash merges the layers between two chains into one (--squash, by
// comparing the two trees as docker does), and CleanupStale removes what a
// killed build left. A chain deeper than overlayfs can stack (MaxLayers)
// is refused before any mount.
//
// # On-disk layout (under Overlay.Dir, <root>/build/tmp)
//
//	<pid>/snap-*/         one snapshot or view: upper/ work/ rootfs/ (the mount point), empty/ for scratch
//
// <pid> is the building process; CleanupStale removes the directories of
// dead processes (after unmounting what is still mounted below them, never
// removing through a mount).
package snapshot
