package images

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	dref "github.com/distribution/reference"
	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/hoistproject/hoist/internal/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ContainerUse is one container using an image.
type ContainerUse struct {
	ID      string
	Running bool
}

// Containers is implemented by the container store so that rmi, prune and
// df know which images and layers containers use.
type Containers interface {
	layers.Users
	// ImageUsers maps image ID -> containers created from it.
	ImageUsers(tx *metadata.Tx) (map[digest.Digest][]ContainerUse, error)
}

// Store is the image store of one hoist root. It holds no mutable state
// besides its collaborators.
type Store struct {
	root       string
	db         *metadata.DB
	cs         *content.Local
	ls         *layers.Store
	containers Containers
}

// Open opens the stores of a hoist root: content under <root>/content,
// layers under <root>/layers, records in <root>/metadata.db.
func Open(root string) (*Store, error) {
	cs, err := content.NewLocal(filepath.Join(root, "content"))
	if err != nil {
		return nil, err
	}
	db := metadata.Open(root)
	ls, err := layers.New(root, db, cs)
	if err != nil {
		return nil, err
	}
	return &Store{root: root, db: db, cs: cs, ls: ls}, nil
}

// SetContainers plugs in the container store (the hook for rmi/prune/df).
func (s *Store) SetContainers(c Containers) { s.containers = c }

// Root is the hoist root directory.
func (s *Store) Root() string { return s.root }

// LayerRefs implements layers.Users: every image's top layer.
func (s *Store) LayerRefs(tx *metadata.Tx, refs map[digest.Digest]bool) error {
	recs, err := allRecords(tx)
	for _, r := range recs {
		if r.ChainID != "" {
			refs[r.ChainID] = true
		}
	}
	return err
}

// LayerUsers are the users of layers this store knows: its images and,
// when set, the containers (pass them to layers.Store.Release).
func (s *Store) LayerUsers() []layers.Users { return s.layerUsers() }

func (s *Store) layerUsers() []layers.Users {
	u := []layers.Users{s}
	if s.containers != nil {
		u = append(u, s.containers)
	}
	return u
}

func (s *Store) imageUsers(tx *metadata.Tx) (map[digest.Digest][]ContainerUse, error) {
	if s.containers == nil {
		return map[digest.Digest][]ContainerUse{}, nil
	}
	return s.containers.ImageUsers(tx)
}

func noSuchImage(ref string) error { return errdefs.NotFoundf("No such image: %s", ref) }

// NormalizeName parses a tag target (name[:tag], "latest" by default) and
// returns its normalised string.
func NormalizeName(s string) (string, error) {
	n, err := reference.ParseRepoTag(s)
	if err != nil {
		return "", err
	}
	return n.String(), nil
}

// Familiar shortens a normalised name for display (docker.io/library/x:t -> x:t).
func Familiar(name string) string {
	n, err := dref.ParseNormalizedNamed(name)
	if err != nil {
		return name
	}
	return dref.FamiliarString(n)
}

func fullID(s string) (digest.Digest, bool) {
	h := strings.TrimPrefix(s, "sha256:")
	if len(h) == 64 && reference.LooksLikeID(h) {
		return digest.Digest("sha256:" + h), true
	}
	return "", false
}

