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

func (c *stageCtx) prepareCopy(ctx context.Context, a copyArgs) (*step, error) {
	j := c.s.j
	where := fmt.Sprintf("%s:%d: %s", j.file.Name, a.loc, a.kw)
	// The flags that shape the result, in the instruction text of the
	// cache key and in the history.
	var flags strings.Builder
	flags.WriteString(a.kw)
	if a.from != "" {
		flags.WriteString(" --from=" + a.from)
	}
	if a.parents {
		flags.WriteString(" --parents")
	}
	if a.chown != "" {
		flags.WriteString(" --chown=" + a.chown)
	}
	if a.chmod != "" {
		flags.WriteString(" --chmod=" + a.chmod)
	}
	if a.unpack != nil {
		flags.WriteString(" --unpack=" + strconv.FormatBool(*a.unpack))
	}
	var hist strings.Builder
	hist.WriteString(flags.String())
	for _, s := range a.sources {
		hist.WriteString(" " + s)
	}
	for _, in := range a.inline {
		hist.WriteString(" <<" + in.Name)
	}
	hist.WriteString(" " + a.dest)
	instr := hist.String()
	if a.checksum != "" {
		instr += " --checksum=" + a.checksum
	}
	// The content hashes of the sources, for the history (srcHash).
	var parts []contentPart

	var mode *fs.FileMode
	if a.chmod != "" {
		m, err := strconv.ParseUint(a.chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return nil, errdefs.InvalidArgumentf("%s: invalid --chmod=%s: only octal modes are supported", where, a.chmod)
		}
		fm := fs.FileMode(m)
		mode = &fm
	}
	if len(a.sources)+len(a.inline) > 1 && !strings.HasSuffix(a.dest, "/") {
		return nil, errdefs.InvalidArgumentf("%s: when using %s with more than one source file, the destination must be a directory and end with a /", where, a.kw)
	}

	// Resolve the source tree and compute the inputs of the cache key.
	var inputs []string
	var urls []string
	var local []string
	for _, s := range a.sources {
		if a.kw == "ADD" && isURL(s) {
			urls = append(urls, s)
			continue
		}
		local = append(local, s)
	}
	if a.checksum != "" && (len(urls) != 1 || len(a.sources) != 1) {
		return nil, errdefs.InvalidArgumentf("%s: --checksum requires exactly one http(s) source", where)
	}
	var sel *buildcontext.Selection
	var fromChain *digest.Digest
	if len(local) > 0 && a.from == "" {
		bc := j.opts.Context
		if bc == nil {
			return nil, errdefs.InvalidArgumentf("%s: the build has no context to copy from", where)
		}
		var err error
		if sel, err = bc.Select(ctx, a.kw, local, buildcontext.SelectOptions{Exclude: a.exclude, Cache: j.opts.StatCache}); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if len(sel.Sources) > 1 && !strings.HasSuffix(a.dest, "/") {
			return nil, errdefs.InvalidArgumentf("%s: when using %s with more than one source file, the destination must be a directory and end with a /", where, a.kw)
		}
		sum, err := sel.Checksum(ctx, bc, buildcontext.ChecksumOptions{Instruction: a.kw, Exclude: a.exclude, Cache: j.opts.StatCache})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		inputs = append(inputs, "context="+sum.String())
		kind := "multi"
		if len(sel.Sources) == 1 {
			kind = "file"
			if sel.Sources[0].Info.IsDir() {
				kind = "dir"
			}
		}
		parts = append(parts, contentPart{kind, sum})
	} else if len(local) > 0 {
		// --from a stage or an image: the key is its state ID and the
		// patterns; the tree is only opened (mounted) on a cache miss.
		id, chainID, err := c.fromState(ctx, a.from, where)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, "from="+id.String())
		inputs = append(inputs, local...)
		fromChain = &chainID
		// Not a hash of the files: the --from state (content-derived: a
		// base image's ID, a stage's steps and layers) and the patterns.
		parts = append(parts, contentPart{"from", digest.FromString(strings.Join(append([]string{id.String()}, local...), "\n"))})
	}
	for _, u := range urls {
		// With --checksum the content is known; otherwise the server's
		// validators (ETag, Last-Modified, length) stand for it, as BuildKit
		// uses them, so a changed remote file misses the cache.
		inputs = append(inputs, "url="+u)
		if a.checksum != "" {
			parts = append(parts, contentPart{"file", digest.FromString(u + "\n" + a.checksum)})
		} else {
			parts = append(parts, contentPart{}) // content unknown until downloaded
		}
		if a.checksum == "" {
			v, err := copier.URLValidators(ctx, u)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			inputs = append(inputs, v)
		}
	}
	for _, in := range a.inline {
		inputs = append(inputs, "inline="+in.Name+"="+in.Content)
		parts = append(parts, contentPart{"file", digest.FromString(in.Name + "\n" + in.Content)})
	}
	history, known := hist.String()+" # buildkit", false
	if h, ok := sourceHash(parts); ok {
		history, known = flags.String()+" "+h+" in "+a.dest, true
	}

	workdir := c.cur.cfg.Config.WorkingDir
	dest := a.dest
	if !path.IsAbs(dest) {
		if workdir == "" {
			workdir = "/"
		}
		dest = path.Join(workdir, dest) + map[bool]string{true: "/", false: ""}[strings.HasSuffix(a.dest, "/") || a.dest == "."]
	}
	fsFn := func(ctx context.Context, snap Snapshot, v *progress.Vertex) error {
		root := snap.Root()
		own, err := copier.ResolveChown(root, a.chown)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if own == nil && sel != nil {
			own = &copier.Owner{} // context files belong to root unless --chown
		}
		cp := &copier.Copier{Root: root, Upper: snap.Upper(), Own: own, Mode: mode}
		if len(a.inline) > 0 || len(urls) > 0 || fromChain != nil {
			cp.Upper = "" // direct writes only when every write goes there
		}
		if sel != nil {
			if err := cp.CopySelection(ctx, j.opts.Context, sel, dest, a.parents, a.kw == "ADD" && (a.unpack == nil || *a.unpack), j.b.Unpacker); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		for _, in := range a.inline {
			if err := cp.WriteInline(dest, in); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		if fromChain != nil {
			dir, release, err := j.b.Snapshots.View(ctx, *fromChain)
			if err != nil {
				return fmt.Errorf("%s --from=%s: %w", where, a.from, err)
			}
			defer release()
			cp.Tree = &copier.Tree{Dir: dir}
			var matches, patterns []string
			for _, s := range local {
				m, err := copier.ResolveSources(cp.Tree, s)
				if err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
				matches = append(matches, m...)
				for range m {
					patterns = append(patterns, s)
				}
			}
			if len(matches) > 1 && !strings.HasSuffix(a.dest, "/") {
				return errdefs.InvalidArgumentf("%s: when using %s with more than one source file, the destination must be a directory and end with a /", where, a.kw)
			}
			for i, m := range matches {
				d := dest
				if a.parents {
					isDir := false
					if p, err := securejoin.SecureJoin(dir, m); err == nil {
						if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
							isDir = true
						}
					}
					d = copier.ParentsDest(dest, patterns[i], m, isDir)
				}
				if err := cp.CopyMatch(ctx, m, d, false, nil); err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
			}
		}
		for _, u := range urls {
			if err := cp.Download(ctx, u, dest, a.checksum); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		return nil
	}
	return &step{instr: instr, inputs: inputs, kind: a.kw, history: history, contentInHistory: known, fs: fsFn}, nil
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
