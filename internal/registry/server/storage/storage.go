package storage

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// Store is the registry's storage, kept by a Driver (a filesystem root or
// an S3 bucket). It is safe for concurrent use; several processes may share
// one root or bucket (see doc.go for what each driver guarantees).
type Store struct {
	drv   Driver
	root  string // the filesystem driver's root ("" on S3)
	blobs content.Store

	tagCache   sync.Map // repo + "\x00" + tag -> *tagEntry
	cacheBytes sync.Mutex
	cached     int64

	mu       sync.Mutex // guards limits and the session index
	limits   UploadLimits
	index    map[string]sessionEntry // open sessions by id; nil until first needed
	perRepo  map[string]int
	perOwner map[string]int
	live     sync.Map // id -> *atomic.Int64: offset of a chunk being received

	bufs sync.Pool // *[]byte copy buffers for uploads
}

// Open opens (creating if needed) the registry storage under root (the
// filesystem driver).
func Open(root string) (*Store, error) {
	d, err := newFSDriver(root)
	if err != nil {
		return nil, err
	}
	s := OpenDriver(d)
	s.root = root
	return s, nil
}

// OpenDriver opens the registry storage kept by d.
func OpenDriver(d Driver) *Store {
	s := &Store{drv: d, blobs: d.Blobs()}
	s.bufs.New = func() any { b := make([]byte, 256<<10); return &b }
	return s
}

// Root is the filesystem driver's directory ("" for other drivers).
func (s *Store) Root() string { return s.root }

// Driver is the storage's driver.
func (s *Store) Driver() Driver { return s.drv }

// Blobs is the shared blob store.
func (s *Store) Blobs() content.Store { return s.blobs }

func repoDir(repo string) string { return "repositories/" + repo }

func layerLink(repo string, d digest.Digest) string {
	return repoDir(repo) + "/_layers/" + string(d.Algorithm()) + "/" + d.Encoded()
}

func revisionLink(repo string, d digest.Digest) string {
	return repoDir(repo) + "/_manifests/revisions/" + string(d.Algorithm()) + "/" + d.Encoded()
}

func tagPath(repo, tag string) string { return repoDir(repo) + "/_manifests/tags/" + tag }

// RepositoryExists reports whether anything was ever pushed to repo.
func (s *Store) RepositoryExists(ctx context.Context, repo string) bool {
	if !ValidName(repo) {
		return false
	}
	for _, d := range []string{"_manifests", "_layers"} {
		if _, err := s.drv.Stat(ctx, repoDir(repo)+"/"+d); err == nil {
			return true
		}
	}
	return false
}

func notExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// touch records a use of a blob now, so that GC's grace period protects it
// while a push that relies on it is in flight.
func (s *Store) touch(ctx context.Context, d digest.Digest) { s.drv.TouchBlob(ctx, d, 0) }

// ---- blobs -----------------------------------------------------------------

// StatBlob returns the blob's info if it is linked into repo.
func (s *Store) StatBlob(ctx context.Context, repo string, d digest.Digest) (content.Info, error) {
	if err := s.linked(ctx, repo, d); err != nil {
		return content.Info{}, err
	}
	return s.blobs.Info(ctx, d)
}

// linked checks that blob d is part of repo (a layer link, or a manifest
// revision: manifests are blobs too).
func (s *Store) linked(ctx context.Context, repo string, d digest.Digest) error {
	if err := checkName(repo); err != nil {
		return err
	}
	if _, err := s.drv.Stat(ctx, layerLink(repo, d)); err != nil {
		if _, err2 := s.drv.Stat(ctx, revisionLink(repo, d)); err2 != nil {
			return errdefs.NotFoundf("blob %s not found in repository %s", d, repo)
		}
	}
	return nil
}

// TouchBlob refreshes a blob's GC grace period (called when a client learns
// that the blob exists and may reference it soon).
func (s *Store) TouchBlob(ctx context.Context, d digest.Digest, older time.Duration) {
	if older <= 0 {
		older = time.Nanosecond
	}
	s.drv.TouchBlob(ctx, d, older)
}

// OpenBlob opens a blob linked into repo (on a filesystem the bare
// *os.File, so that serving it can use sendfile). The caller closes it;
// its size is Seek(0, io.SeekEnd). The blob's file is opened, not
// stat'ed first: a GET costs the link's stat and the open.
func (s *Store) OpenBlob(ctx context.Context, repo string, d digest.Digest) (content.Reader, error) {
	if err := s.linked(ctx, repo, d); err != nil {
		return nil, err
	}
	return s.blobs.Open(ctx, d)
}

// Redirector is a Driver that can hand out URLs clients fetch blobs from
// directly (the S3 driver with redirect on).
type Redirector interface {
	// BlobURL is a URL of blob d valid for a while; "" when redirects are
	// off (answered without a request to the storage).
	BlobURL(ctx context.Context, d digest.Digest) (string, error)
}

