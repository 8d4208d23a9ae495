package buildcontext

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// Options configure New.
type Options struct {
	// Dockerfile is the path of the Dockerfile when it is a file (absolute
	// or relative to the working directory); "" when it comes from stdin.
	// `<Dockerfile>.dockerignore` next to it wins over the context's
	// .dockerignore.
	Dockerfile string
	// Excludes, when not nil, replaces the patterns of any ignore file.
	Excludes []string
}

// Context is a build context directory with its ignore rules. It is safe
// for concurrent use.
type Context struct {
	dir        string
	root       *os.Root
	excludes   []string
	ignoreFile string
	pm         *patternmatcher.PatternMatcher // nil when there are no patterns
	// pmMu serialises c.pm, which compiles patterns lazily and is not
	// safe for concurrent use (walks use their own copies).
	pmMu sync.Mutex
}

// New opens the build context at dir and loads its ignore rules.
func New(dir string, opts Options) (*Context, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errdefs.NotFoundf("unable to prepare context: path %q not found", dir)
		}
		return nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	if !st.IsDir() {
		return nil, errdefs.InvalidArgumentf("unable to prepare context: context must be a directory: %s", dir)
	}
	c := &Context{dir: abs}
	if opts.Excludes != nil {
		c.excludes = opts.Excludes
	} else if c.excludes, c.ignoreFile, err = IgnorePatterns(abs, opts.Dockerfile); err != nil {
		return nil, err
	}
	if len(c.excludes) > 0 {
		c.pm, err = patternmatcher.New(c.excludes)
		if err != nil {
			name := c.ignoreFile
			if name == "" {
				name = "exclude patterns"
			}
			return nil, errdefs.InvalidArgumentf("error parsing %s: %v", name, err)
		}
	}
	c.root, err = os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	return c, nil
}

// IgnorePatterns reads `<dockerfile>.dockerignore` when it exists, else
// `<dir>/.dockerignore`. It returns the patterns and the file used.
func IgnorePatterns(dir, dockerfile string) ([]string, string, error) {
	var candidates []string
	if dockerfile != "" {
		candidates = append(candidates, dockerfile+".dockerignore")
	}
	candidates = append(candidates, filepath.Join(dir, ".dockerignore"))
	for _, name := range candidates {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("read ignore file: %w", err)
		}
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, "", errdefs.InvalidArgumentf("error reading %s: %v", name, err)
		}
		return patterns, name, nil
	}
	return nil, "", nil
}

// Dir is the absolute path of the context directory.
func (c *Context) Dir() string { return c.dir }

// Excludes are the ignore patterns in force (cleaned as docker does).
func (c *Context) Excludes() []string { return c.excludes }

// IgnoreFile is the path of the ignore file that was loaded, "" if none.
func (c *Context) IgnoreFile() string { return c.ignoreFile }

// Close releases the context's directory handle.
func (c *Context) Close() error { return c.root.Close() }

