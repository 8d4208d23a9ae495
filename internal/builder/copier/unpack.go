package copier

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// ArchiveUnpacker is the Unpacker of ADD over internal/archive: the
// stream is decompressed (gzip, bzip2, xz, zstd) and applied when it is a
// tar archive.
type ArchiveUnpacker struct{}

// Unpack implements Unpacker.
func (ArchiveUnpacker) Unpack(ctx context.Context, mkdir func() (string, error), r io.Reader) (bool, error) {
	dec, _, err := archive.DecompressStream(r)
	if err != nil {
		return false, nil
	}
	defer dec.Close()
	// A tar archive has "ustar" at offset 257 of its first header block.
	head := make([]byte, 512)
	n, err := io.ReadFull(dec, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, nil
	}
	if n < 263 || !strings.HasPrefix(string(head[257:263]), "ustar") {
		return false, nil
	}
	dir, err := mkdir()
	if err != nil {
		return true, err
	}
	if _, err := archive.Apply(ctx, dir, io.MultiReader(strings.NewReader(string(head[:n])), dec), archive.ApplyOptions{}); err != nil {
		return true, errdefs.InvalidArgument(err)
	}
	return true, nil
}
