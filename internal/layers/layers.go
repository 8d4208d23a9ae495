package layers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// Bucket is the metadata bucket owned by this package.
const Bucket = "layers"

// Layer is the record of one unpacked layer.
type Layer struct {
	ChainID digest.Digest `json:"chainID"`
	DiffID  digest.Digest `json:"diffID"`
	Parent  digest.Digest `json:"parent,omitempty"` // chainID of the layer below
	// Size is the bytes of regular-file content in the layer.
	Size int64 `json:"size"`
	// Blob is the stored layer blob (compressed or not) in the content store.
	Blob    ocispec.Descriptor `json:"blob"`
	Created time.Time          `json:"created"`
}

// Store is the layer store of one hoist root. It holds no mutable state.
type Store struct {
	dir string // <root>/layers
	db  *metadata.DB
	cs  content.Store
	// overlay is the root's overlay kind (mount.ChooseOverlay): layer
	// directories are lowers of that kind of mount.
	overlay string
}

// OverlayKind is the kind of overlay mount the layers are stacked with
// (mount.KernelOverlay or mount.FuseOverlay).
func (s *Store) OverlayKind() string { return s.overlay }

// New opens the layer store under root (creating layers/ and layers/tmp)
// and removes leftovers of dead processes from layers/tmp.
func New(root string, db *metadata.DB, cs content.Store) (*Store, error) {
	s := &Store{dir: filepath.Join(root, "layers"), db: db, cs: cs}
	if err := os.MkdirAll(filepath.Join(s.dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("layer store: %w", err)
	}
	fsutil.MarkTopDir(filepath.Join(s.dir, "tmp"))
	kind, err := mount.ChooseOverlay(root)
	if err != nil {
		return nil, fmt.Errorf("layer store: %w", err)
	}
	s.overlay = kind
	s.Cleanup()
	return s, nil
}

// Dir is the directory of the layer with this chainID (holding diff/).
func (s *Store) Dir(chainID digest.Digest) string {
	return filepath.Join(s.dir, chainID.Encoded())
}

// DiffDir is the unpacked content of the layer: an overlay lowerdir.
func (s *Store) DiffDir(chainID digest.Digest) string {
	return filepath.Join(s.Dir(chainID), "diff")
}

// Cleanup removes what dead processes left in layers/tmp (interrupted
// unpacks and deletions) and returns how many entries it removed.
func (s *Store) Cleanup() int {
	tmp := filepath.Join(s.dir, "tmp")
	ents, _ := os.ReadDir(tmp)
	n := 0
	for _, e := range ents {
		name := e.Name()
		if pidStr, _, ok := strings.Cut(name, "-"); ok && pidStr != "del" {
			if pid, err := strconv.Atoi(pidStr); err == nil && fsutil.ProcessAlive(pid) {
				continue
			}
		}
		if os.RemoveAll(filepath.Join(tmp, name)) == nil {
			n++
		}
	}
	return n
}

func randHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Resource is the lease resource name of a layer.
func Resource(chainID digest.Digest) string { return "layer/" + chainID.String() }

// BlobResource is the lease resource name of a blob.
func BlobResource(d digest.Digest) string { return "blob/" + d.String() }

// commit moves a staged layer into place on top of parent and records it,
// in one transaction; an equal layer recorded meanwhile wins. On success
// u.tmp is consumed (moved into place, or removed when an equal layer won)
// and u emptied; on error it is left where it was, for the caller to remove
// (Discard) or give back.
func (s *Store) commit(ctx context.Context, parent digest.Digest, u *Staged) (Layer, error) {
	tmp := u.tmp
	committed := false
	l := Layer{
		ChainID: chainOf(parent, u.diffID),
		DiffID:  u.diffID,
		Parent:  parent,
		Size:    u.size,
		Blob:    u.blob,
		Created: time.Now().UTC(),
	}
	var existing *Layer
	err := s.db.Update(ctx, func(tx *metadata.Tx) error {
		b, err := metadata.WriteBucket(tx, Bucket)
		if err != nil {
			return err
		}
		if v := b.Get([]byte(l.ChainID)); v != nil {
			var old Layer
			if err := json.Unmarshal(v, &old); err != nil {
				return errdefs.DataLossf("layer record %s: %v", l.ChainID, err)
			}
			existing = &old
			return metadata.AddResource(ctx, tx, Resource(l.ChainID))
		}
		if parent != "" && b.Get([]byte(parent)) == nil {
			return errdefs.NotFoundf("parent layer %s was removed concurrently", parent)
		}
		if _, err := s.cs.Info(ctx, l.Blob.Digest); err != nil {
			return fmt.Errorf("layer blob %s was removed concurrently: %w", l.Blob.Digest, err)
		}
		final := s.Dir(l.ChainID)
		if _, err := os.Lstat(final); err == nil {
			// A directory without a record: left by a crash. Replace it.
			trash := filepath.Join(s.dir, "tmp", "del-"+randHex())
			if err := os.Rename(final, trash); err != nil {
				return fmt.Errorf("moving stale layer dir aside: %w", err)
			}
			defer os.RemoveAll(trash)
		}
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("committing layer %s: %w", l.ChainID, err)
		}
		committed = true
		if err := syncDir(s.dir); err != nil {
			return err
		}
		v, _ := json.Marshal(l)
		if err := b.Put([]byte(l.ChainID), v); err != nil {
			return err
		}
		if err := metadata.Claim(tx, BlobResource(l.Blob.Digest)); err != nil {
			return err
		}
		return metadata.AddResource(ctx, tx, Resource(l.ChainID))
	})
	if err != nil {
		if committed {
			// The rename happened but the record did not commit: undo.
			os.Rename(s.Dir(l.ChainID), tmp)
		}
		return Layer{}, err
	}
	u.tmp = "" // consumed
	if existing != nil {
		// Same content already stored: this copy is not needed.
		os.RemoveAll(tmp)
		return *existing, nil
	}
	return l, nil
}

