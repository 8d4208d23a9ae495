package buildcontext

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// Extractor writes the entries of the tar stream r (possibly compressed:
// gzip, zstd, xz or bzip2) into dir, never outside it.
type Extractor func(ctx context.Context, dir string, r io.Reader) error

// ArchiveExtractor is the Extractor built on internal/archive:
// DecompressStream, then Apply (which never writes outside dir). Ownership
// from the tar is kept when running as root.
func ArchiveExtractor(opts archive.ApplyOptions) Extractor {
	return func(ctx context.Context, dir string, r io.Reader) error {
		rc, _, err := archive.DecompressStream(r)
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = archive.Apply(ctx, dir, rc, opts)
		return err
	}
}

// StreamOptions configure FromStream.
type StreamOptions struct {
	// Extract unpacks a tar context; nil means ArchiveExtractor (with
	// NoSameOwner when not running as root).
	Extract Extractor
	// TempDir is where the context directory is created ("" means
	// os.TempDir()).
	TempDir string
	// Dockerfile is the Dockerfile's path inside a tar context (default
	// "Dockerfile"), used to find `<Dockerfile>.dockerignore`.
	Dockerfile string
}

// StreamContext is a context read from a stream (`hoist build -`).
type StreamContext struct {
	*Context
	// Dockerfile is set when the stream was a Dockerfile alone (the
	// context is then empty).
	Dockerfile []byte
	tmp        string
}

// Close releases the context and removes its temporary directory.
func (s *StreamContext) Close() error {
	err := s.Context.Close()
	if rerr := os.RemoveAll(s.tmp); err == nil {
		err = rerr
	}
	return err
}

// maxStdinDockerfile bounds a Dockerfile read from a stream.
const maxStdinDockerfile = 16 << 20

// FromStream reads a build context from r, as `docker build -` does: a tar
// (plain or compressed) is extracted into a new temporary directory;
// anything else is taken as a Dockerfile and the context is empty.
func FromStream(ctx context.Context, r io.Reader, opts StreamOptions) (*StreamContext, error) {
	br := bufio.NewReaderSize(r, 4096)
	head, _ := br.Peek(1024)
	tmp, err := os.MkdirTemp(opts.TempDir, "hoist-context-")
	if err != nil {
		return nil, fmt.Errorf("create build context dir: %w", err)
	}
	fail := func(err error) (*StreamContext, error) {
		os.RemoveAll(tmp)
		return nil, err
	}
	sc := &StreamContext{tmp: tmp}
	dir := filepath.Join(tmp, "context")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fail(err)
	}
	dockerfile := ""
	if isArchive(head) {
		extract := opts.Extract
		if extract == nil {
			extract = ArchiveExtractor(archive.ApplyOptions{NoSameOwner: os.Geteuid() != 0})
		}
		if err := extract(ctx, dir, br); err != nil {
			return fail(fmt.Errorf("extract build context: %w", err))
		}
		name := opts.Dockerfile
		if name == "" {
			name = "Dockerfile"
		}
		dockerfile = filepath.Join(dir, filepath.FromSlash(name))
	} else {
		data, err := io.ReadAll(io.LimitReader(br, maxStdinDockerfile+1))
		if err != nil {
			return fail(fmt.Errorf("read Dockerfile from stdin: %w", err))
		}
		if len(data) > maxStdinDockerfile {
			return fail(errdefs.InvalidArgumentf("Dockerfile from stdin is larger than %d bytes", maxStdinDockerfile))
		}
		sc.Dockerfile = data
	}
	c, err := New(dir, Options{Dockerfile: dockerfile})
	if err != nil {
		return fail(err)
	}
	sc.Context = c
	return sc, nil
}

// isArchive reports whether head starts a compressed stream or a tar.
func isArchive(head []byte) bool {
	if archive.DetectCompression(head) != archive.Uncompressed {
		return true
	}
	if len(head) < 512 {
		return false
	}
	if bytes.Equal(head[257:262], []byte("ustar")) {
		return true // POSIX, PAX and GNU headers
	}
	_, err := tar.NewReader(bytes.NewReader(head)).Next() // old V7 tars
	return err == nil
}
