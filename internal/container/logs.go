package container

import (
	"context"
	"io"
	"path/filepath"

	"github.com/hoistproject/hoist/internal/container/logfile"
)

// LogPath is the container's json-file log.
func (c *Container) LogPath() string { return filepath.Join(c.dir, "container-json.log") }

// Logs writes the container's logs to stdout and stderr (both to stdout for
// a tty container, as docker does). With Follow it keeps reading until the
// container stops or ctx ends.
func (m *Manager) Logs(ctx context.Context, ref string, o logfile.Options, stdout, stderr io.Writer) error {
	c, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if c.Config.Tty {
		stderr = stdout
	}
	return logfile.Copy(ctx, c.LogPath(), o, stdout, stderr, logSource{ctx: ctx, m: m, c: c})
}

// logSource is a container as the writer of its log.
type logSource struct {
	ctx context.Context
	m   *Manager
	c   *Container
}

func (s logSource) Running() bool { return s.c.State.Running() }

func (s logSource) Refresh() (bool, error) {
	if err := s.c.loadState(); err != nil {
		return false, nil // removed
	}
	return true, s.m.reconcile(s.ctx, s.c)
}
