package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
)

// Usage is what the build cache holds (the Build Cache line of
// `system df`, and its rows with -v).
type Usage struct {
	Records int // Items, in number
	// Size is the bytes of the layers only cache records use, plus the
	// RUN --mount=type=cache directories: the sum of the Items' sizes.
	Size  int64
	Items []Item
}

// Item is one row of the build cache in `system df -v`: a record (the
// result of a step) or a cache mount.
type Item struct {
	ID   string
	Type string // "regular" (a step's record) or "exec.cachemount"
	// Size is what the item alone adds: the layers of its state that no
	// image uses and no older record already counts (each byte is counted
	// once, so that the sizes add up to Usage.Size).
	Size    int64
	Created time.Time
	Shared  bool // an image uses the record's layer
}

// DiskUsage measures the build cache of the store's root.
func DiskUsage(ctx context.Context, st *images.Store) (Usage, error) {
	var u Usage
	err := Open(st.Root()).DB.View(ctx, func(tx *metadata.Tx) error {
		all, err := layers.AllTx(tx)
		if err != nil {
			return err
		}
		imgRoots := map[digest.Digest]bool{}
		if err := st.LayerRefs(tx, imgRoots); err != nil {
			return err
		}
		used := map[digest.Digest]bool{}
		for c := range imgRoots {
			for ; c != "" && !used[c]; c = all[c].Parent {
				used[c] = true
			}
		}
		type rec struct {
			item  Item
			chain digest.Digest
		}
		var recs []rec
		if b := metadata.ReadBucket(tx, cacheBucket, "records"); b != nil {
			err := b.ForEach(func(k, v []byte) error {
				var r Record
				json.Unmarshal(v, &r) // a broken one is a row of 0 B (prune removes it)
				recs = append(recs, rec{item: Item{ID: shortID(string(k)), Type: "regular", Created: r.Created,
					Shared: r.ChainID() != "" && used[r.ChainID()]}, chain: r.ChainID()})
				return nil
			})
			if err != nil {
				return err
			}
		}
		slices.SortStableFunc(recs, func(a, b rec) int { return a.item.Created.Compare(b.item.Created) })
		counted := map[digest.Digest]bool{}
		for _, r := range recs {
			for c := r.chain; c != "" && !used[c] && !counted[c]; c = all[c].Parent {
				counted[c] = true
				r.item.Size += all[c].Size
			}
			u.Items = append(u.Items, r.item)
		}
		return nil
	})
	if err != nil {
		return u, err
	}
	mounts := filepath.Join(st.Root(), "build", "cache")
	if ents, err := os.ReadDir(mounts); err == nil {
		for _, e := range ents {
			fi, err := e.Info()
			if err != nil {
				continue
			}
			u.Items = append(u.Items, Item{ID: shortID(e.Name()), Type: "exec.cachemount",
				Size: fsutil.DirSize(filepath.Join(mounts, e.Name())), Created: fi.ModTime()})
		}
	}
	u.Records = len(u.Items)
	for _, it := range u.Items {
		u.Size += it.Size
	}
	return u, nil
}

// shortID is the 12-character ID docker shows of a key or name.
func shortID(s string) string {
	if _, hex, ok := strings.Cut(s, ":"); ok {
		s = hex
	}
	return s[:min(12, len(s))]
}

// LayerRefs implements layers.Users for the build cache: every layer a
// cache record names. Pass it to layers.Store.Release where cached layers
// must survive (builder prune passes nothing of the cache).
func (c Bolt) LayerRefs(tx *metadata.Tx, refs map[digest.Digest]bool) error {
	b := metadata.ReadBucket(tx, cacheBucket, "records")
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		var rec Record
		if json.Unmarshal(v, &rec) == nil && rec.ChainID() != "" {
			refs[rec.ChainID()] = true
		}
		return nil
	})
}

