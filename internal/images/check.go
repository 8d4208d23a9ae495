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
// check`); with repair it removes broken records and garbage. Its phases
// are the methods of checker, in order.
func (s *Store) Check(ctx context.Context, repair bool) (CheckReport, error) {
	c := &checker{s: s, repair: repair, bad: map[digest.Digest]bool{}, blobs: map[digest.Digest]content.Info{},
		brokenLayer: map[digest.Digest]bool{}, brokenImage: map[digest.Digest]bool{}, ids: map[digest.Digest]bool{}}
	if err := c.verifyBlobs(ctx); err != nil {
		return c.rep, err
	}
	// Records and their references, in one write transaction when
	// repairing (so the fixes are consistent), else a read one.
	fn := func(tx *metadata.Tx) error {
		for _, phase := range []func(context.Context, *metadata.Tx) error{
			c.checkLayers, c.checkImages, c.checkParents, c.checkNames, c.removeBroken, c.findLeftovers,
		} {
			if err := phase(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if repair {
		if err = s.db.Update(ctx, fn); err == nil {
			err = c.removeGarbage(ctx)
		}
	} else {
		err = s.db.View(ctx, fn)
	}
	if ingests, ierr := s.cs.Ingests(leftoverAge); ierr == nil {
		for _, in := range ingests {
			if !in.Live {
				c.leftover("interrupted blob write: content/ingest/%s (%d bytes)", in.Name, in.Size)
			}
		}
	}
	slices.Sort(c.rep.Problems)
	slices.Sort(c.rep.Leftovers)
	return c.rep, err
}

// checker is one run of Check: what it found so far.
type checker struct {
	s      *Store
	repair bool
	rep    CheckReport

	blobs       map[digest.Digest]content.Info // every blob
	bad         map[digest.Digest]bool         // blobs whose bytes do not match their name
	layers      map[digest.Digest]layers.Layer // every layer record
	brokenLayer map[digest.Digest]bool
	recs        []Record // every image record
	ids         map[digest.Digest]bool
	brokenImage map[digest.Digest]bool
}

func (c *checker) problem(format string, a ...any) {
	c.rep.Problems = append(c.rep.Problems, fmt.Sprintf(format, a...))
}

func (c *checker) repaired(format string, a ...any) {
	c.rep.Repaired = append(c.rep.Repaired, fmt.Sprintf(format, a...))
}

func (c *checker) leftover(format string, a ...any) {
	c.rep.Leftovers = append(c.rep.Leftovers, fmt.Sprintf(format, a...))
}

// blobOK: d is stored and its bytes match its name.
func (c *checker) blobOK(d digest.Digest) bool {
	_, ok := c.blobs[d]
	return ok && !c.bad[d]
}

// verifyBlobs: every blob's bytes hash to its name; corrupt ones are
// removed with repair.
func (c *checker) verifyBlobs(ctx context.Context) error {
	err := c.s.cs.Walk(ctx, func(info content.Info) error {
		c.rep.Blobs++
		c.blobs[info.Digest] = info
		ok, err := verifyBlob(ctx, c.s.cs, info.Digest)
		if err != nil {
			return err
		}
		if !ok {
			c.bad[info.Digest] = true
			c.problem("blob %s: content does not match its digest", info.Digest)
		}
		return nil
	})
	if err != nil || !c.repair {
		return err
	}
	for d := range c.bad {
		if err := c.s.cs.Delete(ctx, d); err == nil {
			c.repaired("removed corrupt blob %s", d)
		}
	}
	return nil
}

// layerBroken: layer l, or one below it, is missing or broken.
func (c *checker) layerBroken(l digest.Digest) bool {
	for depth := 0; depth <= 10000; depth++ {
		rec, ok := c.layers[l]
		if !ok || c.brokenLayer[l] {
			return true
		}
		if rec.Parent == "" {
			return false
		}
		l = rec.Parent
	}
	return true
}

// checkLayers: every layer's blob is there (a committed layer without
// its directory is unpacked from it on first use) and so is its parent.
func (c *checker) checkLayers(_ context.Context, tx *metadata.Tx) error {
	all, err := layers.AllTx(tx)
	if err != nil {
		return err
	}
	c.layers = all
	c.rep.Layers = len(all)
	for id, l := range all {
		if !c.blobOK(l.Blob.Digest) {
			c.problem("layer %s: blob %s is missing or corrupt", id, l.Blob.Digest)
			c.brokenLayer[id] = true
		}
		if l.Parent != "" {
			if _, ok := all[l.Parent]; !ok {
				c.problem("layer %s: parent layer %s is missing", id, l.Parent)
				c.brokenLayer[id] = true
			}
		}
	}
	return nil
}

// checkImages: every image's config is there and names its top layer,
// its layers are whole, its manifests are there (missing ones are
// dropped from the record with repair).
func (c *checker) checkImages(ctx context.Context, tx *metadata.Tx) error {
	recs, err := allRecords(tx)
	if err != nil {
		return err
	}
	c.recs = recs
	c.rep.Images = len(recs)
	for _, r := range recs {
		c.ids[r.ID] = true
		if err := c.checkConfig(ctx, r); err != nil {
			c.problem("image %s: %v", r.ID, err)
			c.brokenImage[r.ID] = true
		}
		if r.ChainID != "" && c.layerBroken(r.ChainID) {
			c.problem("image %s: layer %s (or one below it) is missing or broken", r.ID, r.ChainID)
			c.brokenImage[r.ID] = true
		}
		kept := slices.DeleteFunc(slices.Clone(r.Manifests), func(m ocispec.Descriptor) bool {
			if c.blobOK(m.Digest) {
				return false
			}
			c.problem("image %s: manifest blob %s is missing or corrupt", r.ID, m.Digest)
			if c.repair {
				c.repaired("dropped missing manifest %s from image %s", m.Digest, r.ID)
			}
			return true
		})
		if c.repair && len(kept) < len(r.Manifests) {
			// What the dropped manifests named is in use no more.
			r.Manifests = kept
			if r.ManifestBlobs, err = c.s.manifestBlobs(ctx, kept); err != nil {
				return fmt.Errorf("image %s: %w", r.ID, err)
			}
			if err := putRecord(tx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkConfig: r's config blob is there, parses, and names r's top layer.
func (c *checker) checkConfig(ctx context.Context, r Record) error {
	if !c.blobOK(r.ID) {
		return fmt.Errorf("config blob is missing or corrupt")
	}
	raw, err := content.ReadBlob(ctx, c.s.cs, r.ID, MaxConfigSize)
	if err != nil {
		return fmt.Errorf("reading config: %v", err)
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return err
	}
	chain := layers.ChainIDs(cfg.RootFS.DiffIDs)
	top := digest.Digest("")
	if len(chain) > 0 {
		top = chain[len(chain)-1]
	}
	if top != r.ChainID {
		return fmt.Errorf("record's top layer %s does not match its config (%s)", r.ChainID, top)
	}
	return nil
}

// checkParents: docker keeps a parent link only while the parent exists;
// a missing one is cleared with repair.
func (c *checker) checkParents(_ context.Context, tx *metadata.Tx) error {
	for _, r := range c.recs {
		if r.Parent == "" || c.ids[r.Parent] {
			continue
		}
		c.problem("image %s: parent image %s is missing", r.ID, r.Parent)
		if c.repair {
			r.Parent = ""
			if err := putRecord(tx, r); err != nil {
				return err
			}
			c.repaired("cleared missing parent of image %s", r.ID)
		}
	}
	return nil
}

// checkNames: every name points at a whole image; the others are
// removed with repair.
func (c *checker) checkNames(_ context.Context, tx *metadata.Tx) error {
	nb := metadata.ReadBucket(tx, namesBucket)
	if nb == nil {
		return nil
	}
	var dangling [][]byte
	_ = nb.ForEach(func(k, v []byte) error {
		if !c.ids[digest.Digest(v)] || c.brokenImage[digest.Digest(v)] {
			c.problem("name %s points at missing or broken image %s", k, v)
			dangling = append(dangling, append([]byte(nil), k...))
		}
		return nil
	})
	if !c.repair {
		return nil
	}
	for _, k := range dangling {
		if err := nb.Delete(k); err != nil {
			return err
		}
		c.repaired("removed name %s", k)
	}
	return nil
}

// removeBroken (repair only): broken images and layers go, and stale
// leases.
func (c *checker) removeBroken(_ context.Context, tx *metadata.Tx) error {
	if !c.repair {
		return nil
	}
	ib := metadata.ReadBucket(tx, imagesBucket)
	for id := range c.brokenImage {
		if err := ib.Delete([]byte(id)); err != nil {
			return err
		}
		c.repaired("removed broken image %s", id)
	}
	lb := metadata.ReadBucket(tx, layers.Bucket)
	for id := range c.layers {
		if c.layerBroken(id) {
			if err := lb.Delete([]byte(id)); err != nil {
				return err
			}
			os.RemoveAll(c.s.ls.Dir(id))
			c.repaired("removed broken layer %s", id)
		}
	}
	if n, err := pruneLeases(tx); err != nil {
		return err
	} else if n > 0 {
		c.repaired("removed %d stale leases", n)
	}
	return nil
}

// findLeftovers: deletions pending, layer directories without records
// (removed with the interrupted writes, removeGarbage), unreferenced
// blobs (removed with repair once older than leftoverAge).
func (c *checker) findLeftovers(ctx context.Context, tx *metadata.Tx) error {
	for _, r := range metadata.Trashed(tx) {
		c.leftover("pending deletion: %s", r)
	}
	orphans, err := c.s.ls.OrphansTx(tx)
	if err != nil {
		return err
	}
	for _, o := range orphans {
		c.leftover("layer directory without record: %s", o.Name)
	}
	used, err := BlobsInUse(tx)
	if err != nil {
		return err
	}
	for d, info := range c.blobs {
		if used[d] || c.bad[d] {
			continue
		}
		c.leftover("unreferenced blob %s", d)
		if c.repair && time.Since(info.CreatedAt) > leftoverAge {
			c.s.cs.Delete(ctx, d)
		}
	}
	return nil
}

// removeGarbage (repair, after the records' transaction): the trash,
// interrupted layer directories and the other leftovers.
func (c *checker) removeGarbage(ctx context.Context) error {
	if err := c.s.ls.EmptyTrash(ctx); err != nil {
		return err
	}
	if n := c.s.ls.Cleanup(); n > 0 {
		c.repaired("removed %d interrupted layer directories", n)
	}
	removed, err := c.s.PruneLeftovers(ctx)
	for _, l := range removed {
		c.repaired("removed %s (%d bytes)", l.What, l.Size)
	}
	return err
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
