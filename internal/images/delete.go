package images

import (
	"context"
	"slices"
	"strings"

	dref "github.com/distribution/reference"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
)

// DeleteItem is one line of rmi's output: an untagged reference (familiar
// form) or a deleted image ID / layer chainID.
type DeleteItem struct {
	Untagged string `json:"Untagged,omitempty"`
	Deleted  string `json:"Deleted,omitempty"`
}

// DeleteOptions are rmi's flags.
type DeleteOptions struct {
	Force   bool // remove an image with several references or used by stopped containers
	NoPrune bool // keep untagged parent images
}

// ShortID is the 12-hex-digit form of an ID.
func ShortID(id digest.Digest) string {
	h := id.Encoded()
	return h[:min(12, len(h))]
}

// deleter runs one rmi or prune inside one transaction.
type deleter struct {
	ctx   context.Context
	s     *Store
	tx    *metadata.Tx
	items []DeleteItem
	// freed is the unpacked size of the layers removed.
	freed int64
	users map[digest.Digest][]ContainerUse
}

func (s *Store) newDeleter(ctx context.Context, tx *metadata.Tx) (*deleter, error) {
	users, err := s.imageUsers(tx)
	if err != nil {
		return nil, err
	}
	return &deleter{ctx: ctx, s: s, tx: tx, users: users}, nil
}

// finish deletes the files of what the committed transaction put in the
// trash. A failure leaves only trash entries, retried by the next deletion
// or `system check --repair`.
func (d *deleter) finish(committed bool) {
	if committed {
		_ = d.s.ls.EmptyTrash(d.ctx)
	}
}

// refs are the tags and repo digests of an image (normalised).
func (d *deleter) refs(r Record) []string {
	out := namesOf(d.tx, r.ID)
	return append(out, r.RepoDigests...)
}

func isCanonical(ref string) bool { return strings.Contains(ref, "@") }

// isSingleReference: at most one tag, and every reference in one repository.
func isSingleReference(refs []string) bool {
	if len(refs) <= 1 {
		return len(refs) == 1
	}
	single := ""
	canonical := map[string]bool{}
	for _, r := range refs {
		if isCanonical(r) {
			canonical[repoOf(r)] = true
		} else if single == "" {
			single = r
		} else {
			return false
		}
	}
	if single == "" {
		single = refs[0]
	}
	return len(canonical) == 1 && canonical[repoOf(single)]
}

func (d *deleter) removeRef(r *Record, ref string) error {
	if isCanonical(ref) {
		r.RepoDigests = slices.DeleteFunc(r.RepoDigests, func(x string) bool { return x == ref })
		if err := putRecord(d.tx, *r); err != nil {
			return err
		}
	} else if err := deleteName(d.tx, ref); err != nil {
		return err
	}
	d.items = append(d.items, DeleteItem{Untagged: Familiar(ref)})
	return nil
}

// Delete removes an image reference or image as `docker rmi` does, and
// returns the Untagged/Deleted lines.
func (s *Store) Delete(ctx context.Context, ref string, opts DeleteOptions) ([]DeleteItem, error) {
	var d *deleter
	err := s.db.Update(ctx, func(tx *metadata.Tx) error {
		var err error
		if d, err = s.newDeleter(ctx, tx); err != nil {
			return err
		}
		return d.delete(ref, opts)
	})
	if d != nil {
		d.finish(err == nil)
	}
	if err != nil {
		return nil, err
	}
	return d.items, nil
}

func isIDPrefix(id digest.Digest, ref string) bool {
	return strings.HasPrefix(id.String(), ref) || strings.HasPrefix(id.Encoded(), ref)
}

