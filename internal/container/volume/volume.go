package volume

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/container/names"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// Store is the directory holding the volumes (<root>/volumes).
type Store struct{ Dir string }

// Path returns the data directory of volume name, creating the volume if
// it does not exist (created: it did not).
func (s Store) Path(name string) (dir string, created bool, err error) {
	d := s.DataDir(name)
	if _, err := os.Stat(d); err == nil {
		return d, false, nil
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", false, fmt.Errorf("create volume %s: %w", name, err)
	}
	return d, true, nil
}

// DataDir is the data directory of volume name.
func (s Store) DataDir(name string) string { return filepath.Join(s.Dir, name, "_data") }

// Remove deletes volume name.
func (s Store) Remove(name string) { os.RemoveAll(filepath.Join(s.Dir, name)) }

// Names lists the volumes.
func (s Store) Names() []string {
	ents, _ := os.ReadDir(s.Dir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// Bind is a parsed -v: Source is a host path (absolute) or a volume name.
type Bind struct {
	Source      string
	Destination string // cleaned, absolute, not "/"
	RW          bool
	// Propagation is the mode asked for (private, rprivate, shared,
	// rshared, slave, rslave); "" for the default.
	Propagation string
	// NoCopy (mode nocopy): a new volume is not filled from the image.
	NoCopy bool
}

// HostPath reports whether the bind's source is a host path rather than
// a volume name.
func (b Bind) HostPath() bool { return strings.HasPrefix(b.Source, "/") }

// ParseBind parses docker's -v SOURCE:DEST[:OPTS] with its messages.
func ParseBind(b string) (Bind, error) {
	parts := strings.Split(b, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Bind{}, errdefs.InvalidArgumentf("invalid volume specification: '%s'", b)
	}
	src, dst := parts[0], parts[1]
	rw := true
	propagation, nocopy := "", false
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				rw = false
			case "rprivate", "private", "rshared", "shared", "rslave", "slave":
				if propagation != "" { // docker: one propagation mode at most
					return Bind{}, errdefs.InvalidArgumentf("invalid mode: %s", parts[2])
				}
				propagation = o
			case "nocopy":
				nocopy = true
			case "rw", "z", "Z":
			default:
				return Bind{}, errdefs.InvalidArgumentf("invalid mode: %s", o)
			}
		}
	}
	if !path.IsAbs(dst) {
		return Bind{}, errdefs.InvalidArgumentf("invalid volume specification: '%s': invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", b, dst)
	}
	dst = path.Clean(dst)
	if dst == "/" {
		return Bind{}, errdefs.InvalidArgumentf("invalid volume specification: '%s': invalid mount config for type \"bind\": invalid specification: destination can't be '/'", b)
	}
	return Bind{Source: src, Destination: dst, RW: rw, Propagation: propagation, NoCopy: nocopy}, nil
}

// CheckName checks a local volume name as docker does.
func CheckName(name string) error {
	if !names.Valid(name) {
		return errdefs.InvalidArgumentf("create %s: \"%s\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", name, name)
	}
	return nil
}

// Populate copies what rootfs has at dest into the volume (data directory
// dir, named name) when the volume is empty (docker's copy-up for named
// and anonymous volumes).
func Populate(ctx context.Context, dir, name, rootfs, dest string) error {
	if ents, err := os.ReadDir(dir); err != nil || len(ents) > 0 {
		return nil
	}
	src, err := securejoin.SecureJoin(rootfs, dest)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return nil
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Tar(ctx, pw, src, archive.TarOptions{})) }()
	_, err = archive.Apply(ctx, dir, pr, archive.ApplyOptions{})
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return fmt.Errorf("copy %s into volume %s: %w", dest, name, err)
	}
	return nil
}
