package engine

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/container/cp"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// CopyOptions are cp's options.
type CopyOptions struct {
	// Follow follows a symbolic link at the source (-L).
	Follow bool
	// Archive keeps the owners (uid/gid) of the copied files (-a).
	Archive bool
}

// CopyToHost copies path src of a container to dst on this host: into an
// existing directory under the source's name, else as dst's name in its
// parent.
func (e *Engine) CopyToHost(ctx context.Context, ref, src, dst string, o CopyOptions) error {
	m, err := e.containers()
	if err != nil {
		return err
	}
	target, name := dst, ""
	if fi, err := os.Stat(dst); err != nil || !fi.IsDir() {
		target, name = filepath.Dir(dst), filepath.Base(dst)
		if _, err := os.Stat(target); err != nil {
			return errdefs.NotFoundf("destination directory %s does not exist", target)
		}
	}
	pr, pw := io.Pipe()
	copied := make(chan error, 1)
	go func() {
		err := m.CopyFrom(ctx, ref, src, o.Follow, name, pw)
		copied <- err
		pw.CloseWithError(err)
	}()
	_, err = archive.Apply(ctx, target, pr, archive.ApplyOptions{NoSameOwner: !o.Archive})
	pr.CloseWithError(err)
	// The container's side names what went wrong there (no such
	// container, no such path) better than the tar reader does.
	if cerr := <-copied; cerr != nil && errdefs.IsDaemonSide(cerr) {
		return cerr
	}
	return err
}

// CopyFromHost copies src on this host (or, for "-", the tar stream
// stdin) to path dst of a container: an existing directory receives the
// source under its name; otherwise dst names the copy.
func (e *Engine) CopyFromHost(ctx context.Context, src string, stdin io.Reader, ref, dst string, o CopyOptions) error {
	m, err := e.containers()
	if err != nil {
		return err
	}
	var r io.Reader
	target := dst
	if src == "-" {
		r = stdin
	} else {
		name := filepath.Base(src)
		if fi, err := m.Stat(ctx, ref, dst); err != nil || !fi.IsDir() {
			target, name = filepath.Dir(dst), filepath.Base(dst)
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(cp.TarHostPath(ctx, pw, src, name, o.Follow, o.Archive)) }()
		r = pr
	}
	return m.CopyTo(ctx, ref, target, r)
}