func (d *deleter) delete(ref string, opts DeleteOptions) error {
	r, err := resolve(d.tx, ref)
	if err != nil {
		return err
	}
	refs := d.refs(r)
	removedRepoRef := false
	if !isIDPrefix(r.ID, ref) {
		if !opts.Force && isSingleReference(refs) {
			if u := d.users[r.ID]; len(u) > 0 {
				return errdefs.Conflictf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ref, shortCID(u[0].ID), ShortID(r.ID))
			}
		}
		n, err := dref.ParseNormalizedNamed(ref)
		if err != nil {
			return errdefs.InvalidArgumentf("invalid reference format %q: %v", ref, err)
		}
		_, canonical := n.(dref.Canonical)
		if !canonical {
			n = dref.TagNameOnly(n)
		}
		if err := d.removeRef(&r, n.String()); err != nil {
			return err
		}
		refs = d.refs(r)
		if !canonical {
			repo := dref.TrimNamed(n).String()
			hasTag := slices.ContainsFunc(refs, func(x string) bool { return !isCanonical(x) && repoOf(x) == repo })
			if !hasTag {
				for _, x := range refs {
					if isCanonical(x) && repoOf(x) == repo {
						if err := d.removeRef(&r, x); err != nil {
							return err
						}
					}
				}
				refs = d.refs(r)
			}
		}
		if len(refs) > 0 {
			return nil
		}
		removedRepoRef = true
	} else if isSingleReference(refs) {
		mask := conflictHard
		if !opts.Force {
			mask |= conflictSoft &^ conflictActiveReference
		}
		if c := d.conflict(r, mask); c != nil {
			return c.error
		}
		for _, x := range refs {
			if err := d.removeRef(&r, x); err != nil {
				return err
			}
		}
	}
	return d.deleteImage(r.ID, opts.Force, !opts.NoPrune, removedRepoRef)
}

func shortCID(id string) string { return id[:min(12, len(id))] }

const (
	conflictDependentChild = 1 << iota
	conflictRunningContainer
	conflictActiveReference
	conflictStoppedContainer
	conflictHard = conflictDependentChild | conflictRunningContainer
	conflictSoft = conflictActiveReference | conflictStoppedContainer
)

type conflictError struct {
	error
	used bool
}

func (d *deleter) children(id digest.Digest) bool {
	recs, _ := allRecords(d.tx)
	return slices.ContainsFunc(recs, func(r Record) bool { return r.Parent == id })
}

