package layers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/mediatype"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
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

// CreateOptions tune Create.
type CreateOptions struct {
	// Digest is the expected digest of the blob as read ("" unknown).
	Digest digest.Digest
	// DiffID is the expected diffID ("" unknown). When the layer already
	// exists it is returned without reading the blob.
	DiffID digest.Digest
	// MediaType of the blob as read; "" means derive from the sniffed
	// compression.
	MediaType string
	// KeepCompressed stores a gzip or zstd blob as read (pull, load).
	// Otherwise the decompressed tar is stored (import, commit, build).
	KeepCompressed bool
	// MaxBytes is the decompression-bomb limit passed to archive.Apply.
	MaxBytes int64
	// NoSameOwner: do not chown extracted files.
	NoSameOwner bool
	// Prepared are layers already unpacked from blobs (by blob digest):
	// CreateChainFromBlobs commits them instead of unpacking those blobs,
	// consuming the ones it uses.
	Prepared map[digest.Digest]*Prepared
}

// Create unpacks the layer blob read from r on top of parent (a chainID, ""
// for a base layer), stores the blob and records the layer. Carry a lease in
// ctx (metadata.WithLease) to keep the layer until an image references it.
func (s *Store) Create(ctx context.Context, parent digest.Digest, r io.Reader, opts CreateOptions) (Layer, error) {
	return s.create(ctx, parent, r, opts, nil)
}

// CreateFromBlob unpacks a layer blob already in the content store (load,
// pull) on top of parent and records it with that blob. diffID is the
// expected diffID from the image config ("" unknown); when the layer exists
// the blob is not read.
func (s *Store) CreateFromBlob(ctx context.Context, parent digest.Digest, blob ocispec.Descriptor, diffID digest.Digest, opts CreateOptions) (Layer, error) {
	opts.DiffID = diffID
	if diffID != "" {
		if l, err := s.existing(ctx, chainOf(parent, diffID)); err == nil {
			return l, nil
		} else if !errdefs.IsNotFound(err) {
			return Layer{}, err
		}
	}
	rc, err := s.cs.Open(ctx, blob.Digest)
	if err != nil {
		return Layer{}, fmt.Errorf("layer blob %s: %w", blob.Digest, err)
	}
	defer rc.Close()
	return s.create(ctx, parent, rc, opts, &blob)
}

// nopWriter stands in for a content writer when the blob is already stored.
type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func (s *Store) create(ctx context.Context, parent digest.Digest, r io.Reader, opts CreateOptions, stored *ocispec.Descriptor) (Layer, error) {
	if parent != "" {
		if _, err := s.Get(ctx, parent); err != nil {
			return Layer{}, fmt.Errorf("parent layer: %w", err)
		}
	}
	if opts.DiffID != "" {
		if l, err := s.existing(ctx, chainOf(parent, opts.DiffID)); err == nil {
			return l, nil
		} else if !errdefs.IsNotFound(err) {
			return Layer{}, err
		}
	}
	u, err := s.unpack(ctx, r, opts, stored)
	if err != nil {
		return Layer{}, err
	}
	if err := syncFS(u.tmp); err != nil {
		os.RemoveAll(u.tmp)
		return Layer{}, fmt.Errorf("syncing layer: %w", err)
	}
	l, err := s.commit(ctx, parent, u)
	if err != nil {
		os.RemoveAll(u.tmp)
	}
	return l, err
}

// unpacked is a layer unpacked into layers/tmp, not yet recorded.
type unpacked struct {
	tmp    string
	synced bool // already synced (Prepare)
	diffID digest.Digest
	size   int64
	blob   ocispec.Descriptor
}

// newTmp makes a directory for a layer being unpacked by this process:
// layers/tmp/<pid>-<random>, holding diff/.
func (s *Store) newTmp() (tmp, diff string, err error) {
	tmp = filepath.Join(s.dir, "tmp", fmt.Sprintf("%d-%s", os.Getpid(), randHex()))
	diff = filepath.Join(tmp, "diff")
	if err := os.MkdirAll(diff, 0o755); err != nil {
		return "", "", fmt.Errorf("layer store: %w", err)
	}
	return tmp, diff, nil
}