// PruneOptions select what Prune removes (docker builder prune).
type PruneOptions struct {
	// All removes every record; otherwise only the dangling ones: records
	// whose layer no image or container uses (BuildKit keeps the cache
	// shared with images): the layers of stages the image does not
	// include, of failed builds, of squashed steps.
	All bool
	// KeepDuration keeps what was created within this long (--filter
	// until=DURATION). Records carry their creation time, not their last
	// use: a cache hit writes nothing.
	KeepDuration time.Duration
	// KeepStorage keeps the newest cache up to this many bytes
	// (--keep-storage): the oldest of the selected records and cache mounts
	// go first, until what the cache alone holds fits.
	KeepStorage int64
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// PruneReport is the result of Prune.
type PruneReport struct {
	Records        int
	Deleted        []string // IDs of the deleted records and cache mounts
	LayersRemoved  int
	SpaceReclaimed int64
}

// pruneItem is a record or a cache mount Prune may delete.
type pruneItem struct {
	id      string
	key     []byte        // record key; nil for a cache mount
	mount   string        // cache mount directory
	chainID digest.Digest // the record's layer
	created time.Time
	size    int64 // a cache mount's bytes
}

// Prune deletes build cache records, the cache mounts under dir
// (<root>/build/cache) and the layers only the deleted records used, as
// opts select.
func Prune(ctx context.Context, st *images.Store, dir string, opts PruneOptions) (PruneReport, error) {
	var rep PruneReport
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	cutoff := now().Add(-opts.KeepDuration)
	keep := func(created time.Time) bool { return opts.KeepDuration > 0 && created.After(cutoff) }

	cache := filepath.Join(dir, "cache")
	var mounts []pruneItem
	if ents, err := os.ReadDir(cache); err == nil {
		for _, e := range ents {
			fi, err := e.Info()
			if err != nil || keep(fi.ModTime()) {
				continue
			}
			p := filepath.Join(cache, e.Name())
			mounts = append(mounts, pruneItem{id: e.Name(), mount: p, created: fi.ModTime(), size: fsutil.DirSize(p)})
		}
	}
	var doomedMounts []pruneItem
	err := Open(st.Root()).DB.Update(ctx, func(tx *metadata.Tx) error {
		all, err := layers.AllTx(tx)
		if err != nil {
			return err
		}
		users := st.LayerUsers()
		imgRoots := map[digest.Digest]bool{}
		for _, u := range users {
			if err := u.LayerRefs(tx, imgRoots); err != nil {
				return err
			}
		}
		used := map[digest.Digest]bool{}
		for c := range imgRoots {
			for ; c != "" && !used[c]; c = all[c].Parent {
				used[c] = true
			}
		}
		rb := metadata.ReadBucket(tx, cacheBucket, "records")
		var cands []pruneItem
		refs := map[digest.Digest]int{} // records reaching each layer the images do not use
		if rb != nil {
			err := rb.ForEach(func(k, v []byte) error {
				var rec Record
				if json.Unmarshal(v, &rec) != nil {
					cands = append(cands, pruneItem{id: string(k), key: k}) // broken: always goes
					return nil
				}
				for c := rec.ChainID(); c != "" && !used[c]; c = all[c].Parent {
					refs[c]++
				}
				if keep(rec.Created) || (!opts.All && used[rec.ChainID()]) {
					return nil
				}
				cands = append(cands, pruneItem{id: string(k), key: k, chainID: rec.ChainID(), created: rec.Created})
				return nil
			})
			if err != nil {
				return err
			}
		}
		cands = append(cands, mounts...)
		if opts.KeepStorage > 0 {
			var total int64
			for c, n := range refs {
				if n > 0 {
					total += all[c].Size
				}
			}
			for _, m := range mounts {
				total += m.size
			}
			slices.SortStableFunc(cands, func(a, b pruneItem) int { return a.created.Compare(b.created) })
			n := 0
			for ; n < len(cands) && total > opts.KeepStorage; n++ {
				it := cands[n]
				total -= it.size
				for c := it.chainID; c != "" && !used[c]; c = all[c].Parent {
					if refs[c]--; refs[c] == 0 {
						total -= all[c].Size
					}
				}
			}
			cands = cands[:n]
		}
		wb, err := metadata.WriteBucket(tx, cacheBucket, "records")
		if err != nil {
			return err
		}
		for _, it := range cands {
			if it.key == nil {
				doomedMounts = append(doomedMounts, it)
				continue
			}
			if err := wb.Delete(it.key); err != nil {
				return err
			}
			rep.Records++
			rep.Deleted = append(rep.Deleted, digest.Digest(it.id).Encoded())
		}
		if firstKey(wb) == nil {
			// Nothing left: drop the miss-explanation indexes too.
			if err := tx.DeleteBucket([]byte(cacheBucket)); err != nil {
				return err
			}
		}
		removed, err := st.ReleaseLayers(ctx, tx, Bolt{})
		if err != nil {
			return err
		}
		for _, l := range removed {
			rep.LayersRemoved++
			rep.SpaceReclaimed += l.Size
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if err := st.EmptyTrash(ctx); err != nil {
		return rep, err
	}
	for _, m := range doomedMounts {
		if err := os.RemoveAll(m.mount); err != nil {
			return rep, fmt.Errorf("removing cache mount %s: %w", m.id, err)
		}
		rep.SpaceReclaimed += m.size
		rep.Deleted = append(rep.Deleted, m.id)
	}
	return rep, nil
}

// firstKey is the first key of b, nil when b is empty.
func firstKey(b *metadata.Bucket) []byte {
	k, _ := b.Cursor().First()
	return k
}
