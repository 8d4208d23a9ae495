package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"golang.org/x/sys/unix"
)

// TarOptions tunes Tar.
type TarOptions struct {
	// SourceDateEpoch, when set, clamps every mtime to at most this time
	// (reproducible builds).
	SourceDateEpoch *time.Time
	// Exclude reports paths (rooted: "/etc/hosts") to leave out; an
	// excluded directory is left out with everything beneath it.
	Exclude func(path string) bool
	// ChownRoot writes every entry as owned by 0:0 (`cp` into a
	// container without -a).
	ChownRoot bool
}

// DiffOptions tunes DiffOverlay; the fields mean what they mean in
// TarOptions.
type DiffOptions struct {
	SourceDateEpoch *time.Time
	Exclude         func(path string) bool
}

// Tar writes the whole tree at dir (not dir itself) as an uncompressed tar
// stream to w, in lexical order, with docker's header conventions: PAX
// format, numeric uid/gid with empty user and group names, mtimes truncated
// to the second, hardlinks within the tree as hardlink entries, extended
// attributes (except overlayfs's own) as SCHILY.xattr records. Sockets are
// skipped.
//
// The tree is walked through directory descriptors, every entry opened
// relative to its directory without following symlinks, so a tree that
// changes meanwhile (a running container's rootfs) can make the walk fail
// but never lead it outside the tree; a device or FIFO swapped in for a
// regular file between its stat and its open is never read.
func Tar(ctx context.Context, w io.Writer, dir string, opts TarOptions) error {
	return writeTree(ctx, w, dir, false, opts.SourceDateEpoch, opts.Exclude, opts.ChownRoot)
}

// TarEntry writes the entry name of the open directory dir (a file,
// symlink, device or directory with everything beneath it; "." for dir
// itself) as a tar stream whose top entry is called as, with Tar's
// conventions and walk. A final symlink is written as a symlink. A missing
// entry is an error satisfying errors.Is(err, fs.ErrNotExist) and nothing
// is written. dir stays the caller's.
func TarEntry(ctx context.Context, w io.Writer, dir *os.File, name, as string, opts TarOptions) error {
	var st unix.Stat_t
	if err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "stat", Path: as, Err: err}
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	t := newTreeWriter(ctx, bw, false, opts.SourceDateEpoch, opts.Exclude)
	t.chownRoot = opts.ChownRoot
	if err := t.entryAs(int(dir.Fd()), name, path.Clean(as), false); err != nil {
		return err
	}
	if err := t.tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// DiffOverlay writes the layer tar of the overlay upper directory upperDir
// to w: overlay whiteouts (char device 0/0, or a file with an
// overlay.whiteout xattr) become ".wh.NAME" entries and opaque directories
// (trusted.overlay.opaque=y or user.overlay.opaque=y) get a ".wh..wh..opq"
// entry right after the directory's own. Otherwise as Tar. An upper
// directory written with redirect_dir or metacopy cannot be diffed this
// way and is an error.
func DiffOverlay(ctx context.Context, w io.Writer, upperDir string, opts DiffOptions) error {
	return writeTree(ctx, w, upperDir, true, opts.SourceDateEpoch, opts.Exclude, false)
}

type treeWriter struct {
	ctx     context.Context
	tw      *tar.Writer
	overlay bool
	epoch   *time.Time
	exclude func(string) bool
	links   map[[2]uint64]string
	buf     []byte
	diff    *dirDiff // DiffDirs: what to write
	// chownRoot: every header owned by 0:0 (TarOptions.ChownRoot)
	chownRoot bool
}

func newTreeWriter(ctx context.Context, w io.Writer, overlay bool, epoch *time.Time, exclude func(string) bool) *treeWriter {
	return &treeWriter{
		ctx:     ctx,
		tw:      tar.NewWriter(w),
		overlay: overlay,
		epoch:   epoch,
		exclude: exclude,
		links:   make(map[[2]uint64]string),
		buf:     make([]byte, copyBufSize),
	}
}

// clamp applies SourceDateEpoch to an mtime.
func (t *treeWriter) clamp(mtime time.Time) time.Time {
	if t.epoch != nil && mtime.After(*t.epoch) {
		return t.epoch.Truncate(time.Second)
	}
	return mtime
}

func writeTree(ctx context.Context, w io.Writer, dir string, overlay bool, epoch *time.Time, exclude func(string) bool, chownRoot bool) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, &os.PathError{Op: "open", Path: dir, Err: err})
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	t := newTreeWriter(ctx, bw, overlay, epoch, exclude)
	t.chownRoot = chownRoot
	if err := t.walkDir(fd, "", false); err != nil {
		return fmt.Errorf("archiving %s: %w", dir, err)
	}
	if err := t.tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// walkDir writes the children of the directory fd (at rel, "" for the
