package archive

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// ChangeKind is the kind of a filesystem change, as `docker diff` prints it.
type ChangeKind byte

// The change kinds.
const (
	ChangeAdd    ChangeKind = 'A'
	ChangeModify ChangeKind = 'C'
	ChangeDelete ChangeKind = 'D'
)

// Change is one line of `docker diff`.
type Change struct {
	Kind ChangeKind
	Path string // rooted: "/etc/passwd"
}

// String formats the change as docker prints it ("C /etc").
func (c Change) String() string { return string(c.Kind) + " " + c.Path }

// OverlayChanges lists the changes an overlay upper directory makes to the
// layers below it, like `docker diff`. exists reports whether a rooted path
// exists in the lower layers. The rules are docker's: a whiteout is a
// deletion (D); a path that exists below is a change (C), otherwise an
// addition (A); an opaque directory that exists below is listed as deleted
// (D), with its new contents as additions; and every directory above a
// change is listed as changed (C). Changes come in lexical walk order,
// parents before children. The upper directory is walked through
// directory descriptors without following symlinks (a running container
// may be changing it meanwhile).
func OverlayChanges(upperDir string, exists func(path string) bool) ([]Change, error) {
	fd, err := unix.Open(upperDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: upperDir, Err: err}
	}
	c := &changeWalker{exists: exists, listed: make(map[string]bool)}
	if err := c.walk(fd, "/"); err != nil {
		return nil, fmt.Errorf("listing changes of %s: %w", upperDir, err)
	}
	return c.changes, nil
}

type changeWalker struct {
	exists  func(string) bool
	changes []Change
	listed  map[string]bool // directories already listed
}

func (c *changeWalker) walk(fd int, dir string) error {
	d := os.NewFile(uintptr(fd), dir)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("reading directory %q: %w", dir, err)
	}
	sort.Strings(names)
	dirOpaque := -1 // unknown
	for _, name := range names {
		p := path.Join(dir, name)
		if strings.HasPrefix(name, WhiteoutPrefix) {
			// fuse-overlayfs's markers (upperWhiteout).
			if dirOpaque < 0 {
				dirOpaque = 0
				if opaqueDirAt(fd, "") {
					dirOpaque = 1
				}
			}
			if deleted, _ := upperWhiteout(name, dirOpaque == 1); deleted != "" {
				c.add(Change{ChangeDelete, path.Join(dir, deleted)})
			}
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if err == unix.ENOENT {
				continue
			}
			return fmt.Errorf("stat %q: %w", p, err)
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		var kind ChangeKind
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0:
			kind = ChangeDelete
		case isDir && c.exists(p) && opaqueDirAt(fd, name):
			kind = ChangeDelete
		case c.exists(p):
			kind = ChangeModify
		default:
			kind = ChangeAdd
		}
		c.add(Change{kind, p})
		if isDir {
			c.listed[p] = true
			cfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err == unix.ENOENT || err == unix.ENOTDIR || err == unix.ELOOP {
				continue // removed or replaced by a non-directory since its stat
			}
			if err != nil {
				return fmt.Errorf("opening %q: %w", p, err)
			}
			if err := c.walk(cfd, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// add appends ch, after its parent directories not listed yet (they are
// in the upper dir and so already listed; this only matters for a
// hand-made upper dir).
func (c *changeWalker) add(ch Change) {
	for parent := path.Dir(ch.Path); parent != "/" && !c.listed[parent]; parent = path.Dir(parent) {
		c.changes = append(c.changes, Change{ChangeModify, parent})
		c.listed[parent] = true
	}
	c.changes = append(c.changes, ch)
}
