package storage

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// GCOptions tunes a garbage collection.
type GCOptions struct {
	// DryRun reports what would be freed and deletes nothing.
	DryRun bool
	// DeleteUntagged also removes manifests no tag reaches (directly, as an
	// index child, or as a referrer of a kept manifest).
	DeleteUntagged bool
	// Grace protects blobs and manifests younger than this (0: none; a
	// registry serving pushes needs one, see doc.go).
	Grace time.Duration
	// UploadMaxAge purges upload sessions idle for longer (0: keep them).
	UploadMaxAge time.Duration
}

// GCReport says what a collection found and freed.
type GCReport struct {
	DryRun           bool            `json:"dryRun"`
	BlobsMarked      int             `json:"blobsMarked"`
	BlobsDeleted     []digest.Digest `json:"blobsDeleted"`
	BytesFreed       int64           `json:"bytesFreed"`
	ManifestsDeleted []string        `json:"manifestsDeleted"` // repo@digest
	LinksRemoved     int             `json:"linksRemoved"`
	UploadsPurged    int             `json:"uploadsPurged"`
	BlobsTooYoung    int             `json:"blobsTooYoung"`
}

// GC collects unreferenced blobs (and, with DeleteUntagged, untagged
// manifests). It is safe while the registry serves pushes: see doc.go.
func (s *Store) GC(ctx context.Context, opts GCOptions) (GCReport, error) {
	grace := opts.Grace
	if grace < 0 {
		return GCReport{}, errdefs.InvalidArgumentf("negative GC grace period %s", grace)
	}
	rep := GCReport{DryRun: opts.DryRun, BlobsDeleted: []digest.Digest{}, ManifestsDeleted: []string{}}
	repos, err := s.Catalog(ctx)
	if err != nil {
		return rep, err
	}
	marked := map[digest.Digest]bool{}
	for _, repo := range repos {
		if err := s.markRepo(ctx, repo, opts, grace, marked, &rep); err != nil {
			return rep, err
		}
	}
	rep.BlobsMarked = len(marked)

	// Sweep blobs.
	var candidates []content.Info
	err = s.blobs.Walk(ctx, func(info content.Info) error {
		if !marked[info.Digest] {
			candidates = append(candidates, info)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	for _, info := range candidates {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if time.Since(s.drv.LastUsed(ctx, info)) < grace {
			rep.BlobsTooYoung++
			continue
		}
		if opts.DryRun {
			rep.BlobsDeleted = append(rep.BlobsDeleted, info.Digest)
			rep.BytesFreed += info.Size
			continue
		}
		deleted, err := s.deleteIfOld(ctx, info.Digest, grace)
		if err != nil {
			return rep, err
		}
		if deleted {
			rep.BlobsDeleted = append(rep.BlobsDeleted, info.Digest)
			rep.BytesFreed += info.Size
		} else {
			rep.BlobsTooYoung++
		}
	}

	// Remove repository links to blobs that are gone.
	if !opts.DryRun {
		for _, repo := range repos {
			for _, alg := range algorithms {
				dir := repoDir(repo) + "/_layers/" + string(alg)
				ents, _ := s.drv.List(ctx, dir)
				for _, e := range ents {
					d := digest.NewDigestFromEncoded(alg, e.Name)
					if d.Validate() != nil || e.Dir {
						continue
					}
					if !s.BlobExists(ctx, d) && s.drv.Remove(ctx, dir+"/"+e.Name) == nil {
						rep.LinksRemoved++
					}
				}
			}
		}
	}
	if opts.UploadMaxAge > 0 && !opts.DryRun {
		n, freed, err := s.PurgeUploads(ctx, opts.UploadMaxAge)
		rep.UploadsPurged = n
		rep.BytesFreed += freed
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// deleteIfOld deletes a blob under the exclusive GC lock unless it was
// touched within the grace period.
func (s *Store) deleteIfOld(ctx context.Context, d digest.Digest, grace time.Duration) (bool, error) {
	unlock, err := s.drv.LockGC(true)
	if err != nil {
		return false, err
	}
	defer unlock()
	info, err := s.blobs.Info(ctx, d)
	if err != nil || time.Since(s.drv.LastUsed(ctx, info)) < grace {
		return false, nil
	}
	if err := s.blobs.Delete(ctx, d); err != nil {
		return false, nil
	}
	return true, nil
}

type revision struct {
	d   digest.Digest
	mod time.Time
}

func (s *Store) revisions(ctx context.Context, repo string) []revision {
	var out []revision
	for _, alg := range algorithms {
		ents, _ := s.drv.List(ctx, repoDir(repo)+"/_manifests/revisions/"+string(alg))
		for _, e := range ents {
			d := digest.NewDigestFromEncoded(alg, e.Name)
			if d.Validate() != nil || e.Dir {
				continue
			}
			out = append(out, revision{d: d, mod: e.ModTime})
		}
	}
	return out
}

func (s *Store) markRepo(ctx context.Context, repo string, opts GCOptions, grace time.Duration, marked map[digest.Digest]bool, rep *GCReport) error {
	revs := s.revisions(ctx, repo)
	keep := map[digest.Digest]bool{}
	var queue []digest.Digest
	add := func(d digest.Digest) {
		if !keep[d] {
			keep[d] = true
			queue = append(queue, d)
		}
	}
	if !opts.DeleteUntagged {
		for _, r := range revs {
			add(r.d)
		}
	} else {
		tags, _ := s.Tags(ctx, repo)
		for _, t := range tags {
			b, err := s.drv.ReadFile(ctx, tagPath(repo, t))
			if err != nil {
				continue
			}
			if d, err := ParseDigest(strings.TrimSpace(string(b))); err == nil {
				add(d)
			}
		}
		for _, r := range revs {
			if time.Since(r.mod) < grace {
				add(r.d)
			}
		}
	}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := queue[0]
		queue = queue[1:]
		marked[d] = true
		m, err := s.manifestByDigest(ctx, repo, d)
		if err != nil {
			continue
		}
		var pm parsedManifest
		if json.Unmarshal(m.Body, &pm) != nil {
			continue
		}
		if pm.Config != nil {
			marked[pm.Config.Digest] = true
		}
		for _, l := range pm.Layers {
			marked[l.Digest] = true
		}
		for _, c := range pm.Manifests {
			add(c.Digest)
		}
		// Referrers of a kept manifest are kept.
		if refs, err := s.Referrers(ctx, repo, d, ""); err == nil {
			for _, r := range refs {
				add(r.Digest)
			}
		}
	}
	if opts.DeleteUntagged {
		for _, r := range revs {
			if keep[r.d] {
				continue
			}
			rep.ManifestsDeleted = append(rep.ManifestsDeleted, repo+"@"+r.d.String())
			if !opts.DryRun {
				if err := s.DeleteManifest(ctx, repo, r.d); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
