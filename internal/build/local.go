package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/images"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/hoistproject/hoist/internal/mount"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/registry/client/distribution"
	"github.com/opencontainers/go-digest"
)

// This file holds the real implementations of the builder's roles, over
// the image store (internal/images), the layer store (internal/layers), the
// metadata database (internal/metadata), internal/mount and internal/archive.

// StoreImages is ImageSource and ImageWriter over the image store.
type StoreImages struct{ Store *images.Store }

// Resolve implements ImageSource.
func (s StoreImages) Resolve(ctx context.Context, ref string) (BaseImage, error) {
	f, err := s.Store.Get(ctx, ref)
	if err != nil {
		return BaseImage{}, err
	}
	return BaseImage{ID: f.ID, Config: f.RawConfig, ChainID: f.ChainID}, nil
}

// WriteImage implements ImageWriter: config blob, record and tags in the
// image store's one transaction (tags last).
func (s StoreImages) WriteImage(ctx context.Context, img NewImage) (digest.Digest, error) {
	// A no-op rebuild: the image exists and every tag already names it.
	id := digest.FromBytes(img.Config)
	if cur, err := s.Store.Resolve(ctx, id.String()); err == nil && cur.ID == id {
		same := true
		for _, t := range img.Tags {
			if r, err := s.Store.Resolve(ctx, t); err != nil || r.ID != id {
				same = false
				break
			}
		}
		if same {
			return id, nil
		}
	}
	r, err := s.Store.Create(ctx, images.NewImage{Config: img.Config, Names: img.Tags, Parent: img.Parent})
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// BoltCache is the CacheStore in the metadata database:
//
//	buildcache/records/<key>       JSON CacheRecord
//	buildcache/parents/<state ID>  "" (a step ran on this state)
//	buildcache/instrs/<hash>       "" (this instruction ran on that state)
//
// A record whose layer is gone from the layer store (removed by rmi or
// prune: the cache does not hold layers) is a miss.
type BoltCache struct{ DB *metadata.DB }

const cacheBucket = "buildcache"

// Get implements CacheStore.
func (c BoltCache) Get(ctx context.Context, key digest.Digest) (CacheRecord, bool, error) {
	var rec CacheRecord
	found := false
	err := c.DB.View(ctx, func(tx *metadata.Tx) error {
		b := metadata.ReadBucket(tx, cacheBucket, "records")
		if b == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return nil // a broken record is a miss
		}
		if c := rec.ChainID(); c != "" {
			if _, err := layers.GetTx(tx, c); err != nil {
				return nil
			}
		}
		found = true
		return nil
	})
	return rec, found, err
}

// Probe implements CacheStore.
func (c BoltCache) Probe(ctx context.Context, parent digest.Digest, instr string) (bool, bool, error) {
	var ps, is bool
	err := c.DB.View(ctx, func(tx *metadata.Tx) error {
		if b := metadata.ReadBucket(tx, cacheBucket, "parents"); b != nil {
			ps = b.Get([]byte(parent)) != nil
		}
		if b := metadata.ReadBucket(tx, cacheBucket, "instrs"); b != nil {
			is = b.Get([]byte(probeKey(parent, instr))) != nil
		}
		return nil
	})
	return ps, is, err
}

