package builder

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/hoistproject/hoist/internal/builder/buildcontext"
	"github.com/hoistproject/hoist/internal/builder/copier"
	"github.com/hoistproject/hoist/internal/builder/progress"
	"github.com/hoistproject/hoist/internal/dockerfile"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// Unpacker extracts ADD's local archives (package build/copier).
type Unpacker = copier.Unpacker

type copyArgs struct {
	kw       string
	sources  []string
	inline   []dockerfile.Inline
	dest     string
	from     string
	chown    string
	chmod    string
	checksum string
	unpack   *bool
	parents  bool
	exclude  []string
	loc      int
}

// copyPlan is a COPY or ADD resolved before it runs: where its sources
// come from (the build context, a stage or image, URLs, inline
// documents), its cache inputs and its history's content parts.
type copyPlan struct {
	a         copyArgs
	where     string // file:line: KEYWORD, for messages
	mode      *fs.FileMode
	dest      string   // absolute, in the image
	local     []string // as written
	patterns  []string // local as glob patterns (see globPattern)
	urls      []string
	sel       *buildcontext.Selection // local sources from the context
	fromChain *digest.Digest          // local sources from --from's layers
	inputs    []string
	parts     []contentPart
	// indexKey names the COPY's lineage for the incremental path
	// (copyindex.go); index is what apply wrote into the upper dir.
	indexKey string
	index    copier.Index
}

// errMultiDest is docker's refusal of several sources into a file.
func (p *copyPlan) errMultiDest() error {
	return errdefs.InvalidArgumentf("%s: when using %s with more than one source file, the destination must be a directory and end with a /", p.where, p.a.kw)
}

func (c *stageCtx) prepareCopy(ctx context.Context, a copyArgs) (*step, error) {
	p := &copyPlan{a: a, where: fmt.Sprintf("%s:%d: %s", c.s.j.file.Name, a.loc, a.kw)}
	flags, instr := copyText(a)
	if a.chmod != "" {
		m, err := strconv.ParseUint(a.chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return nil, errdefs.InvalidArgumentf("%s: invalid --chmod=%s: only octal modes are supported", p.where, a.chmod)
		}
		fm := fs.FileMode(m)
		p.mode = &fm
	}
	if len(a.sources)+len(a.inline) > 1 && !strings.HasSuffix(a.dest, "/") {
		return nil, p.errMultiDest()
	}
	for _, s := range a.sources {
		if a.kw == "ADD" && isURL(s) {
			p.urls = append(p.urls, s)
		} else {
			p.local = append(p.local, s)
			p.patterns = append(p.patterns, globPattern(s, c.s.j.file.Directives.Escape))
		}
	}
	if a.checksum != "" && (len(p.urls) != 1 || len(a.sources) != 1) {
		return nil, errdefs.InvalidArgumentf("%s: --checksum requires exactly one http(s) source", p.where)
	}
	if err := c.planSources(ctx, p); err != nil {
		return nil, err
	}
	history, known := instr+" # buildkit", false
	if h, ok := sourceHash(p.parts); ok {
		history, known = flags+" "+h+" in "+a.dest, true
	}
	if a.checksum != "" {
		instr += " --checksum=" + a.checksum
	}
	p.dest = a.dest
	if !path.IsAbs(p.dest) {
		workdir := c.cur.cfg.Config.WorkingDir
		if workdir == "" {
			workdir = "/"
		}
		p.dest = path.Join(workdir, p.dest) + map[bool]string{true: "/", false: ""}[strings.HasSuffix(a.dest, "/") || a.dest == "."]
	}
	j := c.s.j
	fsFn := func(ctx context.Context, snap Snapshot, _ *progress.Vertex) error {
		return p.apply(ctx, j, snap)
	}
	st := &step{instr: instr, inputs: p.inputs, kind: a.kw, history: history, contentInHistory: known, fs: fsFn}
	if p.sel != nil && len(p.urls) == 0 && len(a.inline) == 0 {
		p.indexKey = copyIndexKey(j.opts.Context.Dir(), instr, p.dest)
		st.committed = func(ctx context.Context, l Layer) {
			if len(p.index) == 0 {
				return
			}
			if err := j.saveCopyIndex(p.indexKey, l.ChainID, p.index); err != nil {
				j.log.Warn("saving the copy index failed (the next build copies every file)", "err", err)
			}
		}
	}
	return st, nil
}

