// Package snapshot stacks layers into root filesystems. Mount is the one
// place where a stack of layer directories becomes an overlay mount, for
// build steps and containers alike (package container mounts its rootfs,
// its stopped views and diff's lower view through it), so a stack deeper
// than overlayfs can stack (MaxLayers) is refused there, before any mount,
// whoever asks.
//
// Overlay is the snapshotter of builds: a Snapshot is an overlay mount of a layer chain (lowerdirs from the layer
// store) with a new upper dir; Commit moves the upper dir into the layer
// store as a new layer (layers.Store.CreateFromDir, its tar written once
// by archive.DiffOverlay; streamed through layers.Store.Create when the
// two are on different filesystems) and Release unmounts and removes it.
// LayerDir gives one layer's own directory (read-only: COPY hardlinks
// unchanged files from it). View mounts a chain read-only (COPY --from, RUN --mount from=, --output),
// Squash merges the layers between two chains into one (--squash, by
// comparing the two trees as docker does), and CleanupStale removes what a
// killed build left. The image store makes it over its layers
// (images.Store.Snapshotter).
//
// # On-disk layout (under Overlay.Dir, <root>/build/tmp)
//
//	<pid>/snap-*/         one snapshot or view: upper/ work/ rootfs/ (the mount point), empty/ for scratch
//
// <pid> is the building process; CleanupStale removes the directories of
// dead processes (after unmounting what is still mounted below them, never
// removing through a mount).
package snapshot
