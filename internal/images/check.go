package images

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// CheckReport is the result of Check.
type CheckReport struct {
	// Problems are broken data: corrupt blobs, records naming missing data.
	Problems []string
	// Leftovers are harmless garbage (interrupted work, unreferenced data),
	// removed with repair.
	Leftovers []string
	// Repaired lists what repair changed.
	Repaired []string
	Blobs    int
	Images   int
	Layers   int
}

// leftoverAge: unreferenced blobs younger than this may belong to work in
// progress in another process and are left alone. For blob writes, whose
// owner is known (content.Local.Ingests), it only bounds a reused pid.
const leftoverAge = 10 * time.Minute

// Check verifies every blob digest and every record's references (`system
// check`); with repair it removes broken records and garbage.
func (s *Store) Check(ctx context.Context, repair bool) (CheckReport, error) {
	var rep CheckReport
	problem := func(format string, a ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(format, a...)) }
	// 1. Every blob's bytes hash to its name.
	bad := map[digest.Digest]bool{}
	blobs := map[digest.Digest]content.Info{}
	err := s.cs.Walk(ctx, func(info content.Info) error {
		rep.Blobs++
		blobs[info.Digest] = info
		ok, err := verifyBlob(ctx, s.cs, info.Digest)
		if err != nil {
			return err
		}
		if !ok {
			bad[info.Digest] = true
			problem("blob %s: content does not match its digest", info.Digest)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if repair {
		for d := range bad {
			if err := s.cs.Delete(ctx, d); err == nil {
				rep.Repaired = append(rep.Repaired, "removed corrupt blob "+d.String())
			}
		}
	}
	blobOK := func(d digest.Digest) bool {
		_, ok := blobs[d]
		return ok && !bad[d]
	}
	// 2. Records and their references, in one write transaction when
	// repairing (so the fixes are consistent), else a read one.
	fn := func(tx *metadata.Tx) error {
		all, err := layers.AllTx(tx)
		if err != nil {
			return err
		}
		rep.Layers = len(all)
		brokenLayer := map[digest.Digest]bool{}
		var brokenCheck func(c digest.Digest, depth int) bool
		brokenCheck = func(c digest.Digest, depth int) bool {
			l, ok := all[c]
			if !ok || depth > 10000 {
				return true
			}
			if brokenLayer[c] {
				return true
			}
			return l.Parent != "" && brokenCheck(l.Parent, depth+1)
		}
		for c, l := range all {
			// A layer without its directory (a committed one, not used
			// yet) is unpacked from its blob on first use: the blob is
			// what must be there.
			if !blobOK(l.Blob.Digest) {
				problem("layer %s: blob %s is missing or corrupt", c, l.Blob.Digest)
				brokenLayer[c] = true
			}
			if l.Parent != "" {
				if _, ok := all[l.Parent]; !ok {
					problem("layer %s: parent layer %s is missing", c, l.Parent)
					brokenLayer[c] = true
				}
			}
		}
		recs, err := allRecords(tx)
		if err != nil {
			return err
		}
		rep.Images = len(recs)
		brokenImage := map[digest.Digest]bool{}
		ids := map[digest.Digest]bool{}
		for _, r := range recs {
			ids[r.ID] = true
			if !blobOK(r.ID) {
				problem("image %s: config blob is missing or corrupt", r.ID)
				brokenImage[r.ID] = true
			} else if raw, err := content.ReadBlob(ctx, s.cs, r.ID, MaxConfigSize); err != nil {
				problem("image %s: reading config: %v", r.ID, err)
				brokenImage[r.ID] = true
			} else if cfg, err := ParseConfig(raw); err != nil {
				problem("image %s: %v", r.ID, err)
				brokenImage[r.ID] = true
			} else {
				chain := layers.ChainIDs(cfg.RootFS.DiffIDs)
				top := digest.Digest("")
				if len(chain) > 0 {
					top = chain[len(chain)-1]
				}
				if top != r.ChainID {
					problem("image %s: record's top layer %s does not match its config (%s)", r.ID, r.ChainID, top)
					brokenImage[r.ID] = true
				}
			}
			if r.ChainID != "" && brokenCheck(r.ChainID, 0) {
				problem("image %s: layer %s (or one below it) is missing or broken", r.ID, r.ChainID)
				brokenImage[r.ID] = true
			}
			kept := slices.DeleteFunc(slices.Clone(r.Manifests), func(m ocispec.Descriptor) bool {
				if blobOK(m.Digest) {
					return false
				}
				problem("image %s: manifest blob %s is missing or corrupt", r.ID, m.Digest)
				if repair {
					rep.Repaired = append(rep.Repaired, fmt.Sprintf("dropped missing manifest %s from image %s", m.Digest, r.ID))
				}
				return true
			})
			if repair && len(kept) < len(r.Manifests) {
				// What the dropped manifests named is in use no more.
				r.Manifests = kept
				if r.ManifestBlobs, err = s.manifestBlobs(ctx, kept); err != nil {
					return fmt.Errorf("image %s: %w", r.ID, err)
				}
				if err := putRecord(tx, r); err != nil {
					return err
				}
			}
		}
		for _, r := range recs {
			if r.Parent != "" && !ids[r.Parent] {
				// Docker keeps a parent link only while the parent exists.
				problem("image %s: parent image %s is missing", r.ID, r.Parent)
				if repair {
					r.Parent = ""
					if err := putRecord(tx, r); err != nil {
						return err
					}
					rep.Repaired = append(rep.Repaired, fmt.Sprintf("cleared missing parent of image %s", r.ID))
				}
			}
		}
		if nb := metadata.ReadBucket(tx, namesBucket); nb != nil {
			var dangling [][]byte
			_ = nb.ForEach(func(k, v []byte) error {
				if !ids[digest.Digest(v)] || brokenImage[digest.Digest(v)] {
					problem("name %s points at missing or broken image %s", k, v)
					dangling = append(dangling, append([]byte(nil), k...))
				}
				return nil
			})
			if repair {
				for _, k := range dangling {
					if err := nb.Delete(k); err != nil {
						return err
					}
					rep.Repaired = append(rep.Repaired, "removed name "+string(k))
				}
			}
		}
		if repair {
			ib := metadata.ReadBucket(tx, imagesBucket)
			for id := range brokenImage {
				if err := ib.Delete([]byte(id)); err != nil {
					return err
				}
				rep.Repaired = append(rep.Repaired, "removed broken image "+id.String())
			}
			lb := metadata.ReadBucket(tx, layers.Bucket)
			for c := range all {
				if brokenCheck(c, 0) {
					if err := lb.Delete([]byte(c)); err != nil {
						return err
					}
					os.RemoveAll(s.ls.Dir(c))
					rep.Repaired = append(rep.Repaired, "removed broken layer "+c.String())
				}
			}
			if n, err := pruneLeases(tx); err != nil {
				return err
			} else if n > 0 {
				rep.Repaired = append(rep.Repaired, fmt.Sprintf("removed %d stale leases", n))
			}
		}
		for _, r := range metadata.Trashed(tx) {
			rep.Leftovers = append(rep.Leftovers, "pending deletion: "+r)
		}
		// Leftovers: layer directories without records (removed with the
		// interrupted writes below), unreferenced blobs.
		orphans, err := s.ls.OrphansTx(tx)
		if err != nil {
			return err
		}
		for _, o := range orphans {
			rep.Leftovers = append(rep.Leftovers, "layer directory without record: "+o.Name)
		}
		used, err := BlobsInUse(tx)
		if err != nil {
			return err
		}
		for d, info := range blobs {
			if used[d] || bad[d] {
				continue
			}
			rep.Leftovers = append(rep.Leftovers, "unreferenced blob "+d.String())
			if repair && time.Since(info.CreatedAt) > leftoverAge {
				s.cs.Delete(ctx, d)
			}
		}
		return nil
	}
	if repair {
		err = s.db.Update(ctx, fn)
		if err == nil {
			if err := s.ls.EmptyTrash(ctx); err != nil {
				return rep, err
			}
			if n := s.ls.Cleanup(); n > 0 {
				rep.Repaired = append(rep.Repaired, fmt.Sprintf("removed %d interrupted layer directories", n))
			}
			removed, err := s.PruneLeftovers(ctx)
			for _, l := range removed {
				rep.Repaired = append(rep.Repaired, fmt.Sprintf("removed %s (%d bytes)", l.What, l.Size))
			}
			if err != nil {
				return rep, err
			}
		}
	} else {
		err = s.db.View(ctx, fn)
	}
	if ingests, ierr := s.cs.Ingests(leftoverAge); ierr == nil {
		for _, in := range ingests {
			if !in.Live {
				rep.Leftovers = append(rep.Leftovers, fmt.Sprintf("interrupted blob write: content/ingest/%s (%d bytes)", in.Name, in.Size))
			}
		}
	}
	slices.Sort(rep.Problems)
	slices.Sort(rep.Leftovers)
	return rep, err
}

func verifyBlob(ctx context.Context, p content.Provider, d digest.Digest) (bool, error) {
	if d.Validate() != nil {
		return false, nil
	}
	r, err := p.Open(ctx, d)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	defer r.Close()
	v := d.Verifier()
	if _, err := io.Copy(v, r); err != nil {
		return false, fmt.Errorf("reading blob %s: %w", d, err)
	}
	return v.Verified(), nil
}
