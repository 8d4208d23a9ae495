package cache

import (
	"github.com/hoistproject/hoist/internal/images"
	"github.com/opencontainers/go-digest"
)

// FromImages looks for a step in the history of images (--cache-from): an
// image whose history (created_by and empty_layer of every entry) and
// layers start with those of cur, the config of the current state whose top
// layer is top, and whose next history entry is createdBy gives the step's
// outcome: that entry, and when it is not an empty layer, the image's next
// layer on top of top (only for a step that may make a layer, layered).
func FromImages(cur *images.Config, top digest.Digest, imgs []*images.Config, createdBy string, layered bool) (Outcome, bool) {
	h, d := len(cur.History), len(cur.RootFS.DiffIDs)
	for _, ci := range imgs {
		if len(ci.History) <= h || len(ci.RootFS.DiffIDs) < d {
			continue
		}
		same := true
		for i := range cur.History {
			a, b := cur.History[i], ci.History[i]
			if a.CreatedBy != b.CreatedBy || a.EmptyLayer != b.EmptyLayer {
				same = false
				break
			}
		}
		for i := 0; same && i < d; i++ {
			same = cur.RootFS.DiffIDs[i] == ci.RootFS.DiffIDs[i]
		}
		next := ci.History[h]
		if !same || next.CreatedBy != createdBy {
			continue
		}
		o := Outcome{History: &next, ChainID: top}
		if !next.EmptyLayer {
			if len(ci.RootFS.DiffIDs) <= d || !layered {
				continue
			}
			o.DiffID = ci.RootFS.DiffIDs[d]
			o.ChainID = chainID(top, o.DiffID)
		}
		return o, true
	}
	return Outcome{}, false
}

// chainID is the chainID of diffID on top of parent (OCI image spec).
func chainID(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.FromString(parent.String() + " " + diffID.String())
}