// Put implements CacheStore.
func (c BoltCache) Put(ctx context.Context, entries []CacheEntry) error {
	return c.DB.Update(ctx, func(tx *metadata.Tx) error {
		rb, err := metadata.WriteBucket(tx, cacheBucket, "records")
		if err != nil {
			return err
		}
		pb, err := metadata.WriteBucket(tx, cacheBucket, "parents")
		if err != nil {
			return err
		}
		ib, err := metadata.WriteBucket(tx, cacheBucket, "instrs")
		if err != nil {
			return err
		}
		for _, e := range entries {
			v, err := json.Marshal(e.Record)
			if err != nil {
				return err
			}
			if err := rb.Put([]byte(e.Key), v); err != nil {
				return err
			}
			if err := pb.Put([]byte(e.Parent), []byte{}); err != nil {
				return err
			}
			if err := ib.Put([]byte(probeKey(e.Parent, e.Instr)), []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
}

// CacheUsage is what the build cache holds (the Build Cache line of
// `system df`).
type CacheUsage struct {
	Records int
	// Size is the bytes of the layers only cache records use, plus the
	// RUN --mount=type=cache directories.
	Size int64
}

// DiskUsage measures the build cache of the store's root.
func DiskUsage(ctx context.Context, st *images.Store) (CacheUsage, error) {
	var u CacheUsage
	err := st.DB().View(ctx, func(tx *metadata.Tx) error {
		all, err := layers.AllTx(tx)
		if err != nil {
			return err
		}
		reach := func(roots map[digest.Digest]bool) map[digest.Digest]bool {
			seen := map[digest.Digest]bool{}
			for c := range roots {
				for c != "" && !seen[c] {
					seen[c] = true
					c = all[c].Parent
				}
			}
			return seen
		}
		imgRoots := map[digest.Digest]bool{}
		if err := st.LayerRefs(tx, imgRoots); err != nil {
			return err
		}
		cacheRoots := map[digest.Digest]bool{}
		if b := metadata.ReadBucket(tx, cacheBucket, "records"); b != nil {
			u.Records = b.Stats().KeyN
		}
		if err := (BoltCache{}).LayerRefs(tx, cacheRoots); err != nil {
			return err
		}
		used := reach(imgRoots)
		for c := range reach(cacheRoots) {
			if !used[c] {
				u.Size += all[c].Size
			}
		}
		return nil
	})
	u.Size += dirSize(filepath.Join(st.Root(), "build", "cache"))
	return u, err
}

// LayerRefs implements layers.Users for the build cache: every layer a
// cache record names. Pass it to layers.Store.Release where cached layers
// must survive (builder prune passes nothing of the cache).
func (c BoltCache) LayerRefs(tx *metadata.Tx, refs map[digest.Digest]bool) error {
	b := metadata.ReadBucket(tx, cacheBucket, "records")
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		var rec CacheRecord
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
			mounts = append(mounts, pruneItem{id: e.Name(), mount: p, created: fi.ModTime(), size: dirSize(p)})
		}
	}
	var doomedMounts []pruneItem
	err := st.DB().Update(ctx, func(tx *metadata.Tx) error {
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
				var rec CacheRecord
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
		removed, err := st.Layers().Release(ctx, tx, append(users, BoltCache{}))
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
	if err := st.Layers().EmptyTrash(ctx); err != nil {
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

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// OverlaySnapshotter prepares overlay root filesystems over the layer
// store and commits upper dirs as new layers. Its working directories are
// under Dir (<root>/build/tmp/<pid>/), cleaned by CleanupStale after a crash.
type OverlaySnapshotter struct {
	Layers *layers.Store
	Dir    string
}

// MaxLayers is the most layers overlayfs can stack (the kernel's
// OVL_MAX_STACK).
const MaxLayers = 500

// checkLayerCount refuses, before any mount, a stack overlayfs cannot mount.
func checkLayerCount(n int) error {
	if n > MaxLayers {
		return errdefs.FailedPreconditionf("the image has %d layers: overlayfs stacks at most %d (combine RUN steps or squash layers)", n, MaxLayers)
	}
	return nil
}

type overlaySnap struct {
	o      *OverlaySnapshotter
	parent digest.Digest
	dir    string // holds upper/ work/ rootfs/ (and empty/ for scratch)
	root   string
	mnt    bool
	done   bool
}

func (o *OverlaySnapshotter) tmp() (string, error) {
	d := filepath.Join(o.Dir, strconv.Itoa(os.Getpid()))
	for i := 0; ; i++ {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", err
		}
		// A finishing build of this process may remove d when empty.
		dir, err := os.MkdirTemp(d, "snap-")
		if err == nil || i > 2 || !errors.Is(err, fs.ErrNotExist) {
			return dir, err
		}
	}
}

func (o *OverlaySnapshotter) lowers(ctx context.Context, chainID digest.Digest, dir string) ([]string, error) {
	if chainID == "" {
		empty := filepath.Join(dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return nil, err
		}
		return []string{empty}, nil
	}
	return o.Layers.LowerDirs(ctx, chainID)
}

// Prepare implements Snapshotter.
func (o *OverlaySnapshotter) Prepare(ctx context.Context, parent digest.Digest) (Snapshot, error) {
	dir, err := o.tmp()
	if err != nil {
		return nil, err
	}
	s := &overlaySnap{o: o, parent: parent, dir: dir, root: filepath.Join(dir, "rootfs")}
	fail := func(err error) (Snapshot, error) {
		s.Release(ctx)
		return nil, err
	}
	for _, d := range []string{"upper", "work", "rootfs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return fail(err)
		}
	}
	lowers, err := o.lowers(ctx, parent, dir)
	if err != nil {
		return fail(err)
	}
	if err := checkLayerCount(len(lowers)); err != nil {
		return fail(err)
	}
	m := mount.Overlay(lowers, filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if err := m.Mount(s.root); err != nil {
		return fail(fmt.Errorf("mounting build rootfs (%d layers): %w", len(lowers), err))
	}
	s.mnt = true
	return s, nil
}

func (s *overlaySnap) Root() string { return s.root }

func (s *overlaySnap) Upper() string { return filepath.Join(s.dir, "upper") }

func (s *overlaySnap) unmount() error {
	if !s.mnt {
		return nil
	}
	if err := mount.UnmountAll(s.root); err != nil {
		return err
	}
	s.mnt = false
	return nil
}

// Commit implements Snapshot: the upper dir, an overlay-format layer, is
// moved into the layer store and written once as a layer tar
// (archive.DiffOverlay) for the blob.
func (s *overlaySnap) Commit(ctx context.Context, opts CommitOptions) (Layer, bool, error) {
	defer s.Release(context.WithoutCancel(ctx))
	if err := s.unmount(); err != nil {
		return Layer{}, false, err
	}
	upper := filepath.Join(s.dir, "upper")
	ents, err := os.ReadDir(upper)
	if err != nil {
		return Layer{}, false, err
	}
	if len(ents) == 0 {
		return Layer{}, true, nil
	}
	// The upper dir is already an overlay-format layer: it is moved into
	// the layer store and its tar written once, never re-extracted.
	l, err := s.o.Layers.CreateFromDir(ctx, s.parent, upper, func(ctx context.Context, w io.Writer, dir string) error {
		return archive.DiffOverlay(ctx, w, dir, archive.DiffOptions{SourceDateEpoch: opts.SourceDateEpoch})
	})
	if errors.Is(err, syscall.EXDEV) {
		// The build directory is on another filesystem than the layer
		// store: stream the tar and unpack it there instead.
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(archive.DiffOverlay(ctx, pw, upper, archive.DiffOptions{SourceDateEpoch: opts.SourceDateEpoch}))
		}()
		l, err = s.o.Layers.Create(ctx, s.parent, pr, layers.CreateOptions{})
		pr.CloseWithError(errors.New("layer creation ended"))
	}
	if err != nil {
		return Layer{}, false, fmt.Errorf("storing layer: %w", err)
	}
	return Layer{DiffID: l.DiffID, ChainID: l.ChainID}, false, nil
}

// Release implements Snapshot.
func (s *overlaySnap) Release(ctx context.Context) error {
	if s.done {
		return nil
	}
	if err := s.unmount(); err != nil {
		return err
	}
	s.done = true
	return os.RemoveAll(s.dir)
}

// View implements Snapshotter: a read-only mount of the chain (a single
// layer is used in place).
func (o *OverlaySnapshotter) View(ctx context.Context, chainID digest.Digest) (string, func() error, error) {
	if chainID == "" {
		dir, err := o.tmp()
		if err != nil {
			return "", nil, err
		}
		return dir, func() error { return os.RemoveAll(dir) }, nil
	}
	lowers, err := o.Layers.LowerDirs(ctx, chainID)
	if err != nil {
		return "", nil, err
	}
	if len(lowers) == 1 {
		return lowers[0], func() error { return nil }, nil
	}
	dir, err := o.tmp()
	if err != nil {
		return "", nil, err
	}
	target := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(target, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	if err := mount.Overlay(lowers, "", "").Mount(target); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return target, func() error {
		if err := mount.UnmountAll(target); err != nil {
			return err
		}
		return os.RemoveAll(dir)
	}, nil
}

// Squash implements Squasher as docker's squash does: the two trees are
// compared (archive.DiffDirs, docker's naive diff) and the changes stored as
// one layer on base, so what was added and deleted again above base is
// absent and what was deleted from base is a whiteout.
func (o *OverlaySnapshotter) Squash(ctx context.Context, base, top digest.Digest, opts CommitOptions) (Layer, error) {
	lower, releaseLower, err := o.View(ctx, base)
	if err != nil {
		return Layer{}, err
	}
	defer releaseLower()
	upper, releaseUpper, err := o.View(ctx, top)
	if err != nil {
		return Layer{}, err
	}
	defer releaseUpper()
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(archive.DiffDirs(ctx, pw, lower, upper, archive.DiffOptions{SourceDateEpoch: opts.SourceDateEpoch}))
	}()
	l, err := o.Layers.Create(ctx, base, pr, layers.CreateOptions{})
	pr.CloseWithError(errors.New("layer creation ended"))
	if err != nil {
		return Layer{}, fmt.Errorf("storing squashed layer: %w", err)
	}
	return Layer{DiffID: l.DiffID, ChainID: l.ChainID}, nil
}

// CleanupStale unmounts and removes the temporary areas of dead builder
// processes under tmpDir (<root>/build/tmp/<pid>/), left by a kill -9.
func CleanupStale(tmpDir string) int {
	ents, err := os.ReadDir(tmpDir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		dir := filepath.Join(tmpDir, e.Name())
		mps, _ := mount.MountPoints(dir)
		// Deepest first.
		for i := len(mps) - 1; i >= 0; i-- {
			_ = mount.UnmountAll(mps[i])
		}
		if left, _ := mount.MountPoints(dir); len(left) > 0 {
			continue // never remove through a mount
		}
		if os.RemoveAll(dir) == nil {
			n++
		}
	}
	return n
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ArchiveUnpacker is the Unpacker of ADD over internal/archive: the
// stream is decompressed (gzip, bzip2, xz, zstd) and applied when it is a
// tar archive.
type ArchiveUnpacker struct{}

// Unpack implements Unpacker.
func (ArchiveUnpacker) Unpack(ctx context.Context, mkdir func() (string, error), r io.Reader) (bool, error) {
	dec, _, err := archive.DecompressStream(r)
	if err != nil {
		return false, nil
	}
	defer dec.Close()
	// A tar archive has "ustar" at offset 257 of its first header block.
	head := make([]byte, 512)
	n, err := io.ReadFull(dec, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, nil
	}
	if n < 263 || !strings.HasPrefix(string(head[257:263]), "ustar") {
		return false, nil
	}
	dir, err := mkdir()
	if err != nil {
		return true, err
	}
	if _, err := archive.Apply(ctx, dir, io.MultiReader(strings.NewReader(string(head[:n])), dec), archive.ApplyOptions{}); err != nil {
		return true, errdefs.InvalidArgument(err)
	}
	return true, nil
}

// NewLocal returns a Builder over the stores of a hoist root. runner runs
// RUN steps (nil: builds with RUN fail with a clear error).
func NewLocal(st *images.Store, runner Runner) *Builder {
	dir := filepath.Join(st.Root(), "build")
	// After a kill -9: first stop the dead builds' containers, then
	// unmount and remove their snapshots.
	if c, ok := runner.(interface{ Cleanup() }); ok {
		c.Cleanup()
	}
	CleanupStale(filepath.Join(dir, "tmp"))
	snaps := &OverlaySnapshotter{Layers: st.Layers(), Dir: filepath.Join(dir, "tmp")}
	return &Builder{
		Images:    StoreImages{st},
		Writer:    StoreImages{st},
		Snapshots: snaps,
		Squasher:  snaps,
		Cache:     BoltCache{st.DB()},
		Unpacker:  ArchiveUnpacker{},
		Runner:    runner,
		Dir:       dir,
		Lease:     st.DB().WithLease,
		Tar: func(ctx context.Context, w io.Writer, dir string, epoch *time.Time) error {
			return archive.Tar(ctx, w, dir, archive.TarOptions{SourceDateEpoch: epoch})
		},
	}
}

// RegistryPuller is the Puller over the registry client: the image is pulled
// into the store (tag written last) as `hoist pull` does, then resolved.
type RegistryPuller struct {
	Client *client.Client
	Store  *images.Store
}

// Pull implements Puller.
func (p RegistryPuller) Pull(ctx context.Context, ref string) (BaseImage, error) {
	n, err := reference.ParseTagged(ref)
	if err != nil {
		return BaseImage{}, err
	}
	res, err := distribution.Pull(ctx, p.Client, p.Store, n, distribution.PullOptions{})
	if err != nil {
		return BaseImage{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	return StoreImages{p.Store}.Resolve(ctx, res.ImageID.String())
}
