package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/hoistproject/hoist/internal/build/buildcontext"
	"github.com/hoistproject/hoist/internal/dockerfile"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// Unpacker extracts ADD's local archives.
type Unpacker interface {
	// Unpack extracts the (possibly compressed) tar in r onto the
	// directory dir returns; dir is called only once r is known to be an
	// archive. ok is false, with nothing written and dir not called, when r
	// is not a tar archive.
	Unpack(ctx context.Context, dir func() (string, error), r io.Reader) (ok bool, err error)
}

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

// srcTree is where COPY reads: the build context or a stage/image rootfs.
type srcTree struct {
	dir      string
	excluded func(rel string) bool
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
			v, err := urlValidators(ctx, u)
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
	fsFn := func(ctx context.Context, snap Snapshot, v *vertex) error {
		root := snap.Root()
		own, err := resolveChown(root, a.chown)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if own == nil && sel != nil {
			own = &owner{0, 0} // context files belong to root unless --chown
		}
		cp := &copier{root: root, upper: snap.Upper(), own: own, mode: mode}
		if len(a.inline) > 0 || len(urls) > 0 || fromChain != nil {
			cp.upper = "" // direct writes only when every write goes there
		}
		if sel != nil {
			if err := cp.copySelection(ctx, j.opts.Context, sel, dest, a.parents, a.kw == "ADD" && (a.unpack == nil || *a.unpack), j.b.Unpacker); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		for _, in := range a.inline {
			if err := cp.writeInline(dest, in); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		if fromChain != nil {
			dir, release, err := j.b.Snapshots.View(ctx, *fromChain)
			if err != nil {
				return fmt.Errorf("%s --from=%s: %w", where, a.from, err)
			}
			defer release()
			cp.tree = &srcTree{dir: dir, excluded: func(string) bool { return false }}
			var matches, patterns []string
			for _, s := range local {
				m, err := resolveSources(cp.tree, s)
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
					d = parentsDest(dest, patterns[i], m, isDir)
				}
				if err := cp.copyMatch(ctx, m, d, false, nil); err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
			}
		}
		for _, u := range urls {
			if err := cp.download(ctx, u, dest, a.checksum); err != nil {
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

// resolveSources expands one source (wildcards allowed) to the matching
// slash-separated paths relative to the tree.
func resolveSources(t *srcTree, src string) ([]string, error) {
	clean := path.Clean(filepath.ToSlash(src))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return nil, errdefs.InvalidArgumentf("forbidden path outside the build context: %s", src)
	}
	rel := cleanRel(clean)
	if !strings.ContainsAny(rel, "*?[") {
		p, err := securejoin.SecureJoin(t.dir, rel)
		if err != nil {
			return nil, err
		}
		if _, err := os.Lstat(p); err != nil || t.excluded(rel) {
			return nil, errdefs.NotFoundf("failed to compute cache key: %q: not found", "/"+rel)
		}
		return []string{rel}, nil
	}
	var out []string
	if err := glob(t, ".", strings.Split(rel, "/"), &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errdefs.NotFoundf("no source files were specified (pattern %q matched nothing)", src)
	}
	return out, nil
}

func glob(t *srcTree, dir string, comps []string, out *[]string) error {
	abs := filepath.Join(t.dir, filepath.FromSlash(dir))
	ents, err := os.ReadDir(abs)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		ok, err := path.Match(comps[0], n)
		if err != nil {
			return errdefs.InvalidArgumentf("bad source pattern %q: %v", comps[0], err)
		}
		if !ok {
			continue
		}
		rel := n
		if dir != "." {
			rel = dir + "/" + n
		}
		if t.excluded(rel) {
			continue
		}
		if len(comps) == 1 {
			*out = append(*out, rel)
			continue
		}
		if err := glob(t, rel, comps[1:], out); err != nil {
			return err
		}
	}
	return nil
}

type owner struct{ uid, gid int }

// resolveChown resolves --chown=user[:group] with the image's /etc/passwd
// and /etc/group. nil means "keep the source's owner".
func resolveChown(root, spec string) (*owner, error) {
	if spec == "" {
		return nil, nil
	}
	u, g, hasGroup := strings.Cut(spec, ":")
	uid, ugid, err := lookupID(root, "/etc/passwd", u)
	if err != nil {
		return nil, err
	}
	gid := ugid
	if hasGroup {
		if gid, _, err = lookupID(root, "/etc/group", g); err != nil {
			return nil, err
		}
	} else if _, e := strconv.Atoi(u); e == nil {
		gid = uid // numeric user alone: group = same number, as docker
	}
	return &owner{uid, gid}, nil
}

// lookupID finds name in a passwd/group file of the rootfs. Numbers are
// taken as they are. For passwd it also returns the primary gid.
func lookupID(root, file, name string) (int, int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, n, nil
	}
	p, err := securejoin.SecureJoin(root, file)
	if err != nil {
		return 0, 0, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, 0, errdefs.InvalidArgumentf("unable to convert uid/gid chown string to host mapping: can't find %s in the image to resolve %q", file, name)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 || f[0] != name {
			continue
		}
		id, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		gid := id
		if file == "/etc/passwd" && len(f) > 3 {
			if g, err := strconv.Atoi(f[3]); err == nil {
				gid = g
			}
		}
		return id, gid, nil
	}
	kind := "user"
	if file == "/etc/group" {
		kind = "group"
	}
	return 0, 0, errdefs.InvalidArgumentf("unable to find %s %s: no matching entries in %s", kind, name, file)
}

// copier writes COPY/ADD results into a rootfs.
type copier struct {
	root  string
	upper string // overlay upper dir for direct writes ("" for none)
	own   *owner
	mode  *fs.FileMode
	tree  *srcTree
	// links maps a hardlinked source file (device, inode) to its first
	// copy, so that a step copies hardlinks as hardlinks (as docker and
	// BuildKit do).
	links map[[2]uint64]string
}

// parentsDest returns where a source goes under COPY --parents: dest joined
// with the source's path relative to the context root, or to the pivot
// ("/./") of its pattern. A file's path is its directory (dest/dir/ then
// receives it by name); a directory's is itself.
func parentsDest(dest, pattern, rel string, isDir bool) string {
	p := strings.TrimPrefix(filepath.ToSlash(pattern), "/")
	for strings.HasPrefix(p, "./") {
		p = strings.TrimPrefix(p, "./")
	}
	kept := cleanRel(rel)
	if i := strings.LastIndex(p, "/./"); i >= 0 {
		drop := len(strings.Split(cleanRel(p[:i]), "/"))
		parts := strings.Split(kept, "/")
		if drop < len(parts) {
			kept = strings.Join(parts[drop:], "/")
		} else {
			kept = "."
		}
	}
	if !isDir {
		kept = path.Dir(kept)
	}
	return path.Join(dest, kept) + "/"
}

// target resolves an absolute container path inside the rootfs.
func (cp *copier) target(p string) (string, error) {
	return securejoin.SecureJoin(cp.root, p)
}

// mkdirAll creates dir (a container path) and missing parents, owned as the
// copy is.
func (cp *copier) mkdirAll(dir string) (string, error) {
	dir = path.Clean("/" + dir)
	if dir != "/" {
		if _, err := cp.mkdirAll(path.Dir(dir)); err != nil {
			return "", err
		}
	}
	p, err := cp.target(dir)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(p)
	if err == nil {
		if !fi.IsDir() {
			return "", errdefs.InvalidArgumentf("cannot copy to %s: not a directory", dir)
		}
		return p, nil
	}
	if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	if cp.own != nil {
		if err := os.Lchown(p, cp.own.uid, cp.own.gid); err != nil {
			return "", err
		}
	}
	return p, nil
}

func (cp *copier) writeInline(dest string, in dockerfile.Inline) error {
	target := dest
	if strings.HasSuffix(dest, "/") {
		target = path.Join(dest, in.Name)
	}
	if _, err := cp.mkdirAll(path.Dir(target)); err != nil {
		return err
	}
	p, err := cp.target(target)
	if err != nil {
		return err
	}
	mode := fs.FileMode(0o644)
	if cp.mode != nil {
		mode = *cp.mode
	}
	if err := os.WriteFile(p, []byte(in.Content), mode); err != nil {
		return err
	}
	if err := os.Chmod(p, mode); err != nil {
		return err
	}
	if cp.own != nil {
		return os.Lchown(p, cp.own.uid, cp.own.gid)
	}
	return nil
}

// copyMatch copies one matched source to dest with docker's rules: a
// directory's contents go into dest; a file goes to dest, or into dest when
// dest ends in "/" or is an existing directory.
func (cp *copier) copyMatch(ctx context.Context, rel, dest string, unpack bool, u Unpacker) error {
	src, err := securejoin.SecureJoin(cp.tree.dir, rel)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("%q: not found", "/"+rel)
	}
	if fi.IsDir() {
		dp, err := cp.mkdirAll(dest)
		if err != nil {
			return err
		}
		return cp.copyTree(ctx, src, dp, rel)
	}
	if unpack && u != nil && fi.Mode().IsRegular() {
		done, err := cp.unpack(ctx, src, dest, u)
		if err != nil {
			return fmt.Errorf("extracting %s: %w", rel, err)
		}
		if done {
			return nil
		}
	}
	return cp.copyFileTo(src, fi, path.Base(rel), dest)
}

// copyTree copies the contents of directory src into dst.
func (cp *copier) copyTree(ctx context.Context, src, dst, rel string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		crel := e.Name()
		if rel != "." {
			crel = rel + "/" + e.Name()
		}
		if cp.tree.excluded(crel) {
			continue
		}
		sp := filepath.Join(src, e.Name())
		dp := filepath.Join(dst, e.Name())
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if fi.IsDir() {
			if err := cp.copyEntry(sp, dp, fi); err != nil {
				return err
			}
			if err := cp.copyTree(ctx, sp, dp, crel); err != nil {
				return err
			}
			if err := setTimes(dp, fi, false); err != nil {
				return err
			}
			continue
		}
		if err := cp.copyEntry(sp, dp, fi); err != nil {
			return err
		}
	}
	return nil
}

