package buildcontext

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/moby/patternmatcher"
)

// The walk runs in two passes: scan reads directories and lstats entries
// in parallel (syscalls dominate a no-op rebuild), then emitDir reports the
// entries sequentially in lexical depth-first order.

type childKind uint8

const (
	childSkip    childKind = iota // excluded, not reported
	childLeaf                     // reported, not descended
	childDescend                  // a directory scanned in turn
)

type scanChild struct {
	name     string
	info     fs.FileInfo
	kind     childKind
	excluded bool // for childDescend: excluded itself, holds re-included entries
}

type scanJob struct {
	rel     string
	info    fs.FileInfo
	mi, emi patternmatcher.MatchInfo
}

type pendingDir struct {
	rel  string
	info fs.FileInfo
	done bool
}

type walker struct {
	c             *Context
	ctx           context.Context
	base          string // the walk root; extra patterns are relative to it
	extra         *patternmatcher.PatternMatcher
	extraPatterns []string
	fn            WalkFunc
	pending       []*pendingDir
	// maxDepth, when > 0, stops descending below paths of that many
	// components (relative to the context root).
	maxDepth int
	cache    *StatCache // optional: directory listings
}

func patternStrings(pm *patternmatcher.PatternMatcher) []string {
	var out []string
	for _, p := range pm.Patterns() {
		s := p.String()
		if p.Exclusion() {
			s = "!" + s
		}
		out = append(out, s)
	}
	return out
}

func (w *walker) relToBase(rel string) string {
	if w.base == "." {
		return rel
	}
	return strings.TrimPrefix(rel, w.base+"/")
}

// matchers are per-goroutine copies: PatternMatcher is not safe for
// concurrent use.
type matchers struct {
	pm, extra *patternmatcher.PatternMatcher
}

func (w *walker) newMatchers() (matchers, error) {
	var m matchers
	var err error
	if w.c.pm != nil {
		if m.pm, err = patternmatcher.New(w.c.excludes); err != nil {
			return m, err
		}
	}
	if w.extra != nil {
		if m.extra, err = patternmatcher.New(w.extraPatterns); err != nil {
			return m, err
		}
	}
	return m, nil
}

// scan reads every directory to visit under root, in parallel.
func (w *walker) scan(root string, rootInfo fs.FileInfo, rootMI patternmatcher.MatchInfo) (map[string][]scanChild, error) {
	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		queue   = []scanJob{{rel: root, info: rootInfo, mi: rootMI}}
		active  int
		firstEr error
		results = map[string][]scanChild{}
	)
	workers := runtime.NumCPU()
	if workers > 8 {
		workers = 8
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := w.newMatchers()
			for {
				mu.Lock()
				for err == nil && firstEr == nil && len(queue) == 0 && active > 0 {
					cond.Wait()
				}
				if err != nil && firstEr == nil {
					firstEr = err
				}
				if firstEr != nil || len(queue) == 0 {
					cond.Broadcast()
					mu.Unlock()
					return
				}
				job := queue[len(queue)-1]
				queue = queue[:len(queue)-1]
				active++
				mu.Unlock()

				children, jobs, jerr := w.scanDir(m, job)

				mu.Lock()
				active--
				if jerr != nil && firstEr == nil {
					firstEr = jerr
				}
				results[job.rel] = children
				queue = append(queue, jobs...)
				cond.Broadcast()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstEr != nil {
		return nil, firstEr
	}
	return results, nil
}

func (w *walker) scanDir(m matchers, job scanJob) ([]scanChild, []scanJob, error) {
	if err := w.ctx.Err(); err != nil {
		return nil, nil, err
	}
	var (
		names   []string
		entries []os.DirEntry
		cached  bool
	)
	st, _ := job.info.Sys().(*syscall.Stat_t)
	if w.cache != nil && st != nil {
		names, cached = w.cache.listing(job.rel, st)
	}
	if !cached {
		var err error
		if entries, err = os.ReadDir(w.c.abs(job.rel)); err != nil {
			return nil, nil, err
		}
		names = make([]string, len(entries))
		for i, de := range entries {
			names[i] = de.Name()
		}
		if w.cache != nil && st != nil {
			w.cache.storeListing(job.rel, st, names)
		}
	}
	prefix := job.rel + "/"
	if job.rel == "." {
		prefix = ""
	}
	children := make([]scanChild, 0, len(names))
	var jobs []scanJob
	var err error
	for i, name := range names {
		child := prefix + name
		cex := false
		var cmi, cemi patternmatcher.MatchInfo
		if m.pm != nil {
			if cex, cmi, err = m.pm.MatchesUsingParentResults(child, job.mi); err != nil {
				return nil, nil, err
			}
		}
		if m.extra != nil && !cex {
			if cex, cemi, err = m.extra.MatchesUsingParentResults(w.relToBase(child), job.emi); err != nil {
				return nil, nil, err
			}
		}
		var info fs.FileInfo
		if entries != nil {
			if cex && !entries[i].IsDir() {
				continue // excluded files need no stat
			}
			info, err = entries[i].Info()
		} else {
			info, err = os.Lstat(prefixAbs(w.c, child))
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed while walking
			}
			return nil, nil, err
		}
		if cex && !info.IsDir() {
			continue
		}
		sc := scanChild{name: name, info: info, kind: childLeaf}
		if info.IsDir() {
			switch {
			case w.maxDepth > 0 && strings.Count(child, "/")+1 >= w.maxDepth:
				if cex {
					continue
				}
			case cex && !mayReinclude(m.pm, child) && (m.extra == nil || !mayReinclude(m.extra, w.relToBase(child))):
				continue
			default:
				sc.kind, sc.excluded = childDescend, cex
				jobs = append(jobs, scanJob{rel: child, info: info, mi: cmi, emi: cemi})
			}
		}
		children = append(children, sc)
	}
	return children, jobs, nil
}

func (w *walker) emit(rel string, info fs.FileInfo) error {
	for _, p := range w.pending {
		if !p.done {
			p.done = true
			if err := w.fn(p.rel, p.info); err != nil {
				return err
			}
		}
	}
	return w.fn(rel, info)
}

func (w *walker) emitDir(dirs map[string][]scanChild, rel string, info fs.FileInfo, excluded bool) error {
	if excluded {
		w.pending = append(w.pending, &pendingDir{rel: rel, info: info})
		defer func() { w.pending = w.pending[:len(w.pending)-1] }()
	} else if err := w.emit(rel, info); err != nil {
		return err
	}
	prefix := rel + "/"
	if rel == "." {
		prefix = ""
	}
	for _, ch := range dirs[rel] {
		child := prefix + ch.name
		switch ch.kind {
		case childLeaf:
			if err := w.emit(child, ch.info); err != nil {
				return err
			}
		case childDescend:
			if err := w.emitDir(dirs, child, ch.info, ch.excluded); err != nil {
				return err
			}
		}
	}
	return nil
}

// prefixAbs is c.abs without filepath.Clean (rel is already clean).
func prefixAbs(c *Context, rel string) string {
	return c.dir + "/" + rel
}