func chainOf(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return identity.ChainID([]digest.Digest{parent, diffID})
}

// ChainIDs returns the chainID of every prefix of diffIDs.
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
		} else {
			out[i] = chainOf(out[i-1], d)
		}
	}
	return out
}

// Get returns the record of a layer (errdefs.NotFound when absent).
func (s *Store) Get(ctx context.Context, chainID digest.Digest) (Layer, error) {
	var l Layer
	err := s.db.View(ctx, func(tx *metadata.Tx) error {
		var err error
		l, err = GetTx(tx, chainID)
		return err
	})
	return l, err
}

// GetTx reads a layer record inside a transaction.
func GetTx(tx *metadata.Tx, chainID digest.Digest) (Layer, error) {
	var l Layer
	b := metadata.ReadBucket(tx, Bucket)
	var v []byte
	if b != nil {
		v = b.Get([]byte(chainID))
	}
	if v == nil {
		return l, errdefs.NotFoundf("layer %s not found", chainID)
	}
	if err := json.Unmarshal(v, &l); err != nil {
		return l, errdefs.DataLossf("layer record %s: %v", chainID, err)
	}
	return l, nil
}

// AllTx reads every layer record.
func AllTx(tx *metadata.Tx) (map[digest.Digest]Layer, error) {
	out := map[digest.Digest]Layer{}
	b := metadata.ReadBucket(tx, Bucket)
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		var l Layer
		if err := json.Unmarshal(v, &l); err != nil {
			return errdefs.DataLossf("layer record %s: %v", k, err)
		}
		out[l.ChainID] = l
		return nil
	})
	return out, err
}

// List returns every layer record.
func (s *Store) List(ctx context.Context) ([]Layer, error) {
	var all map[digest.Digest]Layer
	err := s.db.View(ctx, func(tx *metadata.Tx) error {
		var err error
		all, err = AllTx(tx)
		return err
	})
	out := make([]Layer, 0, len(all))
	for _, l := range all {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Layer) int { return strings.Compare(string(a.ChainID), string(b.ChainID)) })
	return out, err
}

// Chain returns the layers from the base up to chainID ("" gives none).
func (s *Store) Chain(ctx context.Context, chainID digest.Digest) ([]Layer, error) {
	var out []Layer
	err := s.db.View(ctx, func(tx *metadata.Tx) error {
		var err error
		out, err = ChainTx(tx, chainID)
		return err
	})
	return out, err
}

