package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/fsutil"
)

// DiffDirs writes to w the layer tar that turns the tree lowerDir into the
// tree upperDir, for when no overlay upper directory exists (a plain copy
// of the rootfs was changed instead). A path is changed when its type,
// mode, owner, size, mtime, device number, symlink target or extended
// attributes differ (docker's rule: content is not compared); a changed or
// new path is written whole, a directory that changed or has changes
// beneath it is written with its header, and a deleted path becomes a
// ".wh.NAME" entry. Headers follow Tar's conventions; opts as for
// DiffOverlay.
func DiffDirs(ctx context.Context, w io.Writer, lowerDir, upperDir string, opts DiffOptions) error {
	d, err := compareDirs(ctx, lowerDir, upperDir, opts.Exclude)
	if err != nil {
		return err
	}
	fd, err := unix.Open(upperDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: upperDir, Err: err}
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	t := newTreeWriter(ctx, bw, false, opts.SourceDateEpoch, opts.Exclude)
	t.diff = d
	if err := t.walkDir(fd, "", true); err != nil {
		return fmt.Errorf("archiving changes of %s: %w", upperDir, err)
	}
	if err := t.tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// DirChanges lists the changes from lowerDir to upperDir like `docker
// diff`, by the same rules as DiffDirs and with OverlayChanges's output
// (a deleted directory is listed once, an added one with everything in
// it, every directory above a change is listed as changed, in walk order).
func DirChanges(ctx context.Context, lowerDir, upperDir string) ([]Change, error) {
	d, err := compareDirs(ctx, lowerDir, upperDir, nil)
	if err != nil {
		return nil, err
	}
	return d.changes, nil
}

// dirDiff is the result of comparing two trees, keyed by relative path.
type dirDiff struct {
	full    map[string]bool     // new or changed: write with everything beneath
	header  map[string]bool     // directory in both: write its header, then recurse selectively
	deleted map[string][]string // directory -> names deleted from it (sorted)
	changes []Change
	listed  map[string]bool
}

func compareDirs(ctx context.Context, lowerDir, upperDir string, exclude func(string) bool) (*dirDiff, error) {
	lfd, err := unix.Open(lowerDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: lowerDir, Err: err}
	}
	ufd, err := unix.Open(upperDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(lfd)
		return nil, &os.PathError{Op: "open", Path: upperDir, Err: err}
	}
	d := &dirDiff{
		full:    make(map[string]bool),
		header:  make(map[string]bool),
		deleted: make(map[string][]string),
		listed:  make(map[string]bool),
	}
	c := &comparer{ctx: ctx, d: d, exclude: exclude}
	if _, err := c.compare(lfd, ufd, ""); err != nil {
		return nil, fmt.Errorf("comparing %s with %s: %w", upperDir, lowerDir, err)
	}
	sort.SliceStable(d.changes, func(i, j int) bool { return walkLess(d.changes[i].Path, d.changes[j].Path) })
	return d, nil
}

// walkLess orders paths as a depth-first walk with sorted names does.
func walkLess(a, b string) bool {
	return slices.Compare(strings.Split(a, "/"), strings.Split(b, "/")) < 0
}

type comparer struct {
	ctx     context.Context
	d       *dirDiff
	exclude func(string) bool
}

func readNames(fd int, rel string) ([]string, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("reading directory %q: %w", "/"+rel, err)
	}
	sort.Strings(names)
	return names, nil
}

// change records a change, and its ancestors as changed directories (what
// an overlay upper directory would hold).
func (c *comparer) change(kind ChangeKind, rel string) {
	p := "/" + rel
	for parent := path.Dir(p); parent != "/" && !c.d.listed[parent]; parent = path.Dir(parent) {
		c.d.changes = append(c.d.changes, Change{ChangeModify, parent})
		c.d.listed[parent] = true
	}
	if kind == ChangeModify && c.d.listed[p] {
		return
	}
	c.d.listed[p] = true
	c.d.changes = append(c.d.changes, Change{kind, p})
}

// added lists rel (when self) and, for a directory, everything beneath it
// as added.
func (c *comparer) added(dirfd int, rel, name string, isDir, self bool) error {
	if self {
		c.change(ChangeAdd, rel)
	}
	if !isDir {
		return nil
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %q: %w", "/"+rel, err)
	}
	defer unix.Close(fd)
	names, err := readNames(fd, rel)
	if err != nil {
		return err
	}
	for _, n := range names {
		crel := path.Join(rel, n)
		if c.exclude != nil && c.exclude("/"+crel) {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("stat %q: %w", "/"+crel, err)
		}
		if err := c.added(fd, crel, n, st.Mode&unix.S_IFMT == unix.S_IFDIR, true); err != nil {
			return err
		}
	}
	return nil
}

