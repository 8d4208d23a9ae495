package build

import (
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/opencontainers/go-digest"
)

// Context is the build context: the files COPY, ADD and RUN --mount read.
type Context interface {
	// Dir is the context directory on disk.
	Dir() string
	// Excluded reports whether the slash-separated path rel (relative to Dir)
	// is excluded by .dockerignore.
	Excluded(rel string) bool
	// Checksum is the digest of the content and metadata (not mtime) of rel
	// and, for a directory, of everything below it that is not excluded.
	Checksum(ctx context.Context, rel string) (digest.Digest, error)
}

// ReadDockerignore returns the patterns of the ignore file of a build:
// <dockerfile>.dockerignore next to the Dockerfile when it exists, else
// .dockerignore at the context root. Missing files give no patterns.
func ReadDockerignore(contextDir, dockerfilePath string) ([]string, error) {
	var candidates []string
	if dockerfilePath != "" {
		candidates = append(candidates, dockerfilePath+".dockerignore")
	}
	candidates = append(candidates, filepath.Join(contextDir, ".dockerignore"))
	for _, p := range candidates {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		defer f.Close()
		pats, err := ignorefile.ReadAll(f)
		if err != nil {
			return nil, errdefs.InvalidArgumentf("%s: %v", p, err)
		}
		return pats, nil
	}
	return nil, nil
}

// LocalContext is a Context over a local directory with a persistent stat
// cache, so that unchanged files are never read again to be hashed.
type LocalContext struct {
	dir       string
	pm        *patternmatcher.PatternMatcher
	cacheFile string

	mu    sync.Mutex
	stats map[string]statEntry
	dirty bool
	sums  map[string]digest.Digest // per build: rel -> checksum
}

type statEntry struct {
	Size, Mtime, Ctime int64
	Ino                uint64
	Mode               uint32
	Sum                string
}

// OpenContext opens dir as a build context excluding the ignore patterns.
// cacheFile ("" for none) keeps the stat cache between builds.
func OpenContext(dir string, ignore []string, cacheFile string) (*LocalContext, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, errdefs.InvalidArgumentf("unable to prepare context: path %q not found", dir)
	}
	if !fi.IsDir() {
		return nil, errdefs.InvalidArgumentf("unable to prepare context: %q is not a directory", dir)
	}
	c := &LocalContext{dir: abs, cacheFile: cacheFile, stats: map[string]statEntry{}, sums: map[string]digest.Digest{}}
	if len(ignore) > 0 {
		if c.pm, err = patternmatcher.New(ignore); err != nil {
			return nil, errdefs.InvalidArgumentf("invalid .dockerignore pattern: %v", err)
		}
	}
	if cacheFile != "" {
		if f, err := os.Open(cacheFile); err == nil {
			_ = gob.NewDecoder(f).Decode(&c.stats) // a broken cache is just empty
			f.Close()
		}
	}
	return c, nil
}

// Dir implements Context.
func (c *LocalContext) Dir() string { return c.dir }

// Excluded implements Context.
func (c *LocalContext) Excluded(rel string) bool {
	if c.pm == nil || rel == "" || rel == "." {
		return false
	}
	ok, err := c.pm.MatchesOrParentMatches(rel)
	return err == nil && ok
}

// hasExceptions reports whether "!" patterns may re-include paths below an
// excluded directory.
func (c *LocalContext) hasExceptions() bool { return c.pm != nil && c.pm.Exclusions() }

// Close saves the stat cache.
func (c *LocalContext) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty || c.cacheFile == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.cacheFile), 0o700); err != nil {
		return err
	}
	tmp := c.cacheFile + fmt.Sprintf(".%d.tmp", os.Getpid())
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := gob.NewEncoder(f).Encode(c.stats); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	c.dirty = false
	return os.Rename(tmp, c.cacheFile)
}

// Checksum implements Context.
func (c *LocalContext) Checksum(ctx context.Context, rel string) (digest.Digest, error) {
	rel = cleanRel(rel)
	c.mu.Lock()
	if d, ok := c.sums[rel]; ok {
		c.mu.Unlock()
		return d, nil
	}
	c.mu.Unlock()
	d, err := c.sum(ctx, rel)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.sums[rel] = d
	c.mu.Unlock()
	return d, nil
}

func cleanRel(rel string) string {
	rel = path.Clean("/" + filepath.ToSlash(rel))
	rel = strings.TrimPrefix(rel, "/")
	if rel == "" {
		return "."
	}
	return rel
}

func (c *LocalContext) sum(ctx context.Context, rel string) (digest.Digest, error) {
	p := filepath.Join(c.dir, filepath.FromSlash(rel))
	fi, err := os.Lstat(p)
	if err != nil {
		return "", fmt.Errorf("checksum of %s: %w", rel, err)
	}
	h := sha256.New()
	if err := c.hashEntry(ctx, h, rel, p, fi); err != nil {
		return "", err
	}
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil))), nil
}

// hashEntry writes the metadata and content digest of one entry (and its
// children, for a directory) to h.
func (c *LocalContext) hashEntry(ctx context.Context, h io.Writer, rel, p string, fi fs.FileInfo) error {
	st, _ := fi.Sys().(*syscall.Stat_t)
	var uid, gid uint32
	if st != nil {
		uid, gid = st.Uid, st.Gid
	}
	fmt.Fprintf(h, "%s\x00%o\x00%d\x00%d\x00", path.Base(rel), fi.Mode(), uid, gid)
	switch {
	case fi.Mode().IsRegular():
		sum, err := c.fileSum(p, rel, fi, st)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%d\x00%s\x00", fi.Size(), sum)
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := os.Readlink(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00", t)
	case fi.IsDir():
		if err := ctx.Err(); err != nil {
			return err
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return fmt.Errorf("reading context directory %s: %w", rel, err)
		}
		sort.Slice(ents, func(a, b int) bool { return ents[a].Name() < ents[b].Name() })
		for _, e := range ents {
			crel := e.Name()
			if rel != "." {
				crel = rel + "/" + e.Name()
			}
			if c.Excluded(crel) && !(e.IsDir() && c.hasExceptions()) {
				continue
			}
			cfi, err := e.Info()
			if err != nil {
				return err
			}
			if err := c.hashEntry(ctx, h, crel, filepath.Join(p, e.Name()), cfi); err != nil {
				return err
			}
		}
		io.WriteString(h, "\x00end\x00")
	}
	return nil
}

// fileSum returns the content digest of a file, from the stat cache when its
// size, mtime, ctime, inode and mode are unchanged.
func (c *LocalContext) fileSum(p, rel string, fi fs.FileInfo, st *syscall.Stat_t) (string, error) {
	var e statEntry
	if st != nil {
		e = statEntry{Size: fi.Size(), Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(), Ino: st.Ino, Mode: uint32(fi.Mode())}
	}
	c.mu.Lock()
	old, ok := c.stats[rel]
	c.mu.Unlock()
	if ok && st != nil && old.Size == e.Size && old.Mtime == e.Mtime && old.Ctime == e.Ctime && old.Ino == e.Ino && old.Mode == e.Mode {
		return old.Sum, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("reading context file %s: %w", rel, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading context file %s: %w", rel, err)
	}
	e.Sum = hex.EncodeToString(h.Sum(nil))
	if st != nil {
		c.mu.Lock()
		c.stats[rel] = e
		c.dirty = true
		c.mu.Unlock()
	}
	return e.Sum, nil
}
