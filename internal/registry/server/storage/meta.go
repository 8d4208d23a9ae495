package storage

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/mediatype"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DescriptionLabel is the image label search indexes.
const DescriptionLabel = "org.opencontainers.image.description"

// RepositoryInfo is what search knows about a repository.
type RepositoryInfo struct {
	Name        string
	Description string
	Stars       int
}

func metaDir(repo string) string { return repoDir(repo) + "/_meta" }

// indexDescription records the description label of a tagged image (for an
// index: of its first child image in repo that has one). Best effort.
func (s *Store) indexDescription(ctx context.Context, repo, mt string, m *parsedManifest) {
	desc, ok := s.descriptionOf(ctx, repo, mt, m, 0)
	if !ok {
		return
	}
	_ = s.drv.WriteFile(ctx, metaDir(repo)+"/description", []byte(desc))
}

func (s *Store) descriptionOf(ctx context.Context, repo, mt string, m *parsedManifest, depth int) (string, bool) {
	if m.Annotations[DescriptionLabel] != "" {
		return m.Annotations[DescriptionLabel], true
	}
	if mediatype.IsImageManifest(mt) && m.Config != nil {
		if _, err := s.StatBlob(ctx, repo, m.Config.Digest); err != nil {
			return "", false
		}
		b, err := content.ReadBlob(ctx, s.blobs, m.Config.Digest, 1<<20)
		if err != nil {
			return "", false
		}
		var cfg ocispec.Image
		if json.Unmarshal(b, &cfg) != nil {
			return "", false
		}
		d, ok := cfg.Config.Labels[DescriptionLabel]
		return d, ok
	}
	if mediatype.IsIndex(mt) && depth < 2 {
		for _, c := range m.Manifests {
			cm, err := s.manifestByDigest(ctx, repo, c.Digest)
			if err != nil {
				continue
			}
			var pm parsedManifest
			if json.Unmarshal(cm.Body, &pm) != nil {
				continue
			}
			if d, ok := s.descriptionOf(ctx, repo, cm.MediaType, &pm, depth+1); ok {
				return d, true
			}
		}
	}
	return "", false
}

// RepositoryInfo returns the search metadata of repo.
func (s *Store) RepositoryInfo(ctx context.Context, repo string) RepositoryInfo {
	ri := RepositoryInfo{Name: repo}
	if b, err := s.drv.ReadFile(ctx, metaDir(repo)+"/description"); err == nil {
		ri.Description = string(b)
	}
	if ents, err := s.drv.List(ctx, metaDir(repo)+"/stars"); err == nil {
		for _, e := range ents {
			if !e.Dir && !strings.HasPrefix(e.Name, ".") {
				ri.Stars++
			}
		}
	}
	return ri
}

// Star records (on) or removes user's star on repo.
func (s *Store) Star(ctx context.Context, repo, user string, on bool) error {
	if !s.RepositoryExists(ctx, repo) {
		return errdefs.NotFoundf("repository %s not found", repo)
	}
	if user == "" || strings.ContainsAny(user, "/\x00") || user == "." || user == ".." || strings.HasPrefix(user, ".") {
		return errdefs.InvalidArgumentf("invalid user name %q", user)
	}
	p := metaDir(repo) + "/stars/" + user
	if on {
		return s.drv.WriteFile(ctx, p, nil)
	}
	if err := s.drv.Remove(ctx, p); err != nil && !notExist(err) {
		return err
	}
	return nil
}
