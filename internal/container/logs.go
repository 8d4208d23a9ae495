package container

import (
	"context"
	"io"
	"path/filepath"
	"strconv"

	"github.com/hoistproject/hoist/internal/container/logfile"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/units"
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
	if c.HostConfig.LogConfig.Type == "none" {
		return errdefs.FailedPreconditionf("configured logging driver does not support reading")
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

// CheckLogConfig checks --log-driver and --log-opt as docker's json-file
// and none drivers do.
func CheckLogConfig(lc LogConfig) error {
	switch lc.Type {
	case "", "json-file":
	case "none":
		if len(lc.Config) > 0 {
			return errdefs.InvalidArgumentf("logger: none does not take options")
		}
		return nil
	default:
		return errdefs.InvalidArgumentf("logger: no log driver named '%s' is registered (hoist has json-file and none)", lc.Type)
	}
	_, err := lc.rotation()
	return err
}

// rotation is the json-file rotation lc's max-size and max-file ask for.
func (lc LogConfig) rotation() (logfile.Rotation, error) {
	var r logfile.Rotation
	for k, v := range lc.Config {
		switch k {
		case "max-size":
			n, err := units.ParseBytes(v)
			if err != nil || n <= 0 {
				return r, errdefs.InvalidArgumentf("invalid max-size %q for json-file log driver", v)
			}
			r.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return r, errdefs.InvalidArgumentf("max-file cannot be less than 1")
			}
			r.MaxFiles = n
		default:
			return r, errdefs.InvalidArgumentf("unknown log opt '%s' for json-file log driver", k)
		}
	}
	if r.MaxFiles > 1 && r.MaxSize == 0 {
		return r, errdefs.InvalidArgumentf("max-file cannot be set without max-size")
	}
	if r.MaxFiles == 0 {
		r.MaxFiles = 1
	}
	return r, nil
}