// resolve finds the image ref names, in docker's order: full ID, name,
// name@digest, unique ID prefix.
func resolve(tx *metadata.Tx, ref string) (Record, error) {
	if id, ok := fullID(ref); ok {
		r, found, err := getRecord(tx, id)
		if err != nil {
			return r, err
		}
		if found {
			return r, nil
		}
		if strings.HasPrefix(ref, "sha256:") {
			return r, noSuchImage(ref)
		}
	}
	n, perr := reference.ParseNamed(ref)
	if perr == nil {
		if d := reference.Digest(n); d != "" {
			want := dref.TrimNamed(n).String() + "@" + d.String()
			recs, err := allRecords(tx)
			if err != nil {
				return Record{}, err
			}
			for _, r := range recs {
				if slices.Contains(r.RepoDigests, want) {
					return r, nil
				}
			}
		} else if b := metadata.ReadBucket(tx, namesBucket); b != nil {
			if v := b.Get([]byte(dref.TagNameOnly(n).String())); v != nil {
				r, found, err := getRecord(tx, digest.Digest(v))
				if err != nil {
					return r, err
				}
				if found {
					return r, nil
				}
				return r, errdefs.DataLossf("name %s points at missing image %s", ref, v)
			}
		}
	}
	if reference.LooksLikeID(ref) {
		prefix := "sha256:" + strings.TrimPrefix(ref, "sha256:")
		b := metadata.ReadBucket(tx, imagesBucket)
		if b != nil {
			var match []byte
			c := b.Cursor()
			for k, _ := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, _ = c.Next() {
				if match != nil {
					return Record{}, errdefs.InvalidArgumentf("image ID prefix %q is ambiguous: it matches more than one image", ref)
				}
				match = append([]byte(nil), k...)
			}
			if match != nil {
				r, _, err := getRecord(tx, digest.Digest(match))
				return r, err
			}
		}
	}
	if perr != nil {
		return Record{}, perr
	}
	// docker names the image it looked for: nosuch -> nosuch:latest
	return Record{}, noSuchImage(dref.FamiliarString(dref.TagNameOnly(n)))
}

// Resolve returns the record and tags of the image ref names.
func (s *Store) Resolve(ctx context.Context, ref string) (Image, error) {
	var img Image
	err := s.db.View(ctx, func(tx *metadata.Tx) error {
		r, err := resolve(tx, ref)
		if err != nil {
			return err
		}
		img = Image{Record: r, Names: namesOf(tx, r.ID)}
		return nil
	})
	return img, err
}

// Full is an image with its parsed config and layers.
type Full struct {
	Image
	RawConfig []byte
	Config    *Config
	// Layers are the image's layers, base first, with their stored blobs.
	Layers []layers.Layer
}

// ConfigDescriptor is the descriptor of the config blob.
func (f *Full) ConfigDescriptor() ocispec.Descriptor { return ConfigDescriptor(f.RawConfig) }

// LayerDescriptors are the stored layer blobs, base first.
func (f *Full) LayerDescriptors() []ocispec.Descriptor {
	out := make([]ocispec.Descriptor, len(f.Layers))
	for i, l := range f.Layers {
		out[i] = l.Blob
	}
	return out
}

// Get resolves ref and reads its config and layer records.
func (s *Store) Get(ctx context.Context, ref string) (*Full, error) {
	return s.get(ctx, ref, false)
}

// Hold is Get for a caller about to use the image before a record of its
// own holds it (a container being created, a build on a base image): in
// the same transaction that resolves ref it adds the image's layers (its
// top chainID) and config blob to the lease of ctx, so that no rmi or prune
// removes them until the lease ends. Without a lease in ctx it is Get.
func (s *Store) Hold(ctx context.Context, ref string) (*Full, error) {
	_, leased := metadata.LeaseFromContext(ctx)
	return s.get(ctx, ref, leased)
}

