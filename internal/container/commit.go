package container

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// CommitOptions are `commit`'s options for the container side.
type CommitOptions struct {
	Pause bool // freeze a running container while its changes are read (docker's default)
}

// LayerSink receives the container's changes as a layer tar and records the
// new image (the image store, wired by the caller); layer is nil when the
// container changed nothing (docker then adds no layer, only a history
// entry marked empty_layer).
type LayerSink func(ctx context.Context, c *Container, layer io.Reader) (imageID string, err error)

// Commit streams the container's upper dir as a layer tar (whiteouts for
// deletions, opaque dirs) into sink, pausing a running container meanwhile
// when asked, and returns the new image ID.
func (m *Manager) Commit(ctx context.Context, ref string, o CommitOptions, sink LayerSink) (string, error) {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return "", err
	}
	if c.Storage == StorageCopy {
		return "", errdefs.NotImplementedf("commit of %s: its filesystem is a plain copy (overlayfs was unavailable)", c.ID)
	}
	if o.Pause && c.State.Status == StatusRunning {
		if err := m.Pause(ctx, c.ID); err == nil {
			defer m.Unpause(context.WithoutCancel(ctx), c.ID)
		}
	}
	upper := filepath.Join(c.dir, "upper")
	if ents, err := os.ReadDir(upper); err == nil && len(ents) == 0 {
		return sink(ctx, c, nil)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(archive.DiffOverlay(ctx, pw, upper, archive.DiffOptions{}))
	}()
	id, err := sink(ctx, c, pr)
	pr.CloseWithError(io.ErrClosedPipe)
	return id, err
}
