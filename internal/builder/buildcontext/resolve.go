package buildcontext

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// Source is one resolved COPY/ADD source.
type Source struct {
	Pattern string      // the source as written in the Dockerfile
	Rel     string      // slash path of the entry relative to the context root ("." for the root)
	Info    fs.FileInfo // Lstat of Rel (a directory's contents are walked with Walk)
}

// maxLinks bounds symlink resolution of a source path.
const maxLinks = 255

// hasWildcard reports whether p uses filepath.Match syntax.
func hasWildcard(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// Resolve maps the sources of a COPY or ADD (instr names it in messages)
// to context entries, the way docker does:
//
//   - paths are relative to the context root; a leading "/" means the root;
//     a path that leaves the context is refused: "COPY failed: forbidden
//     path outside the build context: ../x";
//   - a source with wildcards matches entries with path.Match semantics
//     (`*` does not cross `/`), in lexical order; no match at all is an error;
//   - symlinks named by a source path are followed inside the context only;
//     a link whose target leaves the context is refused;
//   - entries excluded by the ignore rules do not exist.
//
// ADD's URL and git sources are not context paths: the caller handles them
// before calling Resolve.
func (c *Context) Resolve(ctx context.Context, instr string, patterns []string) ([]Source, error) {
	if instr == "" {
		instr = "COPY"
	}
	var out []Source
	for _, p := range patterns {
		rel, err := cleanRel(p)
		if err != nil {
			return nil, fmt.Errorf("%s failed: %w", instr, err)
		}
		if hasWildcard(rel) {
			matches, err := c.glob(ctx, rel)
			if err != nil {
				return nil, fmt.Errorf("%s failed: %w", instr, err)
			}
			if len(matches) == 0 {
				return nil, errdefs.NotFoundf("%s failed: no source files were specified (nothing matches %q)", instr, p)
			}
			for _, m := range matches {
				m.Pattern = p
				out = append(out, m)
			}
			continue
		}
		resolved, info, err := c.follow(rel)
		if err != nil {
			if errdefs.IsInvalidArgument(err) {
				return nil, fmt.Errorf("%s failed: %w", instr, err)
			}
			if errors.Is(err, fs.ErrNotExist) {
				return nil, errdefs.NotFoundf("%s failed: file not found in build context or excluded by .dockerignore: stat %s: file does not exist", instr, p)
			}
			return nil, fmt.Errorf("%s failed: %w", instr, err)
		}
		if !info.IsDir() || !c.mayReinclude(resolved) {
			ex, err := c.Excluded(resolved)
			if err != nil {
				return nil, err
			}
			if ex {
				return nil, errdefs.NotFoundf("%s failed: file not found in build context or excluded by .dockerignore: stat %s: file does not exist", instr, p)
			}
		}
		out = append(out, Source{Pattern: p, Rel: resolved, Info: info})
	}
	return out, nil
}

// follow resolves symlinks in rel component by component, inside the
// context. It returns the final context-relative path and its Lstat (the
// final entry is never a symlink).
func (c *Context) follow(rel string) (string, fs.FileInfo, error) {
	if rel == "." {
		info, err := os.Lstat(c.dir)
		return ".", info, err
	}
	todo := strings.Split(rel, "/")
	var done []string
	hops := 0
	for len(todo) > 0 {
		comp := todo[0]
		todo = todo[1:]
		switch comp {
		case ".", "":
			continue
		case "..":
			if len(done) == 0 {
				return "", nil, errdefs.InvalidArgumentf("forbidden path outside the build context: %s", rel)
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(append(append([]string{}, done...), comp)...)
		info, err := os.Lstat(c.abs(cur))
		if err != nil {
			return "", nil, err
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			if len(todo) > 0 && !info.IsDir() {
				return "", nil, &fs.PathError{Op: "stat", Path: rel, Err: fs.ErrNotExist}
			}
			done = append(done, comp)
			continue
		}
		hops++
		if hops > maxLinks {
			return "", nil, errdefs.InvalidArgumentf("too many levels of symbolic links: %s", rel)
		}
		target, err := os.Readlink(c.abs(cur))
		if err != nil {
			return "", nil, err
		}
		if filepath.IsAbs(target) {
			// An absolute target is the host path: inside only if it
			// points into the context directory itself.
			r, err := filepath.Rel(c.dir, filepath.Clean(target))
			if err != nil || r == ".." || strings.HasPrefix(r, "../") {
				return "", nil, errdefs.InvalidArgumentf("forbidden path outside the build context: %s -> %s", cur, target)
			}
			done = nil
			todo = append(strings.Split(filepath.ToSlash(r), "/"), todo...)
			continue
		}
		base := path.Dir(cur)
		joined := path.Join(base, filepath.ToSlash(target))
		if joined == ".." || strings.HasPrefix(joined, "../") {
			return "", nil, errdefs.InvalidArgumentf("forbidden path outside the build context: %s -> %s", cur, target)
		}
		done = nil
		todo = append(strings.Split(joined, "/"), todo...)
	}
	final := path.Join(done...)
	if final == "" {
		final = "."
	}
	info, err := os.Lstat(c.abs(final))
	return final, info, err
}

// glob matches a wildcard pattern against the visible entries of the
// context, walking only the literal prefix directory and only as deep as
// the pattern.
func (c *Context) glob(ctx context.Context, pattern string) ([]Source, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, errdefs.InvalidArgumentf("invalid source pattern %q: %v", pattern, err)
	}
	comps := strings.Split(pattern, "/")
	prefix := "."
	i := 0
	for ; i < len(comps)-1 && !hasWildcard(comps[i]); i++ {
		prefix = path.Join(prefix, comps[i])
	}
	depth := len(comps)
	info, err := os.Lstat(c.abs(prefix))
	if err != nil || !info.IsDir() {
		return nil, nil
	}
	var out []Source
	err = c.walkDepth(ctx, prefix, nil, depth, nil, func(rel string, info fs.FileInfo) error {
		if rel == "." {
			return nil
		}
		n := strings.Count(rel, "/") + 1
		if n > depth {
			return nil
		}
		if ok, _ := path.Match(pattern, rel); ok && n == depth {
			out = append(out, Source{Rel: rel, Info: info})
		}
		return nil
	})
	return out, err
}
