package images

import (
	"context"

	"github.com/hoistproject/hoist/internal/metadata"
)

// Leftover is something interrupted work left in the root: a blob write in
// content/ingest, or a layer directory that no record names.
type Leftover struct {
	What string // "content/ingest/<name>" or "layers/<name>"
	Size int64
	// Live: a running process owns it (a write in progress); not
	// reclaimable.
	Live bool
}

// Leftovers lists what interrupted work left (the Build Cache row of
// `system df` counts them). Whether a process still owns a blob write is
// decided by the writer's lock and pid (content.Local.Ingests), not by age;
// a layer directory without a record never has a live owner
// (layers.OrphansTx).
func (s *Store) Leftovers(ctx context.Context) ([]Leftover, error) {
	var out []Leftover
	ingests, err := s.cs.Ingests(leftoverAge)
	if err != nil {
		return nil, err
	}
	for _, in := range ingests {
		out = append(out, Leftover{What: "content/ingest/" + in.Name, Size: in.Size, Live: in.Live})
	}
	err = s.db.View(ctx, func(tx *metadata.Tx) error {
		orphans, err := s.ls.OrphansTx(tx)
		for _, o := range orphans {
			out = append(out, Leftover{What: "layers/" + o.Name, Size: o.Size})
		}
		return err
	})
	return out, err
}

// PruneLeftovers removes the leftovers no live process owns (`system
// prune`, `system check --repair`) and returns them.
func (s *Store) PruneLeftovers(ctx context.Context) ([]Leftover, error) {
	var out []Leftover
	ingests, err := s.cs.PruneIngests(leftoverAge)
	for _, in := range ingests {
		out = append(out, Leftover{What: "content/ingest/" + in.Name, Size: in.Size})
	}
	if err != nil {
		return out, err
	}
	orphans, err := s.ls.RemoveOrphans(ctx)
	for _, o := range orphans {
		out = append(out, Leftover{What: "layers/" + o.Name, Size: o.Size})
	}
	s.ls.Cleanup()
	return out, err
}