func (s *Store) get(ctx context.Context, ref string, hold bool) (*Full, error) {
	var f Full
	txn := s.db.View
	if hold {
		txn = s.db.Update
	}
	err := txn(ctx, func(tx *metadata.Tx) error {
		r, err := resolve(tx, ref)
		if err != nil {
			return err
		}
		f.Image = Image{Record: r, Names: namesOf(tx, r.ID)}
		if f.Layers, err = layers.ChainTx(tx, r.ChainID); err != nil {
			return err
		}
		if !hold {
			return nil
		}
		res := []string{layers.BlobResource(r.ID)}
		if r.ChainID != "" {
			res = append(res, layers.Resource(r.ChainID))
		}
		for _, x := range res {
			if err := metadata.AddResource(ctx, tx, x); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.RawConfig, err = content.ReadBlob(ctx, s.cs, f.ID, MaxConfigSize)
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", f.ID, err)
	}
	if f.Config, err = ParseConfig(f.RawConfig); err != nil {
		return nil, fmt.Errorf("image %s: %w", f.ID, err)
	}
	return &f, nil
}

// NewImage describes an image to record: its config bytes (the layers named
// by rootfs.diff_ids must already be in the layer store), the names to tag
// it with, and where it came from.
type NewImage struct {
	Config []byte
	// Names are tag targets (name[:tag]); they are set last, with the record.
	Names []string
	// RepoDigests are "name@digest" references (pull, push, load).
	RepoDigests []string
	// Manifests already stored in content that describe this image.
	Manifests []ocispec.Descriptor
	Parent    digest.Digest
	// Staged are layers already unpacked from some of the layer blobs
	// (load); CreateFromBlobs records them instead of unpacking those blobs.
	Staged map[digest.Digest]*layers.Staged
}

// Create stores the config blob and records the image and its names in one
// transaction. The layers must exist (created under the caller's lease).
// Recording an image that exists merges repo digests and manifests.
func (s *Store) Create(ctx context.Context, n NewImage) (Image, error) {
	cfg, err := ParseConfig(n.Config)
	if err != nil {
		return Image{}, err
	}
	names := make([]string, 0, len(n.Names))
	for _, nm := range n.Names {
		v, err := NormalizeName(nm)
		if err != nil {
			return Image{}, err
		}
		names = append(names, v)
	}
	var repoDigests []string
	for _, rd := range n.RepoDigests {
		p, err := reference.ParseNamed(rd)
		if err != nil {
			return Image{}, err
		}
		if reference.Digest(p) == "" {
			return Image{}, errdefs.InvalidArgumentf("repo digest %q has no digest", rd)
		}
		repoDigests = append(repoDigests, p.String())
	}
	desc := ConfigDescriptor(n.Config)
	if _, ok := metadata.LeaseFromContext(ctx); !ok {
		var done func()
		if ctx, done, err = s.db.WithLease(ctx); err != nil {
			return Image{}, err
		}
		defer done()
	}
	// Claim the config blob first: a concurrent deletion of the same image
	// must not remove the blob this creation relies on.
	if err := s.db.AddResources(ctx, layers.BlobResource(desc.Digest)); err != nil {
		return Image{}, err
	}
	if _, err := content.WriteBlob(ctx, s.cs, bytes.NewReader(n.Config), desc.Size, desc.Digest); err != nil {
		return Image{}, fmt.Errorf("storing image config: %w", err)
	}
	chain := layers.ChainIDs(cfg.RootFS.DiffIDs)
	var top digest.Digest
	if len(chain) > 0 {
		top = chain[len(chain)-1]
	}
	named, err := s.manifestBlobs(ctx, n.Manifests)
	if err != nil {
		return Image{}, err
	}
	now := time.Now().UTC()
	var img Image
	err = s.db.Update(ctx, func(tx *metadata.Tx) error {
		ls, err := layers.ChainTx(tx, top)
		if err != nil {
			return fmt.Errorf("image %s: %w", desc.Digest, err)
		}
		var size int64
		for _, l := range ls {
			size += l.Size
		}
		if _, err := s.cs.Info(ctx, desc.Digest); err != nil {
			return fmt.Errorf("image config %s was removed concurrently: %w", desc.Digest, err)
		}
		for _, m := range n.Manifests {
			if _, err := s.cs.Info(ctx, m.Digest); err != nil {
				return fmt.Errorf("manifest %s: %w", m.Digest, err)
			}
		}
		if n.Parent != "" {
			if _, ok, err := getRecord(tx, n.Parent); err != nil || !ok {
				return errdefs.NotFoundf("parent image %s not found", n.Parent)
			}
		}
		r, exists, err := getRecord(tx, desc.Digest)
		if err != nil {
			return err
		}
		if !exists {
			r = Record{ID: desc.Digest, Added: now}
		}
		r.ChainID, r.Size, r.Labels = top, size, cfg.Config.Labels
		if cfg.Created != nil {
			r.Created = cfg.Created.UTC()
		}
		if n.Parent != "" {
			r.Parent = n.Parent
		}
		for _, d := range repoDigests {
			if !slices.Contains(r.RepoDigests, d) {
				r.RepoDigests = append(r.RepoDigests, d)
			}
		}
		for _, m := range n.Manifests {
			if !slices.ContainsFunc(r.Manifests, func(o ocispec.Descriptor) bool { return o.Digest == m.Digest }) {
				r.Manifests = append(r.Manifests, m)
			}
		}
		if err := recordManifestBlobs(tx, &r, named); err != nil {
			return err
		}
		for _, nm := range names {
			if err := setName(tx, nm, r.ID, now); err != nil {
				return err
			}
		}
		r, _, _ = getRecord(tx, r.ID)
		img = Image{Record: r, Names: namesOf(tx, r.ID)}
		return nil
	})
	return img, err
}

// Tag points target (name[:tag]) at the image source names.
func (s *Store) Tag(ctx context.Context, source, target string) error {
	name, err := NormalizeName(target)
	if err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx *metadata.Tx) error {
		r, err := resolve(tx, source)
		if err != nil {
			return err
		}
		return setName(tx, name, r.ID, time.Now().UTC())
	})
}

