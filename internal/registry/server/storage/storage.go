package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/opencontainers/go-digest"
)

// Store is the registry's storage under one root directory. It is safe for
// concurrent use; several processes may share a root (GC takes gc.lock).
type Store struct {
	root  string
	blobs *content.Local

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

// Open opens (creating if needed) the registry storage under root.
func Open(root string) (*Store, error) {
	blobs, err := content.NewLocal(root)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"uploads", "repositories"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("registry storage: %w", err)
		}
	}
	s := &Store{root: root, blobs: blobs}
	s.bufs.New = func() any { b := make([]byte, 256<<10); return &b }
	return s, nil
}

// Root is the storage's directory.
func (s *Store) Root() string { return s.root }

// Blobs is the shared blob store.
func (s *Store) Blobs() *content.Local { return s.blobs }

func (s *Store) repoDir(repo string) string {
	return filepath.Join(s.root, "repositories", filepath.FromSlash(repo))
}

func (s *Store) layerLink(repo string, d digest.Digest) string {
	return filepath.Join(s.repoDir(repo), "_layers", string(d.Algorithm()), d.Encoded())
}

func (s *Store) revisionLink(repo string, d digest.Digest) string {
	return filepath.Join(s.repoDir(repo), "_manifests", "revisions", string(d.Algorithm()), d.Encoded())
}

func (s *Store) tagPath(repo, tag string) string {
	return filepath.Join(s.repoDir(repo), "_manifests", "tags", tag)
}

// RepositoryExists reports whether anything was ever pushed to repo.
func (s *Store) RepositoryExists(repo string) bool {
	if !ValidName(repo) {
		return false
	}
	for _, d := range []string{"_manifests", "_layers"} {
		if _, err := os.Stat(filepath.Join(s.repoDir(repo), d)); err == nil {
			return true
		}
	}
	return false
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it into place, creating parent directories.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, 0o600, func(w io.Writer) error { _, err := w.Write(data); return err })
}

func notExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// touch sets a blob's modification time to now, so that GC's grace period
// protects it while a push that relies on it is in flight.
func (s *Store) touch(d digest.Digest) {
	p, err := s.blobs.BlobPath(d)
	if err != nil {
		return
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now)
}

// ---- blobs -----------------------------------------------------------------

// StatBlob returns the blob's info if it is linked into repo.
func (s *Store) StatBlob(ctx context.Context, repo string, d digest.Digest) (content.Info, error) {
	if err := checkName(repo); err != nil {
		return content.Info{}, err
	}
	if _, err := os.Stat(s.layerLink(repo, d)); err != nil {
		if _, err2 := os.Stat(s.revisionLink(repo, d)); err2 != nil {
			return content.Info{}, errdefs.NotFoundf("blob %s not found in repository %s", d, repo)
		}
	}
	return s.blobs.Info(ctx, d)
}

// TouchBlob refreshes a blob's GC grace period (called when a client learns
// that the blob exists and may reference it soon).
func (s *Store) TouchBlob(d digest.Digest, older time.Duration) {
	p, err := s.blobs.BlobPath(d)
	if err != nil {
		return
	}
	if st, err := os.Stat(p); err == nil && time.Since(st.ModTime()) > older {
		s.touch(d)
	}
}

// OpenBlob opens a blob linked into repo. The caller closes the file.
func (s *Store) OpenBlob(ctx context.Context, repo string, d digest.Digest) (*os.File, content.Info, error) {
	info, err := s.StatBlob(ctx, repo, d)
	if err != nil {
		return nil, content.Info{}, err
	}
	p, err := s.blobs.BlobPath(d)
	if err != nil {
		return nil, content.Info{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		if notExist(err) {
			return nil, content.Info{}, errdefs.NotFoundf("blob %s not found", d)
		}
		return nil, content.Info{}, err
	}
	return f, info, nil
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
	s.touch(d)
	return s.link(repo, d)
}

func (s *Store) link(repo string, d digest.Digest) error {
	p := s.layerLink(repo, d)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	return writeFileAtomic(p, nil)
}

// UnlinkBlob removes a blob from repo. The bytes stay until GC finds them
// unreferenced.
func (s *Store) UnlinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	if err := checkName(repo); err != nil {
		return err
	}
	if err := os.Remove(s.layerLink(repo, d)); err != nil {
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
		s.touch(expected)
		return content.Info{Digest: expected, Size: n}, s.link(repo, expected)
	}
	info, err := content.WriteBlob(ctx, s.blobs, r, size, expected)
	if err != nil {
		return content.Info{}, err
	}
	return info, s.link(repo, info.Digest)
}

// ---- tags and catalog ------------------------------------------------------

// Tags lists repo's tags, sorted.
func (s *Store) Tags(ctx context.Context, repo string) ([]string, error) {
	if !s.RepositoryExists(repo) {
		return nil, errdefs.NotFoundf("repository %s not found", repo)
	}
	ents, err := os.ReadDir(filepath.Join(s.repoDir(repo), "_manifests", "tags"))
	if err != nil && !notExist(err) {
		return nil, err
	}
	tags := make([]string, 0, len(ents))
	for _, e := range ents {
		if ValidTag(e.Name()) && e.Type().IsRegular() {
			tags = append(tags, e.Name())
		}
	}
	sort.Strings(tags)
	return tags, nil
}

// Catalog lists every repository, sorted.
func (s *Store) Catalog(ctx context.Context) ([]string, error) {
	base := filepath.Join(s.root, "repositories")
	var repos []string
	var walk func(dir, name string) error
	walk = func(dir, name string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			if notExist(err) {
				return nil
			}
			return err
		}
		isRepo := false
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			n := e.Name()
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
			if err := walk(filepath.Join(dir, n), child); err != nil {
				return err
			}
		}
		if isRepo && name != "" {
			repos = append(repos, name)
		}
		return nil
	}
	if err := walk(base, ""); err != nil {
		return nil, err
	}
	sort.Strings(repos)
	return repos, nil
}

// ---- the GC lock -----------------------------------------------------------

// lockGC takes gc.lock shared (manifest PUT) or exclusive (GC deletion).
func (s *Store) lockGC(exclusive bool) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.root, "gc.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}
