package images

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Buckets owned by this package.
const (
	imagesBucket = "images"
	namesBucket  = "names"
)

// Record is the stored record of one image: all that listing needs.
type Record struct {
	ID digest.Digest `json:"id"`
	// ChainID is the chainID of the top layer ("" for an image without layers).
	ChainID digest.Digest `json:"chainID,omitempty"`
	// Parent is the image this one was built or committed from.
	Parent  digest.Digest `json:"parent,omitempty"`
	Created time.Time     `json:"created"`
	// Size is the unpacked size of all layers.
	Size   int64             `json:"size"`
	Labels map[string]string `json:"labels,omitempty"`
	// RepoDigests are normalised "name@digest" references (pull, push, load).
	RepoDigests []string `json:"repoDigests,omitempty"`
	// Manifests are the distribution manifests stored in content for this image.
	Manifests []ocispec.Descriptor `json:"manifests,omitempty"`
	// ManifestBlobs are the blobs those manifests name (config, layers; an
	// index's manifests and theirs), read when a manifest is recorded. They
	// are in use while the image is (BlobsInUse), though no layer record
	// may name them: a layer stored uncompressed is pushed as the gzip blob
	// only its manifest names.
	ManifestBlobs []digest.Digest `json:"manifestBlobs,omitempty"`
	LastTagTime   time.Time       `json:"lastTagTime,omitzero"`
	Added         time.Time       `json:"added"`
}

// blobs are the content blobs the record names: its config, its manifests
// and what they name.
func (r Record) blobs() []digest.Digest {
	out := []digest.Digest{r.ID}
	for _, m := range r.Manifests {
		out = append(out, m.Digest)
	}
	return append(out, r.ManifestBlobs...)
}

// Image is a record with its tags (normalised names), as List returns it.
type Image struct {
	Record
	Names []string
}

func getRecord(tx *metadata.Tx, id digest.Digest) (Record, bool, error) {
	var r Record
	b := metadata.ReadBucket(tx, imagesBucket)
	if b == nil {
		return r, false, nil
	}
	v := b.Get([]byte(id))
	if v == nil {
		return r, false, nil
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, false, errdefs.DataLossf("image record %s: %v", id, err)
	}
	return r, true, nil
}

func putRecord(tx *metadata.Tx, r Record) error {
	b, err := metadata.WriteBucket(tx, imagesBucket)
	if err != nil {
		return err
	}
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return b.Put([]byte(r.ID), v)
}

func allRecords(tx *metadata.Tx) ([]Record, error) {
	var out []Record
	b := metadata.ReadBucket(tx, imagesBucket)
	if b == nil {
		return nil, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		var r Record
		if err := json.Unmarshal(v, &r); err != nil {
			return errdefs.DataLossf("image record %s: %v", k, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// allNames maps image ID -> sorted names.
func allNames(tx *metadata.Tx) map[digest.Digest][]string {
	out := map[digest.Digest][]string{}
	b := metadata.ReadBucket(tx, namesBucket)
	if b == nil {
		return out
	}
	_ = b.ForEach(func(k, v []byte) error {
		id := digest.Digest(v)
		out[id] = append(out[id], string(k))
		return nil
	})
	return out
}

func namesOf(tx *metadata.Tx, id digest.Digest) []string {
	var out []string
	b := metadata.ReadBucket(tx, namesBucket)
	if b == nil {
		return nil
	}
	_ = b.ForEach(func(k, v []byte) error {
		if digest.Digest(v) == id {
			out = append(out, string(k))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// nameTargets maps each of names (normalised) to the image it names now
// (absent: none).
func (s *Store) nameTargets(ctx context.Context, names []string) (map[string]digest.Digest, error) {
	out := map[string]digest.Digest{}
	err := s.db.View(ctx, func(tx *metadata.Tx) error {
		b := metadata.ReadBucket(tx, namesBucket)
		if b == nil {
			return nil
		}
		for _, n := range names {
			key, err := NormalizeName(n)
			if err != nil {
				continue
			}
			if v := b.Get([]byte(key)); v != nil {
				out[n] = digest.Digest(v)
			}
		}
		return nil
	})
	return out, err
}

// setName points name at id, updating LastTagTime of id.
func setName(tx *metadata.Tx, name string, id digest.Digest, now time.Time) error {
	b, err := metadata.WriteBucket(tx, namesBucket)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(name), []byte(id)); err != nil {
		return err
	}
	r, ok, err := getRecord(tx, id)
	if err != nil || !ok {
		return err
	}
	r.LastTagTime = now
	return putRecord(tx, r)
}

func deleteName(tx *metadata.Tx, name string) error {
	b := metadata.ReadBucket(tx, namesBucket)
	if b == nil {
		return nil
	}
	return b.Delete([]byte(name))
}

// repoOf is the repository of a normalised name "repo:tag" or "repo@digest".
func repoOf(name string) string {
	if i := strings.IndexByte(name, '@'); i >= 0 {
		return name[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		return name[:i]
	}
	return name
}

// SplitName splits a normalised name ("docker.io/library/busybox:latest" or
// "example.com/x@sha256:...") into its familiar repository ("busybox") and
// its tag or digest, without a full parse (listing thousands of names).
func SplitName(name string) (repo, tagOrDigest string) {
	repo = repoOf(name)
	rest := name[len(repo):]
	if len(rest) > 0 {
		tagOrDigest = rest[1:]
	}
	if r, ok := strings.CutPrefix(repo, "docker.io/"); ok {
		repo = r
		if r2, ok := strings.CutPrefix(r, "library/"); ok && !strings.Contains(r2, "/") {
			repo = r2
		}
	}
	return repo, tagOrDigest
}