// extract applies a layer tar stream onto diff (overlay form) and reads the
// stream to its end, so that a caller hashing it sees every byte.
func extract(ctx context.Context, diff string, tarStream io.Reader, opts CreateOptions) (int64, error) {
	size, err := archive.Apply(ctx, diff, tarStream, archive.ApplyOptions{Overlay: true, MaxBytes: opts.MaxBytes, NoSameOwner: opts.NoSameOwner})
	if err != nil {
		return 0, errdefs.InvalidArgument(fmt.Errorf("unpacking layer: %w", err))
	}
	if _, err := io.Copy(io.Discard, tarStream); err != nil {
		return 0, errdefs.InvalidArgument(fmt.Errorf("reading layer: %w", err))
	}
	return size, nil
}

// blobMediaType is the media type recorded for a layer blob: the one given
// (stored descriptor first, then opts) for a blob kept as read, else the one
// of its sniffed compression.
func blobMediaType(opts CreateOptions, stored *ocispec.Descriptor, comp archive.Compression) string {
	mt := opts.MediaType
	if stored != nil && stored.MediaType != "" {
		mt = stored.MediaType
	}
	if !opts.KeepCompressed {
		return ocispec.MediaTypeImageLayer
	}
	if mt != "" {
		return mt
	}
	return mediatype.Layer(comp.String(), true)
}

// unpack streams a layer blob into layers/tmp (and its blob into content,
// unless stored), hashing the diffID. It does not sync: the caller syncs
// once (syncFS) before committing.
func (s *Store) unpack(ctx context.Context, r io.Reader, opts CreateOptions, stored *ocispec.Descriptor) (*unpacked, error) {
	tmp, diff, err := s.newTmp()
	if err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(tmp)
		}
	}()

	alg := digest.Canonical
	if opts.Digest != "" {
		if err := opts.Digest.Validate(); err != nil {
			return nil, errdefs.InvalidArgumentf("invalid layer digest %q: %v", opts.Digest, err)
		}
		alg = opts.Digest.Algorithm()
	}
	var w content.Writer
	var sink io.Writer = nopWriter{}
	if stored == nil {
		var err error
		if w, err = s.cs.Writer(ctx, alg); err != nil {
			return nil, err
		}
		defer w.Close()
		sink = w
	} else {
		opts.KeepCompressed = true
	}

	// raw: the blob as read. It goes into content when kept compressed.
	raw := r
	if opts.KeepCompressed {
		raw = io.TeeReader(r, sink)
	}
	dec, comp, err := archive.DecompressStream(raw)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("layer blob: %v", err)
	}
	defer dec.Close()
	keepCompressed := opts.KeepCompressed && (comp == archive.Gzip || comp == archive.Zstd || comp == archive.Uncompressed)
	if opts.KeepCompressed && !keepCompressed {
		return nil, errdefs.InvalidArgumentf("layer blob %s: unsupported compression (only gzip and zstd layers can be stored)", opts.Digest)
	}
	// The diffID is the sha256 of the uncompressed tar. Hash it only when no
	// other hash already gives it: an uncompressed stored blob is named by
	// it (and was verified when stored), and an uncompressed tar written to
	// content here is hashed by the content writer.
	var diffIDer digest.Digester
	var tarStream io.Reader = dec
	switch {
	case stored != nil && comp == archive.Uncompressed && stored.Digest.Algorithm() == digest.Canonical:
	case !opts.KeepCompressed && alg == digest.Canonical:
		tarStream = io.TeeReader(tarStream, sink)
	default:
		diffIDer = digest.Canonical.Digester()
		tarStream = io.TeeReader(dec, diffIDer.Hash())
		if !opts.KeepCompressed {
			tarStream = io.TeeReader(tarStream, sink)
		}
	}
	size, err := extract(ctx, diff, tarStream, opts)
	if err != nil {
		return nil, err
	}
	if opts.KeepCompressed {
		// the rest of the blob (past the end of the compressed stream)
		if _, err := io.Copy(io.Discard, raw); err != nil {
			return nil, fmt.Errorf("reading layer blob: %w", err)
		}
	}
	var diffID digest.Digest
	switch {
	case diffIDer != nil:
		diffID = diffIDer.Digest()
	case stored != nil:
		diffID = stored.Digest
	default:
		diffID = w.Digest()
	}
	if opts.DiffID != "" && opts.DiffID != diffID {
		return nil, errdefs.DataLossf("layer diffID mismatch: expected %s, got %s", opts.DiffID, diffID)
	}
	var blob ocispec.Descriptor
	if stored != nil {
		blob = *stored
	} else {
		// Claim (and lease) the digest before the blob becomes visible, so
		// that a concurrent deletion of an equal blob cannot remove ours.
		if err := s.db.AddResources(ctx, BlobResource(w.Digest())); err != nil {
			return nil, err
		}
		info, err := w.Commit(ctx, -1, opts.Digest)
		if err != nil {
			return nil, err
		}
		blob = ocispec.Descriptor{Digest: info.Digest, Size: info.Size}
	}
	keep = true
	return &unpacked{tmp: tmp, diffID: diffID, size: size, blob: ocispec.Descriptor{MediaType: blobMediaType(opts, stored, comp), Digest: blob.Digest, Size: blob.Size}}, nil
}