// BlobURL returns a URL the client may fetch blob d of repo from directly
// ("" when the driver serves blobs itself). A blob not linked into repo is
// errdefs.ErrNotFound.
func (s *Store) BlobURL(ctx context.Context, repo string, d digest.Digest) (string, error) {
	r, ok := s.drv.(Redirector)
	if !ok {
		return "", nil
	}
	// Presigning is local: with redirects off it answers "" before any
	// request to the storage is made.
	u, err := r.BlobURL(ctx, d)
	if u == "" || err != nil {
		return "", err
	}
	if _, err := s.StatBlob(ctx, repo, d); err != nil {
		return "", err
	}
	return u, nil
}

// BlobExists reports whether the blob is stored, in any repository.
func (s *Store) BlobExists(ctx context.Context, d digest.Digest) bool {
	ok, _ := content.Exists(ctx, s.blobs, d)
	return ok
}

// LinkBlob makes an existing blob part of repo (cross-repository mount).
func (s *Store) LinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	if err := checkName(repo); err != nil {
		return err
	}
	if _, err := s.blobs.Info(ctx, d); err != nil {
		return err
	}
	s.touch(ctx, d)
	return s.link(ctx, repo, d)
}

func (s *Store) link(ctx context.Context, repo string, d digest.Digest) error {
	p := layerLink(repo, d)
	if _, err := s.drv.Stat(ctx, p); err == nil {
		return nil
	}
	return s.drv.WriteFile(ctx, p, nil)
}

// UnlinkBlob removes a blob from repo. The bytes stay until GC finds them
// unreferenced.
func (s *Store) UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	if err := checkName(repo); err != nil {
		return err
	}
	if err := s.drv.Remove(ctx, layerLink(repo, d)); err != nil {
		if notExist(err) {
			return errdefs.NotFoundf("blob %s not found in repository %s", d, repo)
		}
		return err
	}
	return nil
}

// PutBlob stores r as one blob (monolithic upload) and links it into repo.
// size may be -1. A digest or size mismatch is an errdefs.ErrDataLoss error.
func (s *Store) PutBlob(ctx context.Context, repo string, r io.Reader, size int64, expected digest.Digest) (content.Info, error) {
	if err := checkName(repo); err != nil {
		return content.Info{}, err
	}
	if s.BlobExists(ctx, expected) {
		// Still read and verify the body: the client sent it, and a wrong
		// body must be reported as a digest error.
		dg := expected.Algorithm().Digester()
		n, err := io.Copy(dg.Hash(), r)
		if err != nil {
			return content.Info{}, err
		}
		if size >= 0 && n != size {
			return content.Info{}, errdefs.DataLossf("blob %s: size mismatch: expected %d bytes, got %d", expected, size, n)
		}
		if dg.Digest() != expected {
			return content.Info{}, errdefs.DataLossf("blob digest mismatch: expected %s, got %s", expected, dg.Digest())
		}
		s.touch(ctx, expected)
		return content.Info{Digest: expected, Size: n}, s.link(ctx, repo, expected)
	}
	info, err := content.WriteBlob(ctx, s.blobs, r, size, expected)
	if err != nil {
		return content.Info{}, err
	}
	return info, s.link(ctx, repo, info.Digest)
}

// ---- tags and catalog ------------------------------------------------------

// Tags lists repo's tags, sorted.
func (s *Store) Tags(ctx context.Context, repo string) ([]string, error) {
	if !s.RepositoryExists(ctx, repo) {
		return nil, errdefs.NotFoundf("repository %s not found", repo)
	}
	ents, err := s.drv.List(ctx, repoDir(repo)+"/_manifests/tags")
	if err != nil {
		return nil, err
	}
	tags := make([]string, 0, len(ents))
	for _, e := range ents {
		if ValidTag(e.Name) && !e.Dir {
			tags = append(tags, e.Name)
		}
	}
	sort.Strings(tags)
	return tags, nil
}

// Catalog lists every repository, sorted.
func (s *Store) Catalog(ctx context.Context) ([]string, error) {
	var repos []string
	var walk func(dir, name string) error
	walk = func(dir, name string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ents, err := s.drv.List(ctx, dir)
		if err != nil {
			return err
		}
		isRepo := false
		for _, e := range ents {
			if !e.Dir {
				continue
			}
			n := e.Name
			if n == "_manifests" || n == "_layers" {
				isRepo = true
				continue
			}
			if strings.HasPrefix(n, "_") || strings.HasPrefix(n, ".") {
				continue
			}
			child := n
			if name != "" {
				child = name + "/" + n
			}
			if err := walk(dir+"/"+n, child); err != nil {
				return err
			}
		}
		if isRepo && name != "" {
			repos = append(repos, name)
		}
		return nil
	}
	if err := walk("repositories", ""); err != nil {
		return nil, err
	}
	sort.Strings(repos)
	return repos, nil
}