// copyEntry copies one file, symlink or (empty) directory.
func (cp *copier) copyEntry(src, dst string, fi fs.FileInfo) error {
	mode := fi.Mode()
	perm := mode.Perm() | mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
	if cp.mode != nil && mode&fs.ModeSymlink == 0 {
		perm = *cp.mode
	}
	switch {
	case mode.IsDir():
		if fi, err := os.Lstat(dst); err == nil && !fi.IsDir() {
			// Never write through a symlink (or over a file) of the image.
			if err := os.RemoveAll(dst); err != nil {
				return err
			}
		}
		if err := os.Mkdir(dst, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case mode.IsRegular():
		if done, err := cp.linkCopy(fi, dst); err != nil || done {
			return err
		}
		if err := copyFile(src, dst); err != nil {
			return err
		}
	case mode&fs.ModeSymlink != 0:
		t, err := os.Readlink(src)
		if err != nil {
			return err
		}
		_ = os.RemoveAll(dst)
		if err := os.Symlink(t, dst); err != nil {
			return err
		}
	case mode&(fs.ModeNamedPipe) != 0:
		_ = os.RemoveAll(dst)
		if err := unix.Mkfifo(dst, uint32(perm)); err != nil {
			return err
		}
	default:
		return nil // sockets and devices are not copied
	}
	uid, gid := -1, -1
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		uid, gid = int(st.Uid), int(st.Gid)
	}
	if cp.own != nil {
		uid, gid = cp.own.uid, cp.own.gid
	}
	if err := os.Lchown(dst, uid, gid); err != nil {
		return err
	}
	if mode&fs.ModeSymlink == 0 {
		if err := os.Chmod(dst, toOSMode(perm)); err != nil {
			return err
		}
	}
	return setTimes(dst, fi, mode&fs.ModeSymlink != 0)
}