// AddRepoDigest records a name@digest for an image (after a push).
func (s *Store) AddRepoDigest(ctx context.Context, id digest.Digest, repoDigest string, manifest *ocispec.Descriptor) error {
	p, err := reference.ParseNamed(repoDigest)
	if err != nil {
		return err
	}
	var named []digest.Digest
	if manifest != nil {
		if named, err = s.manifestBlobs(ctx, []ocispec.Descriptor{*manifest}); err != nil {
			return err
		}
	}
	return s.db.Update(ctx, func(tx *metadata.Tx) error {
		r, ok, err := getRecord(tx, id)
		if err != nil {
			return err
		}
		if !ok {
			return noSuchImage(id.String())
		}
		if !slices.Contains(r.RepoDigests, p.String()) {
			r.RepoDigests = append(r.RepoDigests, p.String())
		}
		if manifest != nil && !slices.ContainsFunc(r.Manifests, func(o ocispec.Descriptor) bool { return o.Digest == manifest.Digest }) {
			if _, err := s.cs.Info(ctx, manifest.Digest); err != nil {
				return fmt.Errorf("manifest %s: %w", manifest.Digest, err)
			}
			r.Manifests = append(r.Manifests, *manifest)
		}
		return recordManifestBlobs(tx, &r, named)
	})
}

// recordManifestBlobs adds named (what r's manifests name, manifestBlobs) to
// r.ManifestBlobs, stores r and claims every blob r names: from then on
// they are in use (BlobsInUse), and the ones a concurrent deletion put in
// the trash are taken out of it.
func recordManifestBlobs(tx *metadata.Tx, r *Record, named []digest.Digest) error {
	for _, d := range named {
		if !slices.Contains(r.ManifestBlobs, d) {
			r.ManifestBlobs = append(r.ManifestBlobs, d)
		}
	}
	if err := putRecord(tx, *r); err != nil {
		return err
	}
	var claims []string
	for _, d := range r.blobs() {
		claims = append(claims, layers.BlobResource(d))
	}
	return metadata.Claim(tx, claims...)
}

// CreateFromBlobs records an image whose config and layer blobs are already
// in the content store (load, pull): each layer is unpacked from its blob
// unless the layer store has it, then the image and its names are recorded
// last. layerBlobs are bottom first and pair with the config's diff_ids.
// The whole flow runs under one lease so that no prune removes the layers
// before the image record holds them. Writers of those blobs (load, pull)
// should take the lease first (WithLease), and claim each blob before
// writing it (ClaimBlobs), so
// that no concurrent deletion removes a blob between its write and its use.
func (s *Store) CreateFromBlobs(ctx context.Context, n NewImage, layerBlobs []ocispec.Descriptor) (Image, error) {
	cfg, err := ParseConfig(n.Config)
	if err != nil {
		return Image{}, err
	}
	if len(layerBlobs) != len(cfg.RootFS.DiffIDs) {
		return Image{}, errdefs.InvalidArgumentf("image has %d layers but its config lists %d diff_ids", len(layerBlobs), len(cfg.RootFS.DiffIDs))
	}
	ctx, done, err := s.db.WithLease(ctx)
	if err != nil {
		return Image{}, err
	}
	defer done()
	if _, err := s.ls.CreateChain(ctx, layerBlobs, cfg.RootFS.DiffIDs, n.Staged); err != nil {
		return Image{}, err
	}
	return s.Create(ctx, n)
}