// ChainTx is Chain inside a transaction.
func ChainTx(tx *metadata.Tx, chainID digest.Digest) ([]Layer, error) {
	var out []Layer
	for c := chainID; c != ""; {
		l, err := GetTx(tx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
		c = l.Parent
		if len(out) > 10000 {
			return nil, errdefs.DataLossf("layer chain of %s loops", chainID)
		}
	}
	slices.Reverse(out)
	return out, nil
}

// LowerDirs returns the overlay lowerdirs of the stack ending at chainID,
// topmost first (overlay's order), unpacking those not yet unpacked
// (Materialize).
func (s *Store) LowerDirs(ctx context.Context, chainID digest.Digest) ([]string, error) {
	chain, err := s.Chain(ctx, chainID)
	if err != nil {
		return nil, err
	}
	if err := s.Materialize(ctx, chain...); err != nil {
		return nil, err
	}
	dirs := make([]string, 0, len(chain))
	for i := len(chain) - 1; i >= 0; i-- {
		dirs = append(dirs, s.DiffDir(chain[i].ChainID))
	}
	return dirs, nil
}

func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}

// Users report the layers they use: the top chainID of each stack (the
// layers below are implied through the parent chain). The image store is a
// User; so is the container store.
type Users interface {
	LayerRefs(tx *metadata.Tx, refs map[digest.Digest]bool) error
}

// Release deletes, inside tx, the records of every layer that no User
// reaches and no live lease holds, and puts their directories and the blobs
// no remaining layer shares in the trash (package metadata). Call
// EmptyTrash after tx has committed to delete the files.
func (s *Store) Release(ctx context.Context, tx *metadata.Tx, users []Users) (removed []Layer, err error) {
	all, err := AllTx(tx)
	if err != nil {
		return nil, err
	}
	leased := metadata.LeasedResources(tx)
	roots := map[digest.Digest]bool{}
	for _, u := range users {
		if err := u.LayerRefs(tx, roots); err != nil {
			return nil, err
		}
	}
	for r := range leased {
		if c, ok := strings.CutPrefix(r, "layer/"); ok {
			roots[digest.Digest(c)] = true
		}
	}
	keep := map[digest.Digest]bool{}
	for c := range roots {
		for c != "" && !keep[c] {
			keep[c] = true
			c = all[c].Parent
		}
	}
	keepBlobs := map[digest.Digest]bool{}
	for c, l := range all {
		if keep[c] {
			keepBlobs[l.Blob.Digest] = true
		}
	}
	b := metadata.ReadBucket(tx, Bucket)
	for c, l := range all {
		if keep[c] {
			continue
		}
		if err := b.Delete([]byte(c)); err != nil {
			return nil, err
		}
		if err := metadata.Trash(tx, Resource(c)); err != nil {
			return nil, err
		}
		removed = append(removed, l)
	}
	for _, l := range removed {
		d := l.Blob.Digest
		if d == "" || keepBlobs[d] || leased[BlobResource(d)] {
			continue
		}
		keepBlobs[d] = true // once
		if err := metadata.Trash(tx, BlobResource(d)); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(removed, func(a, b Layer) int { return depth(all, b) - depth(all, a) })
	return removed, nil
}

// EmptyTrash deletes the files of the resources in the trash (layer
// directories and blobs) that nobody claimed, under the metadata lock, then
// the trash entries.
func (s *Store) EmptyTrash(ctx context.Context) error {
	var dirs []string
	err := s.db.Update(ctx, func(tx *metadata.Tx) error {
		dirs = nil
		res := metadata.Trashed(tx)
		if len(res) == 0 {
			return nil
		}
		lb := metadata.ReadBucket(tx, Bucket)
		for _, r := range res {
			switch {
			case strings.HasPrefix(r, "layer/"):
				c := digest.Digest(strings.TrimPrefix(r, "layer/"))
				if c.Validate() != nil || (lb != nil && lb.Get([]byte(c)) != nil) {
					break // invalid, or recreated meanwhile
				}
				trash := filepath.Join(s.dir, "tmp", "del-"+randHex())
				if err := os.Rename(s.Dir(c), trash); err == nil {
					dirs = append(dirs, trash)
				} else if !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("removing layer %s: %w", c, err)
				}
			case strings.HasPrefix(r, "blob/"):
				d := digest.Digest(strings.TrimPrefix(r, "blob/"))
				if d.Validate() != nil {
					break
				}
				if err := s.cs.Delete(ctx, d); err != nil && !errdefs.IsNotFound(err) {
					return fmt.Errorf("removing blob %s: %w", d, err)
				}
			}
		}
		return metadata.Claim(tx, res...)
	})
	for _, d := range dirs {
		os.RemoveAll(d)
	}
	return err
}

// depth is the number of layers below l (for top-down ordering).
func depth(all map[digest.Digest]Layer, l Layer) int {
	n := 0
	for c := l.Parent; c != "" && n < 10000; c = all[c].Parent {
		n++
	}
	return n
}