func toOSMode(m fs.FileMode) fs.FileMode { return m } // fs.FileMode bits are os bits

// linkCopy makes dst a hardlink to the earlier copy of the same source
// inode in this step; done is false (and the inode recorded) when there is
// none or the link cannot be made (another file system: a plain copy then).
func (cp *copier) linkCopy(fi fs.FileInfo, dst string) (bool, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Nlink < 2 {
		return false, nil
	}
	key := [2]uint64{uint64(st.Dev), st.Ino}
	if first, ok := cp.links[key]; ok {
		if err := os.RemoveAll(dst); err != nil {
			return false, err
		}
		if err := os.Link(first, dst); err == nil {
			return true, nil
		}
		return false, nil
	}
	if cp.links == nil {
		cp.links = map[[2]uint64]string{}
	}
	cp.links[key] = dst
	return false, nil
}

func setTimes(p string, fi fs.FileInfo, link bool) error {
	mt := fi.ModTime()
	ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
	flags := 0
	if link {
		flags = unix.AT_SYMLINK_NOFOLLOW
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, flags)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if fi, err := os.Lstat(dst); err == nil && !fi.Mode().IsRegular() {
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// download fetches an ADD URL into dest (not extracted, mode 0600 as
// docker), verifying --checksum when given.
func (cp *copier) download(ctx context.Context, rawURL, dest, checksum string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return errdefs.InvalidArgumentf("invalid URL %s: %v", rawURL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("downloading %s: %s", rawURL, resp.Status)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = "index.html"
	}
	target := dest
	if strings.HasSuffix(dest, "/") {
		target = path.Join(dest, name)
	}
	if _, err := cp.mkdirAll(path.Dir(target)); err != nil {
		return err
	}
	tp, err := cp.target(target)
	if err != nil {
		return err
	}
	tmp := tp + ".hoist-download"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if checksum != "" && checksum != got {
		os.Remove(tmp)
		return errdefs.DataLossf("digest mismatch for %s: expected %s, got %s", rawURL, checksum, got)
	}
	mode := fs.FileMode(0o600)
	if cp.mode != nil {
		mode = *cp.mode
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	uid, gid := 0, 0
	if cp.own != nil {
		uid, gid = cp.own.uid, cp.own.gid
	}
	if err := os.Lchown(tmp, uid, gid); err != nil {
		return err
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		_ = os.Chtimes(tmp, lm, lm)
	} else {
		_ = os.Chtimes(tmp, time.Unix(0, 0), time.Unix(0, 0))
	}
	return os.Rename(tmp, tp)
}

// copySelection copies what a COPY/ADD selected in the build context into
// the rootfs: a directory source's contents go into dest, a file goes to
// dest (or into it when dest ends in "/" or is a directory).
//
// With parents (COPY --parents), each source keeps its path relative to the
// context root under dest.
func (cp *copier) copySelection(ctx context.Context, bc *buildcontext.Context, sel *buildcontext.Selection, dest string, parents, unpack bool, u Unpacker) error {
	type dirTime struct {
		p  string
		fi fs.FileInfo
	}
	var dirs []dirTime
	for _, src := range sel.Sources {
		if !src.Info.IsDir() {
			// Files go through the merged root; so must everything else of
			// this step, so that no write bypasses what the mount has seen.
			cp.upper = ""
		}
	}
	base := make([]string, len(sel.Sources))
	for i, src := range sel.Sources {
		if !src.Info.IsDir() {
			continue
		}
		d := dest
		if parents {
			d = parentsDest(dest, src.Pattern, src.Rel, true)
		} else if i > 0 && sel.Sources[i-1].Info.IsDir() {
			base[i] = base[i-1]
			continue
		}
		dp, err := cp.destDir(d)
		if err != nil {
			return err
		}
		base[i] = dp
	}
	for _, e := range sel.Entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		src := sel.Sources[e.Source]
		abs := filepath.Join(bc.Dir(), filepath.FromSlash(e.Rel))
		if src.Info.IsDir() {
			if e.Path == "." {
				continue
			}
			tp := filepath.Join(base[e.Source], filepath.FromSlash(e.Path))
			if err := cp.copyEntry(abs, tp, e.Info); err != nil {
				return err
			}
			if e.Info.IsDir() {
				dirs = append(dirs, dirTime{tp, e.Info})
			}
			continue
		}
		if unpack && u != nil && e.Info.Mode().IsRegular() {
			done, err := cp.unpack(ctx, abs, dest, u)
			if err != nil {
				return fmt.Errorf("extracting %s: %w", e.Rel, err)
			}
			if done {
				continue
			}
		}
		fdest := dest
		if parents {
			fdest = parentsDest(dest, src.Pattern, src.Rel, false)
		}
		if err := cp.copyFileTo(abs, e.Info, path.Base(e.Rel), fdest); err != nil {
			return err
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := setTimes(dirs[i].p, dirs[i].fi, false); err != nil {
			return err
		}
	}
	return nil
}

// unpack extracts an archive at abs into the directory dest; done is false
// when abs is not an archive.
func (cp *copier) unpack(ctx context.Context, abs, dest string, u Unpacker) (bool, error) {
	f, err := os.Open(abs)
	if err != nil {
		return false, err
	}
	defer f.Close()
	// dest becomes a directory only once f is known to be an archive: a
	// plain file ADDed to a new path ("ADD f ./name") stays a file.
	return u.Unpack(ctx, func() (string, error) { return cp.mkdirAll(dest) }, f)
}

// copyFileTo copies one non-directory source named name to dest with
// docker's rules.
func (cp *copier) copyFileTo(abs string, fi fs.FileInfo, name, dest string) error {
	destDir := strings.HasSuffix(dest, "/")
	if !destDir {
		if p, err := cp.target(dest); err == nil {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				destDir = true
			}
		}
	}
	target := dest
	if destDir {
		target = path.Join(dest, name)
	}
	if _, err := cp.mkdirAll(path.Dir(target)); err != nil {
		return err
	}
	tp, err := cp.target(target)
	if err != nil {
		return err
	}
	return cp.copyEntry(abs, tp, fi)
}

// cleanRel makes p a slash path relative to a root ("." for the root).
func cleanRel(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(p)), "/")
	if p == "" {
		return "."
	}
	return p
}