// commit moves an unpacked layer into place on top of parent and records
// it, in one transaction; an equal layer recorded meanwhile wins. On success
// u.tmp is consumed (moved into place, or removed when an equal layer won);
// on error it is left where it was, for the caller to remove or give back.
func (s *Store) commit(ctx context.Context, parent digest.Digest, u *unpacked) (Layer, error) {
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
	if existing != nil {
		// Same content already stored: this copy is not needed.
		os.RemoveAll(tmp)
		return *existing, nil
	}
	return l, nil
}

// existing returns the layer record and adds it to ctx's lease.
func (s *Store) existing(ctx context.Context, chainID digest.Digest) (Layer, error) {
	var l Layer
	err := s.db.Update(ctx, func(tx *metadata.Tx) error {
		var err error
		if l, err = GetTx(tx, chainID); err != nil {
			return err
		}
		return metadata.AddResource(ctx, tx, Resource(chainID))
	})
	return l, err
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

// CreateChainFromBlobs makes sure the layers of an image exist, given their
// blobs (already in the content store, bottom first) and diffIDs. Missing
// layers are taken from opts.Prepared when there (their diffID checked),
// else unpacked from their blobs in parallel (a layer directory does not
// depend on the layers below it); then one syncfs makes them durable and
// they are recorded in order, each on top of the one below. Existing layers
// are added to ctx's lease without reading their blobs.
func (s *Store) CreateChainFromBlobs(ctx context.Context, blobs []ocispec.Descriptor, diffIDs []digest.Digest, opts CreateOptions) ([]Layer, error) {
	if len(blobs) != len(diffIDs) {
		return nil, errdefs.InvalidArgumentf("%d layer blobs for %d diffIDs", len(blobs), len(diffIDs))
	}
	chain := ChainIDs(diffIDs)
	out := make([]Layer, len(chain))
	have := make([]bool, len(chain))
	err := s.db.Update(ctx, func(tx *metadata.Tx) error {
		for i, c := range chain {
			l, err := GetTx(tx, c)
			if errdefs.IsNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			out[i], have[i] = l, true
			if err := metadata.AddResource(ctx, tx, Resource(c)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	todo := make([]*unpacked, len(chain))
	defer func() {
		for _, u := range todo {
			if u != nil {
				os.RemoveAll(u.tmp)
			}
		}
	}()
	for i := range chain {
		if p := opts.Prepared[blobs[i].Digest]; !have[i] && p != nil && p.tmp != "" {
			u, err := p.take(blobs[i], diffIDs[i], opts)
			if err != nil {
				return nil, fmt.Errorf("layer %d (%s): %w", i, blobs[i].Digest, err)
			}
			todo[i] = u // nil when p could not tell its diffID
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, runtime.NumCPU()))
	for i := range chain {
		if have[i] || todo[i] != nil {
			continue
		}
		g.Go(func() error {
			rc, err := s.cs.Open(gctx, blobs[i].Digest)
			if err != nil {
				return fmt.Errorf("layer %d blob %s: %w", i, blobs[i].Digest, err)
			}
			defer rc.Close()
			o := opts
			o.DiffID = diffIDs[i]
			u, err := s.unpack(gctx, rc, o, &blobs[i])
			if err != nil {
				return fmt.Errorf("layer %d (%s): %w", i, blobs[i].Digest, err)
			}
			todo[i] = u
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// One syncfs makes every new directory durable before any is recorded.
	for _, u := range todo {
		if u != nil && !u.synced {
			if err := syncFS(u.tmp); err != nil {
				return nil, fmt.Errorf("syncing layers: %w", err)
			}
			break
		}
	}
	for i := range chain {
		if have[i] {
			continue
		}
		var parent digest.Digest
		if i > 0 {
			parent = chain[i-1]
		}
		if out[i], err = s.commit(ctx, parent, todo[i]); err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, blobs[i].Digest, err)
		}
		todo[i] = nil // consumed by commit
	}
	return out, nil
}
