package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/container/volume"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/hoistproject/hoist/internal/snapshot"
)

// Storage modes of a container's root filesystem.
const (
	StorageOverlay = "overlay" // lowers + upper merged by overlayfs (default)
	StorageCopy    = "copy"    // the layers copied into rootfs/ once; no diff/commit
)

// overlayUnavailable reports whether a mount error means overlayfs cannot be
// used here at all (missing, or an upper dir on a filesystem it refuses).
func overlayUnavailable(err error) bool {
	return errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPERM)
}

// prepareRootfs makes c's root filesystem ready at rootfs/: an overlay mount,
// or, where overlayfs is unavailable, a plain copy of the layers made once
// (the container then writes to it directly).
func (m *Manager) prepareRootfs(ctx context.Context, c *Container) error {
	rootfs := filepath.Join(c.dir, "rootfs")
	if c.Storage == StorageCopy {
		return m.populateCopy(ctx, c, rootfs)
	}
	mount.UnmountAll(rootfs)
	// A fresh work dir every start: overlay refuses a dirty one.
	os.RemoveAll(filepath.Join(c.dir, "work"))
	os.MkdirAll(filepath.Join(c.dir, "work"), 0o711)
	ov, err := snapshot.Mount(m.overlay, c.lowerTopFirst(), filepath.Join(c.dir, "upper"), filepath.Join(c.dir, "work"))
	if err != nil {
		return err
	}
	if c.HostConfig.AutoRemove {
		// A --rm container's changes are thrown away: "volatile" spares the
		// sync of the whole upper filesystem at unmount, which costs tens of
		// milliseconds on a busy disk.
		vol := ov
		vol.Options = append(append([]string{}, ov.Options...), "volatile")
		if err := vol.Mount(rootfs); err == nil {
			return nil
		}
		os.RemoveAll(filepath.Join(c.dir, "work"))
		os.MkdirAll(filepath.Join(c.dir, "work"), 0o711)
	}
	err = ov.Mount(rootfs)
	if err == nil {
		return nil
	}
	upper, _ := os.ReadDir(filepath.Join(c.dir, "upper"))
	if !overlayUnavailable(err) || len(upper) > 0 {
		return fmt.Errorf("mount rootfs of %s: %w", c.ID, err)
	}
	m.log.Warn("overlayfs unavailable, copying the image into the container", "container", c.ID, "err", err)
	c.Storage = StorageCopy
	if err := c.saveConfig(); err != nil {
		return err
	}
	return m.populateCopy(ctx, c, rootfs)
}

// populateCopy applies every layer (bottom first, then the init layer) onto
// rootfs through archive's tar diff/apply, which turns the layers' overlay
// whiteouts into deletions. Done once; a marker records completion.
func (m *Manager) populateCopy(ctx context.Context, c *Container, rootfs string) error {
	marker := filepath.Join(c.dir, "rootfs.copied")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	lowers := c.lowerTopFirst()
	for i := len(lowers) - 1; i >= 0; i-- {
		pr, pw := io.Pipe()
		go func(dir string) {
			pw.CloseWithError(archive.DiffOverlay(ctx, pw, dir, archive.DiffOptions{}))
		}(lowers[i])
		_, err := archive.Apply(ctx, rootfs, pr, archive.ApplyOptions{})
		pr.CloseWithError(io.ErrClosedPipe)
		if err != nil {
			return fmt.Errorf("copy layer %s into %s: %w", lowers[i], c.ID, err)
		}
	}
	// The image's "./" entry gave rootfs its mode; the container's / is
	// 0755 as on overlay (where it is the upper dir's).
	if err := os.Chmod(rootfs, rootMode); err != nil {
		return err
	}
	if err := archive.SyncFS(rootfs); err != nil {
		return err
	}
	return os.WriteFile(marker, nil, 0o600)
}

// populateVolumes copies what the image has at a volume's mount point into
// the volume when the volume is empty (docker's copy-up for named and
// anonymous volumes), once.
func (m *Manager) populateVolumes(ctx context.Context, c *Container, rootfs string) error {
	for _, mp := range c.Mounts {
		if mp.Type != "volume" || mp.NoCopy {
			continue
		}
		if err := volume.Populate(ctx, mp.Source, mp.Name, rootfs, mp.Destination); err != nil {
			return err
		}
	}
	return nil
}
