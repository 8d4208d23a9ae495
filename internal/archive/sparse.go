package archive

import (
	"archive/tar"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// RejectSparse refuses a sparse tar entry: the old GNU type 'S' and the
// PAX sparse formats 0.0, 0.1 and 1.0 (GNU.sparse.* records). Go's tar
// reader expands their holes into zeros, so a 2 MB archive would become a
// 2 GB file; docker refuses the entry type too. Every reader of layer or
// image tars calls it (Apply, and the callers that read tar framing
// themselves), so that load, import, pull and build refuse the same input.
func RejectSparse(hdr *tar.Header) error {
	sparse := hdr.Typeflag == tar.TypeGNUSparse
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			sparse = true
			break
		}
	}
	if !sparse {
		return nil
	}
	return errdefs.InvalidArgumentf("tar entry %q: sparse files (GNU sparse format) are not supported; recreate the archive without --sparse", hdr.Name)
}