// root) and closes fd. filtered (DiffDirs): write only what t.diff names.
func (t *treeWriter) walkDir(fd int, rel string, filtered bool) error {
	d := os.NewFile(uintptr(fd), rel)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("reading directory %q: %w", "/"+rel, err)
	}
	sort.Strings(names)
	if filtered {
		if deleted := t.diff.deleted[rel]; len(deleted) > 0 {
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				return fmt.Errorf("stat %q: %w", "/"+rel, err)
			}
			if err := t.writeDeleted(rel, deleted, &st); err != nil {
				return err
			}
		}
	}
	dirOpaque := -1 // unknown
	for _, name := range names {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		if t.overlay && strings.HasPrefix(name, WhiteoutPrefix) {
			if dirOpaque < 0 {
				dirOpaque = 0
				if opaqueDirAt(fd, "") {
					dirOpaque = 1
				}
			}
			if err := t.upperMarker(fd, rel, name, dirOpaque == 1); err != nil {
				return err
			}
			continue
		}
		sub := false
		if filtered {
			crel := path.Join(rel, name)
			switch {
			case t.diff.full[crel]:
			case t.diff.header[crel]:
				sub = true
			default:
				continue
			}
		}
		if err := t.entry(fd, rel, name, sub); err != nil {
			return err
		}
	}
	return nil
}

// Mode type bits docker keeps in the header's mode field (as Go before 1.9
// did), so layer headers look like docker's.
const (
	cISDIR  = 0o40000
	cISFIFO = 0o10000
	cISREG  = 0o100000
	cISLNK  = 0o120000
	cISBLK  = 0o60000
	cISCHR  = 0o20000
)

// entry writes name from the directory dirfd (at dirRel) and, for a
// directory, what is beneath it (only what t.diff names when filtered).
func (t *treeWriter) entry(dirfd int, dirRel, name string, filtered bool) error {
	return t.entryAs(dirfd, name, path.Join(dirRel, name), filtered)
}

// errReplaced: an entry was replaced between its stat and its open.
var errReplaced = errors.New("replaced while being archived")

// maxEntryTries bounds how often an entry replaced between its stat and its
// open is looked at again before the walk gives up.
const maxEntryTries = 16

// entryAs writes name from the directory dirfd as rel (and, for a
// directory, what is beneath it, under rel). An entry that another
// process replaces between its stat and its open is looked at again.
func (t *treeWriter) entryAs(dirfd int, name, rel string, filtered bool) error {
	if t.exclude != nil && t.exclude("/"+rel) {
		return nil
	}
	for try := 1; ; try++ {
		err := t.entryOnce(dirfd, name, rel, filtered)
		if err != errReplaced {
			return err
		}
		if try == maxEntryTries {
			return fmt.Errorf("%q: %w %d times in a row", "/"+rel, err, try)
		}
	}
}

// sameFile reports whether the open fd is the file st describes.
func sameFile(fd int, st *unix.Stat_t) (bool, error) {
	var ost unix.Stat_t
	if err := unix.Fstat(fd, &ost); err != nil {
		return false, err
	}
	return ost.Dev == st.Dev && ost.Ino == st.Ino && ost.Mode&unix.S_IFMT == st.Mode&unix.S_IFMT, nil
}

// openEntry opens name in dirfd without following a symlink (never
// blocking on a FIFO or taking a terminal) and checks that it is still the
// file st describes: errReplaced if not, or if it is gone or no longer
// openable as what it was.
func openEntry(dirfd int, name string, flags int, st *unix.Stat_t) (int, error) {
	fd, err := unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOENT || err == unix.ELOOP || err == unix.ENOTDIR || err == unix.ENXIO {
			return -1, errReplaced
		}
		return -1, err
	}
	same, err := sameFile(fd, st)
	if err != nil || !same {
		unix.Close(fd)
		if err == nil {
			err = errReplaced
		}
		return -1, err
	}
	return fd, nil
}