// cleanRel turns a user path into a slash path relative to the context
// root ("." for the root). A leading "/" means the context root, as in
// docker. It fails when the path leaves the context.
func cleanRel(p string) (string, error) {
	p = filepath.ToSlash(p)
	rel := path.Clean(strings.TrimLeft(p, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", errdefs.InvalidArgumentf("forbidden path outside the build context: %s", p)
	}
	if rel == "" {
		rel = "."
	}
	return rel, nil
}

// Excluded reports whether the ignore rules exclude the context-relative
// path rel (or one of its parent directories).
func (c *Context) Excluded(rel string) (bool, error) {
	r, err := cleanRel(rel)
	if err != nil {
		return false, err
	}
	if c.pm == nil || r == "." {
		return false, nil
	}
	c.pmMu.Lock()
	defer c.pmMu.Unlock()
	return c.pm.MatchesOrParentMatches(r)
}

// Lstat returns the file info of rel without following a final symlink.
// Excluded paths are reported as not found.
func (c *Context) Lstat(rel string) (fs.FileInfo, error) {
	r, err := c.visible(rel)
	if err != nil {
		return nil, err
	}
	return c.root.Lstat(r)
}

// Open opens rel for reading. Symlinks are followed only inside the
// context; excluded paths are reported as not found.
func (c *Context) Open(rel string) (*os.File, error) {
	r, err := c.visible(rel)
	if err != nil {
		return nil, err
	}
	return c.root.Open(r)
}

// Readlink returns the target of the symlink rel.
func (c *Context) Readlink(rel string) (string, error) {
	r, err := c.visible(rel)
	if err != nil {
		return "", err
	}
	return c.root.Readlink(r)
}

func (c *Context) visible(rel string) (string, error) {
	r, err := cleanRel(rel)
	if err != nil {
		return "", err
	}
	ex, err := c.Excluded(r)
	if err != nil {
		return "", err
	}
	if ex {
		return "", errdefs.NotFound(&fs.PathError{Op: "open", Path: r, Err: errors.New("excluded by .dockerignore")})
	}
	return r, nil
}

// WalkFunc is called for each visible entry: rel is the slash path relative
// to the context root, info its Lstat.
type WalkFunc func(rel string, info fs.FileInfo) error

// Walk calls fn for rel and every visible entry under it, in lexical order,
// parents before children. Excluded entries are skipped; an excluded
// directory that holds re-included (`!pattern`) entries is reported just
// before its first visible child. Symlinks are reported, not followed.
func (c *Context) Walk(ctx context.Context, rel string, fn WalkFunc) error {
	return c.walkDepth(ctx, rel, nil, 0, nil, fn)
}

// walkDepth is Walk with extra exclude patterns matched relative to rel, an
// optional depth limit and an optional cache of directory listings.
func (c *Context) walkDepth(ctx context.Context, rel string, extra *patternmatcher.PatternMatcher, maxDepth int, cache *StatCache, fn WalkFunc) error {
	r, err := cleanRel(rel)
	if err != nil {
		return err
	}
	w := &walker{c: c, ctx: ctx, base: r, extra: extra, fn: fn, maxDepth: maxDepth, cache: cache}
	if extra != nil {
		w.extraPatterns = patternStrings(extra)
	}
	info, err := os.Lstat(c.abs(r))
	if err != nil {
		return err
	}
	excluded := false
	var mi patternmatcher.MatchInfo
	if c.pm != nil && r != "." {
		c.pmMu.Lock()
		excluded, mi, err = c.pm.MatchesUsingParentResults(r, patternmatcher.MatchInfo{})
		c.pmMu.Unlock()
		if err != nil {
			return err
		}
	}
	if !info.IsDir() {
		if excluded {
			return nil
		}
		return fn(r, info)
	}
	if excluded && !c.mayReinclude(r) {
		return nil
	}
	dirs, err := w.scan(r, info, mi)
	if err != nil {
		return err
	}
	return w.emitDir(dirs, r, info, excluded)
}

func (c *Context) abs(rel string) string {
	if rel == "." {
		return c.dir
	}
	return filepath.Join(c.dir, filepath.FromSlash(rel))
}

// mayReinclude reports whether an exception pattern could match something
// under the excluded directory dir.
func (c *Context) mayReinclude(dir string) bool {
	return mayReinclude(c.pm, dir)
}

func mayReinclude(pm *patternmatcher.PatternMatcher, dir string) bool {
	if pm == nil || !pm.Exclusions() {
		return false
	}
	dcomps := strings.Split(dir, "/")
	for _, p := range pm.Patterns() {
		if !p.Exclusion() {
			continue
		}
		pcomps := strings.Split(p.String(), "/")
		possible := true
		for i, d := range dcomps {
			if i >= len(pcomps) {
				possible = false
				break
			}
			if strings.Contains(pcomps[i], "**") {
				break
			}
			if ok, _ := path.Match(pcomps[i], d); !ok {
				possible = false
				break
			}
		}
		if possible {
			return true
		}
	}
	return false
}

// ReadDockerfile reads a file inside the context regardless of the ignore
// rules (docker always sends the Dockerfile, even when .dockerignore lists
// it; only COPY/ADD cannot see it). name is relative to the context root;
// symlinks are followed only inside the context. Used for tar contexts,
// where the Dockerfile is a member of the stream.
func (c *Context) ReadDockerfile(name string) ([]byte, error) {
	r, err := cleanRel(name)
	if err != nil {
		return nil, err
	}
	f, err := c.root.Open(r)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errdefs.NotFoundf("unable to prepare context: the Dockerfile (%s) cannot be found in the build context", name)
		}
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errdefs.InvalidArgumentf("the Dockerfile (%s) is not a regular file", name)
	}
	const maxDockerfile = 16 << 20
	data, err := io.ReadAll(io.LimitReader(f, maxDockerfile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxDockerfile {
		return nil, errdefs.InvalidArgumentf("the Dockerfile (%s) is larger than %d bytes", name, maxDockerfile)
	}
	return data, nil
}
