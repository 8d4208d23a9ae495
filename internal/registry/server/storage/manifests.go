package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mediatype"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxManifestSize is the largest manifest accepted (4 MiB).
const MaxManifestSize = 4 << 20

// maxCachedBody bounds the manifest bodies kept in the tag cache.
const (
	maxCachedBody  = 256 << 10
	maxCachedTotal = 64 << 20
)

// Manifest is a stored manifest: its digest, media type and exact bytes.
type Manifest struct {
	Digest    digest.Digest
	MediaType string
	Body      []byte
}

type tagEntry struct {
	version  string // the tag file's FileInfo.Version
	manifest *Manifest
}

// parsedManifest holds the fields of every manifest kind the registry checks
// (indexes and image manifests, mediatype.IsIndex and IsImageManifest;
// others are stored as opaque JSON with only their subject indexed).
type parsedManifest struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	ArtifactType  string               `json:"artifactType"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	Subject       *ocispec.Descriptor  `json:"subject"`
	Annotations   map[string]string    `json:"annotations"`
}

func baseType(ct string) string {
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	return strings.TrimSpace(ct)
}

// PutOptions tunes manifest validation.
type PutOptions struct {
	// AllowSparse accepts image manifests whose layers have not been pushed
	// (the config must still exist). Index children may always be missing.
	AllowSparse bool
	// Cached marks a manifest a pull-through cache fetched from its
	// upstream: the blobs it references are fetched when first pulled, so
	// none need be present.
	Cached bool
}

// PutResult is what a manifest PUT stored.
type PutResult struct {
	Digest  digest.Digest
	Subject *ocispec.Descriptor
	Tags    []string
}

// PutManifest stores body as a manifest of repo, by digest (ref is a digest:
// the body must hash to it) or by tag, and additionally under tags.
// contentType is the media type as pushed (Content-Type); it is served back.
// Errors: InvalidArgument (malformed manifest), NotFound (a referenced blob
// is missing: MANIFEST_BLOB_UNKNOWN), DataLoss (digest mismatch).
func (s *Store) PutManifest(ctx context.Context, repo, ref, contentType string, body []byte, tags []string, opts PutOptions) (PutResult, error) {
	if err := checkName(repo); err != nil {
		return PutResult{}, err
	}
	if len(body) > MaxManifestSize {
		return PutResult{}, errdefs.InvalidArgumentf("manifest is %d bytes, over the limit of %d", len(body), MaxManifestSize)
	}
	alg := digest.Canonical
	var want digest.Digest
	if strings.Contains(ref, ":") {
		d, err := ParseDigest(ref)
		if err != nil {
			return PutResult{}, err
		}
		want, alg = d, d.Algorithm()
	} else {
		tags = append([]string{ref}, tags...)
	}
	for _, t := range tags {
		if !ValidTag(t) {
			return PutResult{}, errdefs.InvalidArgumentf("invalid tag %q", t)
		}
	}
	dgst := alg.FromBytes(body)
	if want != "" && want != dgst {
		return PutResult{}, errdefs.DataLossf("manifest digest mismatch: the URL names %s but the body hashes to %s", want, dgst)
	}
	var m parsedManifest
	if err := json.Unmarshal(body, &m); err != nil {
		return PutResult{}, errdefs.InvalidArgumentf("manifest is not valid JSON: %v", err)
	}
	mt := m.MediaType
	if contentType != "" {
		ct := baseType(contentType)
		if mt != "" && ct != mt {
			return PutResult{}, errdefs.InvalidArgumentf("manifest mediaType %q does not match Content-Type %q", mt, ct)
		}
		mt = ct
	}
	if mt == "" {
		switch {
		case m.Config != nil:
			mt = ocispec.MediaTypeImageManifest
		case m.Manifests != nil:
			mt = ocispec.MediaTypeImageIndex
		default:
			return PutResult{}, errdefs.InvalidArgumentf("manifest has no mediaType and no Content-Type")
		}
	}
	if contentType == "" {
		contentType = mt
	}
	if (mediatype.IsImageManifest(mt) || mediatype.IsIndex(mt)) && m.SchemaVersion != 2 {
		return PutResult{}, errdefs.InvalidArgumentf("manifest schemaVersion is %d, want 2", m.SchemaVersion)
	}
	if mediatype.IsImageManifest(mt) && m.Config == nil {
		return PutResult{}, errdefs.InvalidArgumentf("image manifest has no config")
	}

	unlock, err := s.drv.LockGC(false)
	if err != nil {
		return PutResult{}, err
	}
	defer unlock()
	// Referenced blobs must be in this repository (checking the whole
	// registry would let a push reference blobs of repositories the pusher
	// cannot read).
	check := func(d ocispec.Descriptor, what string, required bool) error {
		if err := d.Digest.Validate(); err != nil {
			return errdefs.InvalidArgumentf("%s has invalid digest %q", what, d.Digest)
		}
		info, err := s.StatBlob(ctx, repo, d.Digest)
		if err != nil {
			if errdefs.IsNotFound(err) && !required {
				return nil
			}
			if errdefs.IsNotFound(err) {
				return errdefs.NotFoundf("%s %s is not in repository %s", what, d.Digest, repo)
			}
			return err
		}
		if d.Size != info.Size {
			return errdefs.InvalidArgumentf("%s %s has size %d in the manifest but %d in the registry", what, d.Digest, d.Size, info.Size)
		}
		s.touch(ctx, d.Digest)
		return nil
	}
	if mediatype.IsImageManifest(mt) && !opts.Cached {
		if err := check(*m.Config, "config", true); err != nil {
			return PutResult{}, err
		}
		for i, l := range m.Layers {
			if nonDistributable(l) {
				continue
			}
			if err := check(l, fmt.Sprintf("layer %d", i), !opts.AllowSparse); err != nil {
				return PutResult{}, err
			}
		}
	}
	if mediatype.IsIndex(mt) && !opts.Cached {
		for i, c := range m.Manifests {
			if err := check(c, fmt.Sprintf("manifest %d", i), false); err != nil {
				return PutResult{}, err
			}
		}
	}

	if !s.BlobExists(ctx, dgst) {
		if _, err := content.WriteBlob(ctx, s.blobs, bytes.NewReader(body), int64(len(body)), dgst); err != nil {
			return PutResult{}, fmt.Errorf("storing manifest %s: %w", dgst, err)
		}
	} else {
		s.touch(ctx, dgst)
	}
	if err := s.drv.WriteFile(ctx, revisionLink(repo, dgst), []byte(contentType)); err != nil {
		return PutResult{}, err
	}
	res := PutResult{Digest: dgst, Tags: tags}
	if m.Subject != nil && m.Subject.Digest.Validate() == nil {
		res.Subject = m.Subject
		desc := ocispec.Descriptor{MediaType: mt, Digest: dgst, Size: int64(len(body)), ArtifactType: m.ArtifactType, Annotations: m.Annotations}
		if desc.ArtifactType == "" && m.Config != nil && mediatype.IsImageManifest(mt) {
			desc.ArtifactType = m.Config.MediaType
		}
		b, _ := json.Marshal(desc)
		if err := s.drv.WriteFile(ctx, referrerPath(repo, m.Subject.Digest, dgst), b); err != nil {
			return PutResult{}, err
		}
	}
	for _, t := range tags {
		if err := s.drv.WriteFile(ctx, tagPath(repo, t), []byte(dgst)); err != nil {
			return PutResult{}, err
		}
	}
	if len(tags) > 0 {
		s.indexDescription(ctx, repo, mt, &m)
	}
	return res, nil
}

func nonDistributable(d ocispec.Descriptor) bool {
	return len(d.URLs) > 0 || strings.Contains(d.MediaType, "nondistributable") || strings.Contains(d.MediaType, "foreign")
}

func referrerDir(repo string, subject digest.Digest) string {
	return repoDir(repo) + "/_referrers/" + string(subject.Algorithm()) + "/" + subject.Encoded()
}

func referrerPath(repo string, subject, d digest.Digest) string {
	return referrerDir(repo, subject) + "/" + string(d.Algorithm()) + "-" + d.Encoded()
}

// GetManifest returns the manifest ref (a tag or a digest) of repo.
// A missing manifest is errdefs.ErrNotFound.
func (s *Store) GetManifest(ctx context.Context, repo, ref string) (*Manifest, error) {
	if err := checkName(repo); err != nil {
		return nil, err
	}
	if strings.Contains(ref, ":") {
		d, err := ParseDigest(ref)
		if err != nil {
			return nil, err
		}
		return s.manifestByDigest(ctx, repo, d)
	}
	if !ValidTag(ref) {
		return nil, errdefs.InvalidArgumentf("invalid tag %q", ref)
	}
	p := tagPath(repo, ref)
	st, err := s.drv.Stat(ctx, p)
	if err != nil || st.Dir {
		return nil, errdefs.NotFoundf("manifest %s:%s not found", repo, ref)
	}
	key := repo + "\x00" + ref
	if v, ok := s.tagCache.Load(key); ok {
		if e := v.(*tagEntry); e.version == st.Version {
			return e.manifest, nil
		}
	}
	b, err := s.drv.ReadFile(ctx, p)
	if err != nil {
		return nil, errdefs.NotFoundf("manifest %s:%s not found", repo, ref)
	}
	d, err := ParseDigest(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("tag %s:%s is corrupt: %w", repo, ref, err)
	}
	m, err := s.manifestByDigest(ctx, repo, d)
	if err != nil {
		return nil, err
	}
	if len(m.Body) <= maxCachedBody {
		s.cacheBytes.Lock()
		if s.cached+int64(len(m.Body)) <= maxCachedTotal {
			old, loaded := s.tagCache.Swap(key, &tagEntry{version: st.Version, manifest: m})
			s.cached += int64(len(m.Body))
			if loaded {
				s.cached -= int64(len(old.(*tagEntry).manifest.Body))
			}
		}
		s.cacheBytes.Unlock()
	}
	return m, nil
}

// TagInfo returns the digest a tag points at and when the tag was last
// written (a pull-through cache revalidates tags older than its TTL). A
// missing tag is errdefs.ErrNotFound.
func (s *Store) TagInfo(ctx context.Context, repo, tag string) (digest.Digest, time.Time, error) {
	if err := checkName(repo); err != nil {
		return "", time.Time{}, err
	}
	if !ValidTag(tag) {
		return "", time.Time{}, errdefs.InvalidArgumentf("invalid tag %q", tag)
	}
	p := tagPath(repo, tag)
	st, err := s.drv.Stat(ctx, p)
	if err != nil || st.Dir {
		return "", time.Time{}, errdefs.NotFoundf("tag %s:%s not found", repo, tag)
	}
	b, err := s.drv.ReadFile(ctx, p)
	if err != nil {
		return "", time.Time{}, errdefs.NotFoundf("tag %s:%s not found", repo, tag)
	}
	d, err := ParseDigest(strings.TrimSpace(string(b)))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("tag %s:%s is corrupt: %w", repo, tag, err)
	}
	return d, st.ModTime, nil
}

// RewriteTag writes tag again with the digest it has (its time becomes
// now): a pull-through cache's record that the upstream still agrees.
func (s *Store) RewriteTag(ctx context.Context, repo, tag string, d digest.Digest) error {
	if err := checkName(repo); err != nil {
		return err
	}
	if !ValidTag(tag) {
		return errdefs.InvalidArgumentf("invalid tag %q", tag)
	}
	return s.drv.WriteFile(ctx, tagPath(repo, tag), []byte(d))
}

// dropCached forgets a tag-cache entry.
func (s *Store) dropCached(key string) {
	if old, ok := s.tagCache.LoadAndDelete(key); ok {
		s.cacheBytes.Lock()
		s.cached -= int64(len(old.(*tagEntry).manifest.Body))
		s.cacheBytes.Unlock()
	}
}

func (s *Store) manifestByDigest(ctx context.Context, repo string, d digest.Digest) (*Manifest, error) {
	mt, err := s.drv.ReadFile(ctx, revisionLink(repo, d))
	if err != nil {
		if notExist(err) {
			return nil, errdefs.NotFoundf("manifest %s@%s not found", repo, d)
		}
		return nil, err
	}
	body, err := content.ReadBlob(ctx, s.blobs, d, MaxManifestSize)
	if err != nil {
		return nil, err
	}
	return &Manifest{Digest: d, MediaType: string(mt), Body: body}, nil
}

// DeleteTag removes a tag (the manifest stays, reachable by digest).
func (s *Store) DeleteTag(ctx context.Context, repo, tag string) error {
	if err := checkName(repo); err != nil {
		return err
	}
	if !ValidTag(tag) {
		return errdefs.InvalidArgumentf("invalid tag %q", tag)
	}
	if err := s.drv.Remove(ctx, tagPath(repo, tag)); err != nil {
		if notExist(err) {
			return errdefs.NotFoundf("tag %s:%s not found", repo, tag)
		}
		return err
	}
	s.dropCached(repo + "\x00" + tag)
	return nil
}

// DeleteManifest removes a manifest from repo, with the tags that point at
// it and its referrers-index entry. Its bytes stay until GC.
func (s *Store) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	m, err := s.manifestByDigest(ctx, repo, d)
	if err != nil {
		return err
	}
	tagsDir := repoDir(repo) + "/_manifests/tags"
	ents, _ := s.drv.List(ctx, tagsDir)
	for _, e := range ents {
		b, err := s.drv.ReadFile(ctx, tagsDir+"/"+e.Name)
		if err == nil && strings.TrimSpace(string(b)) == d.String() {
			s.drv.Remove(ctx, tagsDir+"/"+e.Name)
			s.dropCached(repo + "\x00" + e.Name)
		}
	}
	var pm parsedManifest
	if json.Unmarshal(m.Body, &pm) == nil && pm.Subject != nil && pm.Subject.Digest.Validate() == nil {
		s.drv.Remove(ctx, referrerPath(repo, pm.Subject.Digest, d))
	}
	if err := s.drv.Remove(ctx, revisionLink(repo, d)); err != nil && !notExist(err) {
		return err
	}
	return nil
}

// Referrers lists the manifests of repo whose subject is d, filtered by
// artifactType when it is not empty.
func (s *Store) Referrers(ctx context.Context, repo string, d digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	if err := checkName(repo); err != nil {
		return nil, err
	}
	dir := referrerDir(repo, d)
	ents, err := s.drv.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	out := []ocispec.Descriptor{}
	for _, e := range ents {
		if e.Dir || strings.HasPrefix(e.Name, ".") {
			continue
		}
		b, err := s.drv.ReadFile(ctx, dir+"/"+e.Name)
		if err != nil {
			continue
		}
		var desc ocispec.Descriptor
		if json.Unmarshal(b, &desc) != nil {
			continue
		}
		if artifactType != "" && desc.ArtifactType != artifactType {
			continue
		}
		out = append(out, desc)
	}
	return out, nil
}