// destDir returns where the contents of a directory copied to dest go: in
// the upper dir directly when dest does not exist in the image (nothing to
// merge with: the fast path, overlay's write path costs several times a
// plain write), else through the merged root.
func (cp *copier) destDir(dest string) (string, error) {
	if cp.upper == "" {
		return cp.mkdirAll(dest)
	}
	p, err := cp.target(dest)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(cp.root, p)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return cp.mkdirAll(dest)
	}
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		return cp.mkdirAll(dest) // exists (or unknown): merge through overlay
	}
	// Find the nearest existing ancestor; every existing component must be a
	// real directory (securejoin resolved the symlinks).
	comps := strings.Split(filepath.ToSlash(rel), "/")
	n := 0 // number of leading components that exist
	for n < len(comps) {
		fi, err := os.Lstat(filepath.Join(cp.root, filepath.Join(comps[:n+1]...)))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil || !fi.IsDir() {
			return cp.mkdirAll(dest)
		}
		n++
	}
	// Existing ancestors get their merged metadata in the upper dir (what an
	// overlay copy-up of the directory does); new ones are created.
	for i := 1; i <= len(comps); i++ {
		up := filepath.Join(cp.upper, filepath.Join(comps[:i]...))
		if i <= n {
			if _, err := os.Lstat(up); err == nil {
				continue
			}
			fi, err := os.Lstat(filepath.Join(cp.root, filepath.Join(comps[:i]...)))
			if err != nil {
				return "", err
			}
			if err := os.Mkdir(up, 0o700); err != nil {
				return "", err
			}
			if err := cp.copyDirMeta(up, fi); err != nil {
				return "", err
			}
			continue
		}
		if err := os.Mkdir(up, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		if cp.own != nil {
			if err := os.Lchown(up, cp.own.uid, cp.own.gid); err != nil {
				return "", err
			}
		}
	}
	return filepath.Join(cp.upper, rel), nil
}

// copyDirMeta gives dir the owner, mode and times of fi.
func (cp *copier) copyDirMeta(dir string, fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := os.Lchown(dir, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	if err := os.Chmod(dir, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	return setTimes(dir, fi, false)
}

// urlValidators returns what identifies the current content of url without
// downloading it: its ETag, Last-Modified and Content-Length (a HEAD
// request), or, when the server gives none of them, the digest of the body.
func urlValidators(ctx context.Context, rawURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, rawURL, nil)
	if err != nil {
		return "", errdefs.InvalidArgumentf("invalid URL %s: %v", rawURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		et, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if resp.StatusCode == http.StatusOK && (et != "" || lm != "") {
			return fmt.Sprintf("etag=%s lm=%s len=%d", et, lm, resp.ContentLength), nil
		}
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", err
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("downloading %s: %s", rawURL, resp.Status)
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return "", fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	return "sha256=" + hex.EncodeToString(h.Sum(nil)), nil
}
