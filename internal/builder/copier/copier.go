package copier

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
	"github.com/hoistproject/hoist/internal/builder/buildcontext"
	"github.com/hoistproject/hoist/internal/dockerfile"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
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

// Tree is where COPY reads: the build context or a stage/image rootfs.
type Tree struct {
	Dir      string
	Excluded func(rel string) bool // hidden entries (nil: none)
}

func (t *Tree) hidden(rel string) bool { return t.Excluded != nil && t.Excluded(rel) }

// ResolveSources expands one source (wildcards allowed) to the matching
// slash-separated paths relative to the tree.
func ResolveSources(t *Tree, src string) ([]string, error) {
	clean := path.Clean(filepath.ToSlash(src))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return nil, errdefs.InvalidArgumentf("forbidden path outside the build context: %s", src)
	}
	rel := CleanRel(clean)
	if !strings.ContainsAny(rel, "*?[") {
		p, err := securejoin.SecureJoin(t.Dir, rel)
		if err != nil {
			return nil, err
		}
		if _, err := os.Lstat(p); err != nil || t.hidden(rel) {
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

func glob(t *Tree, dir string, comps []string, out *[]string) error {
	abs := filepath.Join(t.Dir, filepath.FromSlash(dir))
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
		if t.hidden(rel) {
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

// Owner is a numeric uid and gid.
type Owner struct{ UID, GID int }

// ResolveChown resolves --chown=user[:group] with the image's /etc/passwd
// and /etc/group. nil means "keep the source's owner".
func ResolveChown(root, spec string) (*Owner, error) {
	if spec == "" {
		return nil, nil
	}
	u, g, hasGroup := strings.Cut(spec, ":")
	uid, ugid, err := LookupID(root, "/etc/passwd", u)
	if err != nil {
		return nil, err
	}
	gid := ugid
	if hasGroup {
		if gid, _, err = LookupID(root, "/etc/group", g); err != nil {
			return nil, err
		}
	} else if _, e := strconv.Atoi(u); e == nil {
		gid = uid // numeric user alone: group = same number, as docker
	}
	return &Owner{uid, gid}, nil
}

// LookupID finds name in a passwd/group file of the rootfs. Numbers are
// taken as they are. For passwd it also returns the primary gid.
func LookupID(root, file, name string) (int, int, error) {
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

// Copier writes COPY/ADD results into a rootfs.
type Copier struct {
	Root  string       // the rootfs written to
	Upper string       // its overlay upper dir for direct writes ("" for none)
	Own   *Owner       // owner of what is written (nil: keep the source's)
	Mode  *fs.FileMode // --chmod (nil: keep the source's)
	Tree  *Tree        // where CopyMatch reads
	// links maps a hardlinked source file (device, inode) to its first
	// copy, so that a step copies hardlinks as hardlinks (as docker and
	// BuildKit do).
	links map[[2]uint64]string
	// Reuse and Index: COPY's incremental path (reuse.go).
	Reuse *Reuse
	Index Index
	// reused holds the paths hardlinked from Reuse.Dir in this step: they
	// are never written through (an overwrite replaces the link).
	reused map[string]bool
}

// ParentsDest returns where a source goes under COPY --parents: dest joined
// with the source's path relative to the context root, or to the pivot
// ("/./") of its pattern. A file's path is its directory (dest/dir/ then
// receives it by name); a directory's is itself.
func ParentsDest(dest, pattern, rel string, isDir bool) string {
	p := strings.TrimPrefix(filepath.ToSlash(pattern), "/")
	for strings.HasPrefix(p, "./") {
		p = strings.TrimPrefix(p, "./")
	}
	kept := CleanRel(rel)
	if i := strings.LastIndex(p, "/./"); i >= 0 {
		drop := len(strings.Split(CleanRel(p[:i]), "/"))
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
func (cp *Copier) target(p string) (string, error) {
	return securejoin.SecureJoin(cp.Root, p)
}

// place creates the parents of target (a container path) and returns its
// host path.
func (cp *Copier) place(target string) (string, error) {
	if _, err := cp.MkdirAll(path.Dir(target)); err != nil {
		return "", err
	}
	return cp.target(target)
}

// MkdirAll creates dir (a container path) and missing parents, owned as the
// copy is, inside the root: a symlink to a missing directory on the way
// creates that directory inside the root, as docker does
// (fsutil.MkdirAllInRoot).
func (cp *Copier) MkdirAll(dir string) (string, error) {
	uid, gid := -1, -1
	if cp.Own != nil {
		uid, gid = cp.Own.UID, cp.Own.GID
	}
	p, err := fsutil.MkdirAllInRoot(cp.Root, path.Clean("/"+dir), 0o755, uid, gid)
	if errors.Is(err, unix.ENOTDIR) {
		return "", errdefs.InvalidArgumentf("cannot copy to %s: not a directory", dir)
	}
	return p, err
}

func (cp *Copier) WriteInline(dest string, in dockerfile.Inline) error {
	target := dest
	if strings.HasSuffix(dest, "/") {
		target = path.Join(dest, in.Name)
	}
	p, err := cp.place(target)
	if err != nil {
		return err
	}
	mode := fs.FileMode(0o644)
	if cp.Mode != nil {
		mode = *cp.Mode
	}
	if err := os.WriteFile(p, []byte(in.Content), mode); err != nil {
		return err
	}
	if err := os.Chmod(p, mode); err != nil {
		return err
	}
	if cp.Own != nil {
		return os.Lchown(p, cp.Own.UID, cp.Own.GID)
	}
	return nil
}

// CopyMatch copies one matched source to dest with docker's rules: a
// directory's contents go into dest; a file goes to dest, or into dest when
// dest ends in "/" or is an existing directory.
func (cp *Copier) CopyMatch(ctx context.Context, rel, dest string, unpack bool, u Unpacker) error {
	src, err := securejoin.SecureJoin(cp.Tree.Dir, rel)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("%q: not found", "/"+rel)
	}
	if fi.IsDir() {
		dp, err := cp.MkdirAll(dest)
		if err != nil {
			return err
		}
		return cp.CopyTree(ctx, src, dp, rel)
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

// CopyTree copies the contents of directory src into dst.
func (cp *Copier) CopyTree(ctx context.Context, src, dst, rel string) error {
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
		if cp.Tree.hidden(crel) {
			continue
		}
		sp := filepath.Join(src, e.Name())
		dp := filepath.Join(dst, e.Name())
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if fi.IsDir() {
			if err := cp.CopyEntry(sp, dp, fi); err != nil {
				return err
			}
			if err := cp.CopyTree(ctx, sp, dp, crel); err != nil {
				return err
			}
			if err := setTimes(dp, fi, false); err != nil {
				return err
			}
			continue
		}
		if err := cp.CopyEntry(sp, dp, fi); err != nil {
			return err
		}
	}
	return nil
}

// CopyEntry copies one file, symlink or (empty) directory.
func (cp *Copier) CopyEntry(src, dst string, fi fs.FileInfo) error {
	_, err := cp.copyEntry(src, dst, fi)
	return err
}

// copyEntry is CopyEntry; for a regular file copied it returns the stat
// of the source taken after its content was read (nil otherwise).
func (cp *Copier) copyEntry(src, dst string, fi fs.FileInfo) (*syscall.Stat_t, error) {
	if cp.reused[dst] {
		// A link into an earlier layer: replaced, never written through.
		if err := os.Remove(dst); err != nil {
			return nil, err
		}
		delete(cp.reused, dst)
	}
	var read *syscall.Stat_t
	mode := fi.Mode()
	perm := mode.Perm() | mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
	if cp.Mode != nil && mode&fs.ModeSymlink == 0 {
		perm = *cp.Mode
	}
	switch {
	case mode.IsDir():
		if fi, err := os.Lstat(dst); err == nil && !fi.IsDir() {
			// Never write through a symlink (or over a file) of the image.
			if err := os.RemoveAll(dst); err != nil {
				return nil, err
			}
		}
		if err := os.Mkdir(dst, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	case mode.IsRegular():
		if done, err := cp.linkCopy(fi, dst); err != nil || done {
			return nil, err
		}
		st, err := copyFile(src, dst)
		if err != nil {
			return nil, err
		}
		read = st
	case mode&fs.ModeSymlink != 0:
		t, err := os.Readlink(src)
		if err != nil {
			return nil, err
		}
		_ = os.RemoveAll(dst)
		if err := os.Symlink(t, dst); err != nil {
			return nil, err
		}
	case mode&(fs.ModeNamedPipe) != 0:
		_ = os.RemoveAll(dst)
		if err := unix.Mkfifo(dst, uint32(perm)); err != nil {
			return nil, err
		}
	default:
		return nil, nil // sockets and devices are not copied
	}
	uid, gid := cp.owner(fi)
	if err := os.Lchown(dst, uid, gid); err != nil {
		return nil, err
	}
	if mode&fs.ModeSymlink == 0 {
		if err := os.Chmod(dst, toOSMode(perm)); err != nil {
			return nil, err
		}
	}
	return read, setTimes(dst, fi, mode&fs.ModeSymlink != 0)
}

// owner is the owner a copy of fi gets: --chown's, else the source's.
func (cp *Copier) owner(fi fs.FileInfo) (uid, gid int) {
	uid, gid = -1, -1
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		uid, gid = int(st.Uid), int(st.Gid)
	}
	if cp.Own != nil {
		uid, gid = cp.Own.UID, cp.Own.GID
	}
	return uid, gid
}

func toOSMode(m fs.FileMode) fs.FileMode { return m } // fs.FileMode bits are os bits

// linkCopy makes dst a hardlink to the earlier copy of the same source
// inode in this step; done is false (and the inode recorded) when there is
// none or the link cannot be made (another file system: a plain copy then).
func (cp *Copier) linkCopy(fi fs.FileInfo, dst string) (bool, error) {
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

// copyFile copies src's content to dst and returns the stat of src taken
// once its content was read.
func copyFile(src, dst string) (*syscall.Stat_t, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	if fi, err := os.Lstat(dst); err == nil && !fi.Mode().IsRegular() {
		if err := os.RemoveAll(dst); err != nil {
			return nil, err
		}
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return nil, err
	}
	st := new(syscall.Stat_t)
	if err := syscall.Fstat(int(in.Fd()), st); err != nil {
		st = nil
	}
	return st, out.Close()
}

// download fetches an ADD URL into dest (not extracted, mode 0600 as
// docker), verifying --checksum when given.
func (cp *Copier) Download(ctx context.Context, rawURL, dest, checksum string) error {
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
	tp, err := cp.place(target)
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
	if cp.Mode != nil {
		mode = *cp.Mode
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	uid, gid := 0, 0
	if cp.Own != nil {
		uid, gid = cp.Own.UID, cp.Own.GID
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

// CopySelection copies what a COPY/ADD selected in the build context into
// the rootfs: a directory source's contents go into dest, a file goes to
// dest (or into it when dest ends in "/" or is a directory).
//
// With parents (COPY --parents), each source keeps its path relative to the
// context root under dest.
func (cp *Copier) CopySelection(ctx context.Context, bc *buildcontext.Context, sel *buildcontext.Selection, dest string, parents, unpack bool, u Unpacker) error {
	type dirTime struct {
		p  string
		fi fs.FileInfo
	}
	var dirs []dirTime
	for _, src := range sel.Sources {
		if !src.Info.IsDir() {
			// Files go through the merged root; so must everything else of
			// this step, so that no write bypasses what the mount has seen.
			cp.Upper = ""
		}
	}
	base := make([]string, len(sel.Sources))
	for i, src := range sel.Sources {
		if !src.Info.IsDir() {
			continue
		}
		d := dest
		if parents {
			d = ParentsDest(dest, src.Pattern, src.Rel, true)
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
	for i, e := range sel.Entries {
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
			if err := cp.copySelected(sel, i, abs, tp); err != nil {
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
			fdest = ParentsDest(dest, src.Pattern, src.Rel, false)
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
func (cp *Copier) unpack(ctx context.Context, abs, dest string, u Unpacker) (bool, error) {
	f, err := os.Open(abs)
	if err != nil {
		return false, err
	}
	defer f.Close()
	// dest becomes a directory only once f is known to be an archive: a
	// plain file ADDed to a new path ("ADD f ./name") stays a file.
	return u.Unpack(ctx, func() (string, error) { return cp.MkdirAll(dest) }, f)
}

// copyFileTo copies one non-directory source named name to dest with
// docker's rules.
func (cp *Copier) copyFileTo(abs string, fi fs.FileInfo, name, dest string) error {
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
	tp, err := cp.place(target)
	if err != nil {
		return err
	}
	return cp.CopyEntry(abs, tp, fi)
}

// CleanRel makes p a slash path relative to a root ("." for the root).
func CleanRel(p string) string {
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
func (cp *Copier) destDir(dest string) (string, error) {
	if cp.Upper == "" {
		return cp.MkdirAll(dest)
	}
	p, err := cp.target(dest)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(cp.Root, p)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return cp.MkdirAll(dest)
	}
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		return cp.MkdirAll(dest) // exists (or unknown): merge through overlay
	}
	// Find the nearest existing ancestor; every existing component must be a
	// real directory (securejoin resolved the symlinks).
	comps := strings.Split(filepath.ToSlash(rel), "/")
	n := 0 // number of leading components that exist
	for n < len(comps) {
		fi, err := os.Lstat(filepath.Join(cp.Root, filepath.Join(comps[:n+1]...)))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil || !fi.IsDir() {
			return cp.MkdirAll(dest)
		}
		n++
	}
	// Existing ancestors get their merged metadata in the upper dir (what an
	// overlay copy-up of the directory does); new ones are created.
	for i := 1; i <= len(comps); i++ {
		up := filepath.Join(cp.Upper, filepath.Join(comps[:i]...))
		if i <= n {
			if _, err := os.Lstat(up); err == nil {
				continue
			}
			fi, err := os.Lstat(filepath.Join(cp.Root, filepath.Join(comps[:i]...)))
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
		if cp.Own != nil {
			if err := os.Lchown(up, cp.Own.UID, cp.Own.GID); err != nil {
				return "", err
			}
		}
	}
	return filepath.Join(cp.Upper, rel), nil
}

// copyDirMeta gives dir the owner, mode and times of fi.
func (cp *Copier) copyDirMeta(dir string, fi fs.FileInfo) error {
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

// URLValidators returns what identifies the current content of url without
// downloading it: its ETag, Last-Modified and Content-Length (a HEAD
// request), or, when the server gives none of them, the digest of the body.
func URLValidators(ctx context.Context, rawURL string) (string, error) {
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
