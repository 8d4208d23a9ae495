package archive

import (
	"bufio"
	"compress/bzip2"
	"fmt"
	"io"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/ulikunitz/xz"
)

// Compression names the compression of a layer stream.
type Compression int

// The compressions hoist reads. Only Uncompressed, Gzip and Zstd are
// written (CompressStream); Xz and Bzip2 occur in old images and in ADD
// sources.
const (
	Uncompressed Compression = iota
	Gzip
	Zstd
	Xz
	Bzip2
)

// String returns the conventional short name ("gzip", "zstd", ...).
func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "uncompressed"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	case Xz:
		return "xz"
	case Bzip2:
		return "bzip2"
	}
	return fmt.Sprintf("compression(%d)", int(c))
}

// Extension returns the file-name extension used for the compression
// ("" for Uncompressed, "gz", "zst", "xz", "bz2").
func (c Compression) Extension() string {
	switch c {
	case Gzip:
		return "gz"
	case Zstd:
		return "zst"
	case Xz:
		return "xz"
	case Bzip2:
		return "bz2"
	}
	return ""
}

// The magic numbers that start each compressed format.
const (
	magicGzip  = "\x1f\x8b"
	magicZstd  = "\x28\xb5\x2f\xfd"
	magicXz    = "\xfd7zXZ\x00"
	magicBzip2 = "BZh"
)

// DetectCompression names the compression whose magic number starts
// header. Anything unrecognised is Uncompressed.
func DetectCompression(header []byte) Compression {
	h := string(header)
	switch {
	case strings.HasPrefix(h, magicGzip):
		return Gzip
	case strings.HasPrefix(h, magicZstd):
		return Zstd
	case strings.HasPrefix(h, magicXz):
		return Xz
	case strings.HasPrefix(h, magicBzip2):
		return Bzip2
	}
	return Uncompressed
}

// readBufSize is the read-ahead used in front of decompressors and the tar
// reader: large enough that the tar reader's 512-byte header reads never
// turn into syscalls.
const readBufSize = 1 << 20

// DecompressStream sniffs the compression of r by its magic bytes (never by
// name) and returns a reader of the decompressed bytes. Closing the result
// releases the decompressor; it does not close r.
func DecompressStream(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, readBufSize)
	header, err := br.Peek(6)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, Uncompressed, fmt.Errorf("reading compression header: %w", err)
	}
	c := DetectCompression(header)
	switch c {
	case Gzip:
		zr, err := pgzip.NewReader(br)
		if err != nil {
			return nil, c, errdefs.InvalidArgument(fmt.Errorf("opening gzip stream: %w", err))
		}
		return zr, c, nil
	case Zstd:
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, c, errdefs.InvalidArgument(fmt.Errorf("opening zstd stream: %w", err))
		}
		return &zstdReadCloser{zr}, c, nil
	case Xz:
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, c, errdefs.InvalidArgument(fmt.Errorf("opening xz stream: %w", err))
		}
		return io.NopCloser(xr), c, nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(br)), c, nil
	}
	return io.NopCloser(br), Uncompressed, nil
}

type zstdReadCloser struct{ d *zstd.Decoder }

func (z *zstdReadCloser) Read(p []byte) (int, error) { return z.d.Read(p) }
func (z *zstdReadCloser) Close() error               { z.d.Close(); return nil }

// CompressStream returns a writer that compresses into w with c. Close
// flushes the compressor (it does not close w). Gzip uses parallel
// compression (pgzip) and Zstd the default level; both are deterministic for
// the same input, so a layer compresses to the same digest every time.
func CompressStream(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case Uncompressed:
		return nopWriteCloser{w}, nil
	case Gzip:
		return pgzip.NewWriter(w), nil
	case Zstd:
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return nil, fmt.Errorf("creating zstd writer: %w", err)
		}
		return zw, nil
	case Xz:
		xw, err := xz.NewWriter(w)
		if err != nil {
			return nil, fmt.Errorf("creating xz writer: %w", err)
		}
		return xw, nil
	}
	return nil, errdefs.NotImplementedf("compressing with %s is not supported", c)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
