package images

import (
	"context"
	"slices"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
)

// PruneOptions are `image prune` options.
type PruneOptions struct {
	All     bool    // every image no container uses, not only dangling ones
	Filters Filters // Until, Labels and NotLabels apply
}

// PruneReport is what a prune removed.
type PruneReport struct {
	Items []DeleteItem
	// Reclaimed is the unpacked size of the layers removed.
	Reclaimed int64
}

// Prune removes dangling images (with All: every image not used by a
// container), as `docker image prune`, in one transaction.
func (s *Store) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	var d *deleter
	now := time.Now()
	for _, u := range opts.Filters.Until {
		if _, err := ParseTimestamp(u, now); err != nil {
			return PruneReport{}, err
		}
	}
	err := s.db.Update(ctx, func(tx *metadata.Tx) error {
		if _, err := pruneLeases(tx); err != nil {
			return err
		}
		var err error
		if d, err = s.newDeleter(ctx, tx); err != nil {
			return err
		}
		recs, err := allRecords(tx)
		if err != nil {
			return err
		}
		hasChild := map[digest.Digest]bool{}
		for _, r := range recs {
			if r.Parent != "" {
				hasChild[r.Parent] = true
			}
		}
		for _, r := range recs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !opts.All && hasChild[r.ID] {
				continue
			}
			if !opts.Filters.Keep(r.Created, r.Labels, now) {
				continue
			}
			if len(d.users[r.ID]) > 0 {
				continue
			}
			cur, ok, err := getRecord(tx, r.ID)
			if err != nil {
				return err
			}
			if !ok {
				continue // removed as an untagged parent
			}
			refs := d.refs(cur)
			if len(refs) > 0 {
				hasTag := slices.ContainsFunc(refs, func(x string) bool { return !isCanonical(x) })
				if !opts.All && hasTag {
					continue
				}
				for _, ref := range refs {
					if err := d.delete(ref, DeleteOptions{}); err != nil && !errdefs.IsConflict(err) && !errdefs.IsNotFound(err) {
						return err
					}
				}
			} else if err := d.delete(r.ID.Encoded(), DeleteOptions{}); err != nil && !errdefs.IsConflict(err) && !errdefs.IsNotFound(err) {
				return err
			}
		}
		// Also free layers left unreferenced by anything (e.g. by a crash).
		return d.release()
	})
	if d != nil {
		d.finish(err == nil)
	}
	if err != nil {
		return PruneReport{}, err
	}
	return PruneReport{Items: d.items, Reclaimed: d.freed}, nil
}

// ImageUsage is one image's line of `system df -v`.
type ImageUsage struct {
	Image
	SharedSize int64 // layers also used by another image
	UniqueSize int64
	Containers int
}

// Usage is the images part of `system df`.
type Usage struct {
	Images []ImageUsage // newest first
	Active int          // images used by containers
	// Size is the unpacked size of every layer, each counted once.
	Size int64
	// Reclaimable is what `image prune -a` would free.
	Reclaimable int64
}

// DiskUsage computes `system df` for images from the records alone.
func (s *Store) DiskUsage(ctx context.Context) (Usage, error) {
	var u Usage
	err := s.db.View(ctx, func(tx *metadata.Tx) error {
		recs, err := allRecords(tx)
		if err != nil {
			return err
		}
		all, err := layers.AllTx(tx)
		if err != nil {
			return err
		}
		users, err := s.imageUsers(tx)
		if err != nil {
			return err
		}
		names := allNames(tx)
		chainOf := func(top digest.Digest) []digest.Digest {
			var out []digest.Digest
			for c := top; c != "" && len(out) < 10000; c = all[c].Parent {
				if _, ok := all[c]; !ok {
					break
				}
				out = append(out, c)
			}
			return out
		}
		usedBy := map[digest.Digest]int{}
		for _, r := range recs {
			for _, c := range chainOf(r.ChainID) {
				usedBy[c]++
			}
		}
		keep := map[digest.Digest]bool{}
		roots := map[digest.Digest]bool{}
		for _, r := range recs {
			if len(users[r.ID]) > 0 {
				u.Active++
				roots[r.ChainID] = true
			}
		}
		if s.containers != nil {
			if err := s.containers.LayerRefs(tx, roots); err != nil {
				return err
			}
		}
		for r := range metadata.LeasedResources(tx) {
			if len(r) > 6 && r[:6] == "layer/" {
				roots[digest.Digest(r[6:])] = true
			}
		}
		for c := range roots {
			for _, x := range chainOf(c) {
				keep[x] = true
			}
		}
		for c, l := range all {
			u.Size += l.Size
			if !keep[c] {
				u.Reclaimable += l.Size
			}
		}
		for _, r := range recs {
			iu := ImageUsage{Image: Image{Record: r, Names: names[r.ID]}, Containers: len(users[r.ID])}
			slices.Sort(iu.Names)
			for _, c := range chainOf(r.ChainID) {
				if usedBy[c] > 1 {
					iu.SharedSize += all[c].Size
				}
			}
			iu.UniqueSize = r.Size - iu.SharedSize
			u.Images = append(u.Images, iu)
		}
		return nil
	})
	slices.SortFunc(u.Images, func(a, b ImageUsage) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return compareStr(string(a.ID), string(b.ID))
	})
	return u, err
}

func compareStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