// entryOnce is one try of entryAs; errReplaced comes before anything is
// written.
func (t *treeWriter) entryOnce(dirfd int, name, rel string, filtered bool) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return nil // vanished while we walked
		}
		return fmt.Errorf("stat %q: %w", "/"+rel, err)
	}
	dirRel := path.Dir(rel)
	mtime := t.clamp(time.Unix(st.Mtim.Sec, 0))
	hdr := &tar.Header{
		Name:    rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: mtime,
		Format:  tar.FormatPAX,
	}
	linkPath := procFdPath(dirfd) + "/" + name
	var fd = -1 // an open fd for regular files and directories
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()

	switch st.Mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		return nil
	case unix.S_IFDIR:
		var err error
		if fd, err = openEntry(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY, &st); err != nil {
			if err == errReplaced {
				return err
			}
			return fmt.Errorf("opening %q: %w", "/"+rel, err)
		}
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		hdr.Mode |= cISDIR
	case unix.S_IFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Mode |= cISREG
		hdr.Size = st.Size
		if st.Size > 0 || t.overlay {
			var err error
			if fd, err = openEntry(dirfd, name, unix.O_RDONLY, &st); err != nil {
				if err == errReplaced {
					return err
				}
				return fmt.Errorf("opening %q: %w", "/"+rel, err)
			}
		}
	case unix.S_IFLNK:
		target, err := fsutil.Readlinkat(dirfd, name)
		if err == unix.EINVAL || err == unix.ENOENT {
			return errReplaced // no longer a symlink
		}
		if err != nil {
			return fmt.Errorf("readlink %q: %w", "/"+rel, err)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
		hdr.Mode |= cISLNK
	case unix.S_IFCHR:
		if t.overlay && st.Rdev == 0 {
			return t.whiteout(hdr, dirRel, name)
		}
		hdr.Typeflag = tar.TypeChar
		hdr.Mode |= cISCHR
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFBLK:
		hdr.Typeflag = tar.TypeBlock
		hdr.Mode |= cISBLK
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
		hdr.Mode |= cISFIFO
	default:
		return nil
	}

	var xattrs map[string][]byte
	var err error
	if fd >= 0 {
		xattrs, err = listXattrs(fd, "")
	} else {
		xattrs, err = listXattrs(-1, linkPath)
		if errors.Is(err, unix.ENOENT) {
			return errReplaced
		}
	}
	if err != nil {
		return fmt.Errorf("reading xattrs of %q: %w", "/"+rel, err)
	}
	opaque := false
	for k, v := range xattrs {
		if !isOverlayXattr(k) {
			if k == "security.selinux" {
				continue // the host's label, not the image's
			}
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = make(map[string]string)
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = string(v)
			continue
		}
		if !t.overlay {
			continue
		}
		switch overlayXattrSuffix(k) {
		case "opaque":
			opaque = opaque || (hdr.Typeflag == tar.TypeDir && string(v) == "y")
		case "whiteout":
			if hdr.Typeflag == tar.TypeReg {
				return t.whiteout(hdr, dirRel, name)
			}
		case "redirect", "metacopy":
			return errdefs.FailedPreconditionf("%q carries %s: the overlay must be mounted with redirect_dir=off,metacopy=off to be diffed", "/"+rel, k)
		}
	}

	if hdr.Typeflag != tar.TypeDir && st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := t.links[key]; ok {
			// As docker: the file's header, retyped, without content.
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first
			hdr.Size = 0
			return t.writeHeader(hdr)
		}
		t.links[key] = rel
	}

	if err := t.writeHeader(hdr); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		if hdr.Size > 0 {
			n, err := io.CopyBuffer(t.tw, io.LimitReader(fdReader(fd), hdr.Size), t.buf)
			if err != nil {
				return fmt.Errorf("reading %q: %w", "/"+rel, err)
			}
			if n != hdr.Size {
				return fmt.Errorf("reading %q: file shrank from %d to %d bytes while archiving", "/"+rel, hdr.Size, n)
			}
		}
	case tar.TypeDir:
		if t.overlay && !opaque {
			var ost unix.Stat_t
			opaque = unix.Fstatat(fd, WhiteoutOpaqueDir, &ost, unix.AT_SYMLINK_NOFOLLOW) == nil
		}
		if opaque {
			if err := t.writeHeader(&tar.Header{
				Typeflag: tar.TypeReg,
				Name:     path.Join(rel, WhiteoutOpaqueDir),
				Mode:     hdr.Mode & 0o777,
				Uid:      hdr.Uid,
				Gid:      hdr.Gid,
				ModTime:  hdr.ModTime,
				Format:   tar.FormatPAX,
			}); err != nil {
				return err
			}
		}
		dfd := fd
		fd = -1
		return t.walkDir(dfd, rel, filtered)
	}
	return nil
}

// upperMarker writes the whiteout an AUFS-style marker of fuse-overlayfs
// in an upper directory stands for (nothing for the opaque marker, which
// its directory's entry wrote, or in an opaque directory).
func (t *treeWriter) upperMarker(dirfd int, dirRel, name string, dirOpaque bool) error {
	deleted, _ := upperWhiteout(name, dirOpaque)
	if deleted == "" || (t.exclude != nil && t.exclude("/"+path.Join(dirRel, deleted))) {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return fmt.Errorf("stat %q: %w", "/"+path.Join(dirRel, name), err)
	}
	return t.whiteout(&tar.Header{Uid: int(st.Uid), Gid: int(st.Gid), ModTime: t.clamp(time.Unix(st.Mtim.Sec, 0))}, dirRel, deleted)
}

// whiteout writes the ".wh.NAME" entry for the overlay whiteout hdr.
func (t *treeWriter) whiteout(hdr *tar.Header, dirRel, name string) error {
	return t.writeHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     path.Join(dirRel, WhiteoutPrefix+name),
		Mode:     0o600 | cISREG,
		Uid:      hdr.Uid,
		Gid:      hdr.Gid,
		ModTime:  hdr.ModTime,
		Format:   tar.FormatPAX,
	})
}

func (t *treeWriter) writeHeader(hdr *tar.Header) error {
	if t.chownRoot {
		hdr.Uid, hdr.Gid = 0, 0
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing header of %q: %w", "/"+hdr.Name, err)
	}
	return nil
}

// fdReader reads from a raw descriptor it does not own (no finalizer).
type fdReader int

func (r fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(r), p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}