func (d *deleter) conflict(r Record, mask int) *conflictError {
	short := ShortID(r.ID)
	if mask&conflictDependentChild != 0 && d.children(r.ID) {
		return &conflictError{error: errdefs.Conflictf("conflict: unable to delete %s (cannot be forced) - image has dependent child images", short)}
	}
	if mask&conflictRunningContainer != 0 {
		for _, u := range d.users[r.ID] {
			if u.Running {
				return &conflictError{used: true, error: errdefs.Conflictf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", short, shortCID(u.ID))}
			}
		}
	}
	// Any tag or digest reference is an active reference: it stops the
	// pruning of untagged parents at a tagged one, as docker does.
	if mask&conflictActiveReference != 0 {
		switch n := len(d.refs(r)); {
		case n > 1:
			return &conflictError{error: errdefs.Conflictf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", short)}
		case n == 1:
			return &conflictError{error: errdefs.Conflictf("conflict: unable to delete %s (must be forced) - image is referenced in one or more repositories", short)}
		}
	}
	if mask&conflictStoppedContainer != 0 {
		for _, u := range d.users[r.ID] {
			if !u.Running {
				return &conflictError{used: true, error: errdefs.Conflictf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", short, shortCID(u.ID))}
			}
		}
	}
	return nil
}

// deleteImage removes an image record (and all its references), frees the
// layers nothing else uses, and prunes untagged parents.
func (d *deleter) deleteImage(id digest.Digest, force, prune, quiet bool) error {
	r, ok, err := getRecord(d.tx, id)
	if err != nil || !ok {
		return err
	}
	mask := conflictHard
	if !force {
		mask |= conflictSoft
	}
	if c := d.conflict(r, mask); c != nil {
		dangling := len(d.refs(r)) == 0 && !d.children(id)
		if quiet && (!dangling || c.used) {
			return nil
		}
		return c.error
	}
	for _, x := range d.refs(r) {
		if err := d.removeRef(&r, x); err != nil {
			return err
		}
	}
	if err := metadata.ReadBucket(d.tx, imagesBucket).Delete([]byte(id)); err != nil {
		return err
	}
	d.items = append(d.items, DeleteItem{Deleted: id.String()})
	if err := d.release(r.blobs()...); err != nil {
		return err
	}
	if !prune || r.Parent == "" {
		return nil
	}
	return d.deleteImage(r.Parent, false, true, true)
}

// release frees the layers nothing uses any more and the blobs of a
// deleted image (its config, its manifests and what they name), every
// freed blob decided by BlobsInUse (releaseLayers).
func (d *deleter) release(blobs ...digest.Digest) error {
	removed, err := d.s.releaseLayers(d.ctx, d.tx, d.s.layerUsers(), blobs)
	for _, l := range removed {
		d.items = append(d.items, DeleteItem{Deleted: l.ChainID.String()})
		d.freed += l.Size
	}
	return err
}

// ReleaseLayers frees, inside tx, the layers that neither this store's
// users (images, containers) nor extra (the build cache's records) reach
// and no live lease holds (layers.Store.Release), and decides their blobs
// by BlobsInUse as rmi does: a blob another image's stored manifest names
// stays. Call EmptyTrash after tx has committed. Every removal of
// layers outside this package (builder prune) goes through it.
func (s *Store) ReleaseLayers(ctx context.Context, tx *metadata.Tx, extra ...layers.Users) ([]layers.Layer, error) {
	return s.releaseLayers(ctx, tx, append(s.layerUsers(), extra...), nil)
}

// releaseLayers is layers.Store.Release for users, then the one decision
// for the blobs it freed and the given ones: those still in use
// (BlobsInUse: a layer's blob that another image's manifest names, a blob
// another image or a live lease holds) are taken out of the trash, the
// others go to it.
func (s *Store) releaseLayers(ctx context.Context, tx *metadata.Tx, users []layers.Users, blobs []digest.Digest) ([]layers.Layer, error) {
	removed, err := s.ls.Release(ctx, tx, users)
	if err != nil {
		return nil, err
	}
	for _, l := range removed {
		if l.Blob.Digest != "" {
			blobs = append(blobs, l.Blob.Digest)
		}
	}
	if len(blobs) == 0 {
		return removed, nil
	}
	inUse, err := BlobsInUse(tx)
	if err != nil {
		return nil, err
	}
	for _, b := range blobs {
		res := layers.BlobResource(b)
		if inUse[b] {
			err = metadata.Claim(tx, res)
		} else {
			err = metadata.Trash(tx, res)
		}
		if err != nil {
			return nil, err
		}
	}
	return removed, nil
}

// BlobsInUse is the one rule for whether a blob of the content store may be
// deleted: it may not while an image record names it (config, manifests
// and the blobs they name), a layer record names it (its blob), or a live
// lease holds it. Decided
// inside a metadata transaction, so that nobody starts or stops using a
// blob meanwhile (writers claim a blob in their lease before relying on it).
func BlobsInUse(tx *metadata.Tx) (map[digest.Digest]bool, error) {
	used := map[digest.Digest]bool{}
	recs, err := allRecords(tx)
	if err != nil {
		return nil, err
	}
	for _, o := range recs {
		for _, d := range o.blobs() {
			used[d] = true
		}
	}
	all, err := layers.AllTx(tx)
	if err != nil {
		return nil, err
	}
	for _, l := range all {
		used[l.Blob.Digest] = true
	}
	for r := range metadata.LeasedResources(tx) {
		if d, ok := strings.CutPrefix(r, "blob/"); ok {
			used[digest.Digest(d)] = true
		}
	}
	return used, nil
}

// pruneLeases deletes the leases of dead processes (metadata.PruneLeases)
// and trashes the blobs they held that nothing else uses (BlobsInUse): a
// process killed before a record named what it wrote is their only owner.
func pruneLeases(tx *metadata.Tx) (int, error) {
	n, held, err := metadata.PruneLeases(tx)
	if err != nil || len(held) == 0 {
		return n, err
	}
	inUse, err := BlobsInUse(tx)
	if err != nil {
		return n, err
	}
	for r := range held {
		d, ok := strings.CutPrefix(r, "blob/")
		if ok && digest.Digest(d).Validate() == nil && !inUse[digest.Digest(d)] {
			if err := metadata.Trash(tx, r); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// DiscardBlobs is the rollback of an operation that wrote blobs (load,
// pull) and failed, or no longer needs some of them: blobs is what it
// created itself (not blobs it found already stored). In one transaction it
// drops them from the lease of ctx and trashes those nothing else uses
// (BlobsInUse: another image, layer or live lease); the trash is emptied
// after the commit. So a rollback never removes content that an existing
// image or a concurrent operation holds.
func (s *Store) DiscardBlobs(ctx context.Context, blobs []digest.Digest) error {
	if len(blobs) == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	res := make([]string, len(blobs))
	for i, d := range blobs {
		res[i] = layers.BlobResource(d)
	}
	err := s.db.Update(ctx, func(tx *metadata.Tx) error {
		if err := metadata.DropResources(ctx, tx, res...); err != nil {
			return err
		}
		inUse, err := BlobsInUse(tx)
		if err != nil {
			return err
		}
		for _, d := range blobs {
			if !inUse[d] {
				if err := metadata.Trash(tx, layers.BlobResource(d)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.ls.EmptyTrash(ctx)
}
