package layers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
)

// Orphan is a layer directory that no record names.
type Orphan struct {
	Name string // layers/<Name>
	Size int64
}

// OrphansTx lists the layer directories no record names. No live process
// owns one: a directory is renamed into place and recorded inside one
// metadata transaction (commit, Materialize), so under the lock of tx a
// directory without a record was left by a process killed in between.
func (s *Store) OrphansTx(tx *metadata.Tx) ([]Orphan, error) {
	all, err := AllTx(tx)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var out []Orphan
	for _, e := range ents {
		if e.Name() == "tmp" {
			continue
		}
		if _, ok := all[digest.NewDigestFromEncoded(digest.SHA256, e.Name())]; ok {
			continue
		}
		out = append(out, Orphan{Name: e.Name(), Size: fsutil.DirSize(filepath.Join(s.dir, e.Name()))})
	}
	return out, nil
}

// RemoveOrphans deletes the layer directories no record names (OrphansTx):
// under the metadata lock they are moved to layers/tmp/del-*, then removed
// after the commit. It returns what it removed.
func (s *Store) RemoveOrphans(ctx context.Context) ([]Orphan, error) {
	var removed []Orphan
	var dirs []string
	err := s.db.Update(ctx, func(tx *metadata.Tx) error {
		removed, dirs = nil, nil
		orphans, err := s.OrphansTx(tx)
		if err != nil {
			return err
		}
		for _, o := range orphans {
			trash := filepath.Join(s.dir, "tmp", "del-"+randHex())
			if err := os.Rename(filepath.Join(s.dir, o.Name), trash); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return fmt.Errorf("removing orphaned layer directory %s: %w", o.Name, err)
			}
			removed = append(removed, o)
			dirs = append(dirs, trash)
		}
		return nil
	})
	for _, d := range dirs {
		os.RemoveAll(d)
	}
	return removed, err
}
