package copier

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hoistproject/hoist/internal/builder/buildcontext"
	"golang.org/x/sys/unix"
)

// Index maps the regular files a COPY wrote into an upper dir (slash paths
// relative to it) to the SHA-256 of their content. The builder keeps the
// index of a COPY's layer so that the next build of the same COPY can
// reuse its unchanged files (Reuse).
type Index map[string][32]byte

// Reuse is an earlier layer directory written by the same COPY, and its
// Index. A context file copied into Copier.Upper whose content digest
// (buildcontext.Selection.Sum) is the one Index gives for the same path,
// and whose copy would get the owner, mode and mtime the file there has
// (and no xattrs), is hardlinked from Dir instead of copied: the layer
// directory is an immutable overlay lower, and the step never writes
// through the link (an overwrite in the same step replaces it), so
// sharing the inode cannot change either layer. The layer tar written
// from the new directory is the same as a fresh copy's, byte for byte.
type Reuse struct {
	Dir   string
	Index Index
}

// upperRel is dst's slash path relative to the upper dir, when dst is in
// it.
func (cp *Copier) upperRel(dst string) (string, bool) {
	if cp.Upper == "" || !strings.HasPrefix(dst, cp.Upper+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(dst[len(cp.Upper)+1:]), true
}

// copySelected copies entry i of sel to dst: from Reuse when it can, and
// records regular files written into the upper dir in Index.
func (cp *Copier) copySelected(sel *buildcontext.Selection, i int, abs, dst string) error {
	fi := sel.Entries[i].Info
	sum, known := sel.Sum(i)
	rel, inUpper := cp.upperRel(dst)
	if !known || !inUpper || !fi.Mode().IsRegular() {
		return cp.CopyEntry(abs, dst, fi)
	}
	if cp.reuse(rel, dst, fi, sum) {
		cp.index(rel, sum)
		return nil
	}
	read, err := cp.copyEntry(abs, dst, fi)
	if err != nil {
		return err
	}
	// Indexed only when the file read is the one hashed.
	if read != nil && sel.SameFile(i, read) {
		cp.index(rel, sum)
	}
	return nil
}

func (cp *Copier) index(rel string, sum [32]byte) {
	if cp.Index == nil {
		cp.Index = Index{}
	}
	cp.Index[rel] = sum
}

// reuse hardlinks dst to the same path of Reuse.Dir when that file has
// the content (sum) and the metadata a copy of fi would get.
func (cp *Copier) reuse(rel, dst string, fi fs.FileInfo, sum [32]byte) bool {
	if cp.Reuse == nil {
		return false
	}
	if s, ok := cp.Reuse.Index[rel]; !ok || s != sum {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	mode := fi.Mode()
	if !ok || st.Nlink > 1 || mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		return false // hardlink groups and special bits take the plain path
	}
	perm := mode.Perm()
	if cp.Mode != nil {
		if *cp.Mode&^fs.ModePerm != 0 {
			return false
		}
		perm = *cp.Mode
	}
	uid, gid := cp.owner(fi)
	prev := filepath.Join(cp.Reuse.Dir, filepath.FromSlash(rel))
	var pst unix.Stat_t
	if err := unix.Lstat(prev, &pst); err != nil {
		return false
	}
	mt := fi.ModTime().UnixNano()
	if pst.Mode != unix.S_IFREG|uint32(perm) || pst.Size != fi.Size() ||
		int(pst.Uid) != uid || int(pst.Gid) != gid ||
		pst.Mtim.Sec*1e9+pst.Mtim.Nsec != mt {
		return false
	}
	if n, err := unix.Llistxattr(prev, nil); err != nil || n != 0 {
		return false
	}
	if err := os.Link(prev, dst); err != nil {
		return false // another file system, too many links, ...: copied
	}
	if cp.reused == nil {
		cp.reused = map[string]bool{}
	}
	cp.reused[dst] = true
	return true
}