// globPattern is a COPY/ADD source as the glob pattern that matches it.
// Under the default escape character a backslash escapes the next
// character in the pattern, as in docker; once `# escape=` makes the
// backtick the escape character, a backslash in a source is a plain
// character of the name, so it is escaped for the matcher.
func globPattern(src string, escape rune) string {
	if escape == 0 || escape == '\\' {
		return src
	}
	return strings.ReplaceAll(src, `\`, `\\`)
}

// copyText is the instruction's text: flags are the keyword and the
// flags that shape the result; instr adds the sources and destination
// (the cache key's text and the history's when the content is unknown).
func copyText(a copyArgs) (flags, instr string) {
	var b strings.Builder
	b.WriteString(a.kw)
	if a.from != "" {
		b.WriteString(" --from=" + a.from)
	}
	if a.parents {
		b.WriteString(" --parents")
	}
	if a.chown != "" {
		b.WriteString(" --chown=" + a.chown)
	}
	if a.chmod != "" {
		b.WriteString(" --chmod=" + a.chmod)
	}
	if a.unpack != nil {
		b.WriteString(" --unpack=" + strconv.FormatBool(*a.unpack))
	}
	flags = b.String()
	for _, s := range a.sources {
		b.WriteString(" " + s)
	}
	for _, in := range a.inline {
		b.WriteString(" <<" + in.Name)
	}
	b.WriteString(" " + a.dest)
	return flags, b.String()
}

// planSources resolves the sources and computes the cache inputs and the
// history's content parts.
func (c *stageCtx) planSources(ctx context.Context, p *copyPlan) error {
	a, j := p.a, c.s.j
	if len(p.local) > 0 && a.from == "" {
		bc := j.opts.Context
		if bc == nil {
			return errdefs.InvalidArgumentf("%s: the build has no context to copy from", p.where)
		}
		sel, err := bc.Select(ctx, a.kw, p.patterns, buildcontext.SelectOptions{Exclude: a.exclude, Cache: j.opts.StatCache})
		if err != nil {
			return fmt.Errorf("%s: %w", p.where, err)
		}
		if len(sel.Sources) > 1 && !strings.HasSuffix(a.dest, "/") {
			return p.errMultiDest()
		}
		sum, err := sel.Checksum(ctx, bc, buildcontext.ChecksumOptions{Instruction: a.kw, Exclude: a.exclude, Cache: j.opts.StatCache})
		if err != nil {
			return fmt.Errorf("%s: %w", p.where, err)
		}
		p.sel = sel
		p.inputs = append(p.inputs, "context="+sum.String())
		kind := "multi"
		if len(sel.Sources) == 1 {
			kind = "file"
			if sel.Sources[0].Info.IsDir() {
				kind = "dir"
			}
		}
		p.parts = append(p.parts, contentPart{kind, sum})
	} else if len(p.local) > 0 {
		// --from a stage or an image: the key is its state ID and the
		// patterns; the tree is only opened (mounted) on a cache miss.
		id, chainID, err := c.fromState(ctx, a.from, p.where)
		if err != nil {
			return err
		}
		p.inputs = append(p.inputs, "from="+id.String())
		p.inputs = append(p.inputs, p.local...)
		p.fromChain = &chainID
		// Not a hash of the files: the --from state (content-derived: a
		// base image's ID, a stage's steps and layers) and the patterns.
		p.parts = append(p.parts, contentPart{"from", digest.FromString(strings.Join(append([]string{id.String()}, p.local...), "\n"))})
	}
	for _, u := range p.urls {
		// With --checksum the content is known; otherwise the server's
		// validators (ETag, Last-Modified, length) stand for it, as BuildKit
		// uses them, so a changed remote file misses the cache.
		p.inputs = append(p.inputs, "url="+u)
		if a.checksum != "" {
			p.parts = append(p.parts, contentPart{"file", digest.FromString(u + "\n" + a.checksum)})
			continue
		}
		p.parts = append(p.parts, contentPart{}) // content unknown until downloaded
		v, err := copier.URLValidators(ctx, u)
		if err != nil {
			return fmt.Errorf("%s: %w", p.where, err)
		}
		p.inputs = append(p.inputs, v)
	}
	for _, in := range a.inline {
		p.inputs = append(p.inputs, "inline="+in.Name+"="+in.Content)
		p.parts = append(p.parts, contentPart{"file", digest.FromString(in.Name + "\n" + in.Content)})
	}
	return nil
}

// apply copies into the step's snapshot (on a cache miss).
func (p *copyPlan) apply(ctx context.Context, j *job, snap Snapshot) error {
	a := p.a
	root := snap.Root()
	own, err := copier.ResolveChown(root, a.chown)
	if err != nil {
		return fmt.Errorf("%s: %w", p.where, err)
	}
	if own == nil && p.sel != nil {
		own = &copier.Owner{} // context files belong to root unless --chown
	}
	cp := &copier.Copier{Root: root, Upper: snap.Upper(), Own: own, Mode: p.mode}
	if len(a.inline) > 0 || len(p.urls) > 0 || p.fromChain != nil {
		cp.Upper = "" // direct writes only when every write goes there
	}
	if p.indexKey != "" && cp.Upper != "" && !j.opts.NoCache {
		// --no-cache copies every file afresh (same bytes either way).
		cp.Reuse = j.loadReuse(ctx, p.indexKey)
	}
	if p.sel != nil {
		if err := cp.CopySelection(ctx, j.opts.Context, p.sel, p.dest, a.parents, a.kw == "ADD" && (a.unpack == nil || *a.unpack), j.b.Unpacker); err != nil {
			return fmt.Errorf("%s: %w", p.where, err)
		}
		p.index = cp.Index
	}
	for _, in := range a.inline {
		if err := cp.WriteInline(p.dest, in); err != nil {
			return fmt.Errorf("%s: %w", p.where, err)
		}
	}
	if p.fromChain != nil {
		if err := p.copyFrom(ctx, j, cp); err != nil {
			return err
		}
	}
	for _, u := range p.urls {
		if err := cp.Download(ctx, u, p.dest, a.checksum); err != nil {
			return fmt.Errorf("%s: %w", p.where, err)
		}
	}
	return nil
}

// copyFrom copies the local sources out of --from's layers.
func (p *copyPlan) copyFrom(ctx context.Context, j *job, cp *copier.Copier) error {
	a := p.a
	dir, release, err := j.b.Snapshots.View(ctx, *p.fromChain)
	if err != nil {
		return fmt.Errorf("%s --from=%s: %w", p.where, a.from, err)
	}
	defer release()
	cp.Tree = &copier.Tree{Dir: dir}
	var matches, patterns []string
	for i, s := range p.local {
		m, err := copier.ResolveSources(cp.Tree, p.patterns[i])
		if err != nil {
			return fmt.Errorf("%s: %w", p.where, err)
		}
		matches = append(matches, m...)
		for range m {
			patterns = append(patterns, s)
		}
	}
	if len(matches) > 1 && !strings.HasSuffix(a.dest, "/") {
		return p.errMultiDest()
	}
	for i, m := range matches {
		d := p.dest
		if a.parents {
			isDir := false
			if fp, err := securejoin.SecureJoin(dir, m); err == nil {
				if fi, err := os.Lstat(fp); err == nil && fi.IsDir() {
					isDir = true
				}
			}
			d = copier.ParentsDest(p.dest, patterns[i], m, isDir)
		}
		if err := cp.CopyMatch(ctx, m, d, false, nil); err != nil {
			return fmt.Errorf("%s: %w", p.where, err)
		}
	}
	return nil
}

// contentPart is the content hash of some of a COPY/ADD's sources: kind is
// "file" or "dir" (one context source), "multi" (several), "from" (the
// --from state); kind "" means unknown before the step runs (an ADD URL
// without --checksum).
type contentPart struct {
	kind string
	sum  digest.Digest
}

// sourceHash is the source text docker's classic builder records in a
// COPY/ADD history entry ("COPY file:<sha256> in /dst"): one part as
// KIND:HEX, several as multi:HEX over their texts. ok is false when a part
// is unknown: the history then names the sources as written (BuildKit's
// form), and --cache-from cannot match the step.
func sourceHash(parts []contentPart) (string, bool) {
	texts := make([]string, 0, len(parts))
	for _, p := range parts {
		if p.kind == "" {
			return "", false
		}
		texts = append(texts, p.kind+":"+p.sum.Encoded())
	}
	switch len(texts) {
	case 0:
		return "", false
	case 1:
		return texts[0], true
	}
	return "multi:" + digest.FromString(strings.Join(texts, ",")).Encoded(), true
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// fromState resolves COPY --from: an earlier stage (name or index) or an
// image. It returns the state's ID (for the cache key) and its top layer.
func (c *stageCtx) fromState(ctx context.Context, from, where string) (digest.Digest, digest.Digest, error) {
	j := c.s.j
	if s := j.stageByRef(from, c.s.index); s != nil {
		if s.state == nil {
			return "", "", errdefs.FailedPreconditionf("%s: stage %q is not built", where, from)
		}
		return s.state.id, s.state.chainID, nil
	}
	img, err := j.resolveImage(ctx, from, false)
	if err != nil {
		return "", "", fmt.Errorf("%s --from=%s: %w", where, from, err)
	}
	return img.ID, img.ChainID, nil
}
