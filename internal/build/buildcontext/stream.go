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

	"github.com/hoistproject/hoist/internal/errdefs"
)

// Extractor writes the entries of the tar stream r (possibly compressed:
// gzip, zstd, xz or bzip2) into dir, never outside it. The builder passes
// one built on internal/archive (DecompressStream + Apply with
// NoSameOwner=false and no whiteout handling).
type Extractor func(ctx context.Context, dir string, r io.Reader) error

// StreamOptions configure FromStream.
type StreamOptions struct {
	// Extract unpacks a tar context. Required when the stream is a tar.
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
		if opts.Extract == nil {
			return fail(errdefs.NotImplementedf("tar build contexts are not supported by this build (no extractor)"))
		}
		if err := opts.Extract(ctx, dir, br); err != nil {
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
	for _, magic := range [][]byte{
		{0x1f, 0x8b},                     // gzip
		{0x28, 0xb5, 0x2f, 0xfd},         // zstd
		{0xfd, '7', 'z', 'X', 'Z', 0x00}, // xz
		{'B', 'Z', 'h'},                  // bzip2
	} {
		if bytes.HasPrefix(head, magic) {
			return true
		}
	}
	if len(head) < 512 {
		return false
	}
	_, err := tar.NewReader(bytes.NewReader(head)).Next()
	return err == nil
}