// compare compares the directories lfd and ufd (both at rel), closes them,
// and reports whether anything beneath differs.
func (c *comparer) compare(lfd, ufd int, rel string) (bool, error) {
	defer unix.Close(lfd)
	defer unix.Close(ufd)
	if err := c.ctx.Err(); err != nil {
		return false, err
	}
	unames, err := readNames(ufd, rel)
	if err != nil {
		return false, err
	}
	lnames, err := readNames(lfd, rel)
	if err != nil {
		return false, err
	}
	all := make(map[string]bool, len(unames)+len(lnames))
	for _, n := range lnames {
		all[n] = false
	}
	for _, n := range unames {
		all[n] = true
	}
	changed := false
	for _, name := range slices.Sorted(maps.Keys(all)) {
		crel := path.Join(rel, name)
		if c.exclude != nil && c.exclude("/"+crel) {
			continue
		}
		var lst, ust unix.Stat_t
		lerr := unix.Fstatat(lfd, name, &lst, unix.AT_SYMLINK_NOFOLLOW)
		uerr := unix.Fstatat(ufd, name, &ust, unix.AT_SYMLINK_NOFOLLOW)
		if uerr != nil && uerr != unix.ENOENT {
			return false, fmt.Errorf("stat %q: %w", "/"+crel, uerr)
		}
		if lerr != nil && lerr != unix.ENOENT {
			return false, fmt.Errorf("stat lower %q: %w", "/"+crel, lerr)
		}
		inU, inL := uerr == nil, lerr == nil
		switch {
		case !inU && !inL:
			continue
		case !inU:
			c.d.deleted[rel] = append(c.d.deleted[rel], name)
			c.change(ChangeDelete, crel)
			changed = true
			continue
		case !inL:
			c.d.full[crel] = true
			if err := c.added(ufd, crel, name, ust.Mode&unix.S_IFMT == unix.S_IFDIR, true); err != nil {
				return false, err
			}
			changed = true
			continue
		}
		differs, err := statDiffers(lfd, ufd, name, &lst, &ust)
		if err != nil {
			return false, fmt.Errorf("comparing %q: %w", "/"+crel, err)
		}
		ldir := lst.Mode&unix.S_IFMT == unix.S_IFDIR
		udir := ust.Mode&unix.S_IFMT == unix.S_IFDIR
		if !ldir || !udir {
			if differs {
				c.d.full[crel] = true
				c.change(ChangeModify, crel)
				if udir && !ldir {
					// a new directory where a file was: its contents are additions
					if err := c.added(ufd, crel, name, true, false); err != nil {
						return false, err
					}
				}
				changed = true
			}
			continue
		}
		if differs {
			c.change(ChangeModify, crel)
		}
		lcfd, err := unix.Openat(lfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return false, fmt.Errorf("opening lower %q: %w", "/"+crel, err)
		}
		ucfd, err := unix.Openat(ufd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(lcfd)
			return false, fmt.Errorf("opening %q: %w", "/"+crel, err)
		}
		sub, err := c.compare(lcfd, ucfd, crel)
		if err != nil {
			return false, err
		}
		if differs || sub {
			c.d.header[crel] = true
			changed = true
		}
	}
	return changed, nil
}

// statDiffers applies docker's change rule to name in the two directories.
func statDiffers(lfd, ufd int, name string, l, u *unix.Stat_t) (bool, error) {
	if l.Mode != u.Mode || l.Uid != u.Uid || l.Gid != u.Gid || l.Rdev != u.Rdev || l.Mtim != u.Mtim {
		return true, nil
	}
	switch u.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
	case unix.S_IFLNK:
		lt, err := fsutil.Readlinkat(lfd, name)
		if err != nil {
			return false, err
		}
		ut, err := fsutil.Readlinkat(ufd, name)
		if err != nil {
			return false, err
		}
		if lt != ut {
			return true, nil
		}
	default:
		if l.Size != u.Size {
			return true, nil
		}
	}
	lx, err := listXattrs(-1, procFdPath(lfd)+"/"+name)
	if err != nil {
		return false, err
	}
	ux, err := listXattrs(-1, procFdPath(ufd)+"/"+name)
	if err != nil {
		return false, err
	}
	return !maps.EqualFunc(lx, ux, func(a, b []byte) bool { return string(a) == string(b) }), nil
}

// writeDeleted writes the whiteouts for names deleted from the directory
// rel, whose stat is st.
func (t *treeWriter) writeDeleted(rel string, names []string, st *unix.Stat_t) error {
	mtime := t.clamp(time.Unix(st.Mtim.Sec, 0))
	for _, n := range names {
		if err := t.writeHeader(&tar.Header{
			Typeflag: tar.TypeReg,
			Name:     path.Join(rel, WhiteoutPrefix+n),
			Mode:     0o600 | cISREG,
			ModTime:  mtime,
			Format:   tar.FormatPAX,
		}); err != nil {
			return err
		}
	}
	return nil
}
