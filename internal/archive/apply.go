package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"
	"unsafe"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/fsutil"
	"golang.org/x/sys/unix"
)

// DefaultMaxBytes is the decompression-bomb limit Apply uses when
// ApplyOptions.MaxBytes is 0.
const DefaultMaxBytes int64 = 64 << 30

// ApplyOptions tunes Apply.
type ApplyOptions struct {
	// Overlay: whiteouts become overlay whiteouts (char device 0/0 and
	// trusted.overlay.opaque=y) in a standalone layer directory. Otherwise
	// whiteouts delete paths in dir (plain apply onto a rootfs).
	Overlay bool
	// MaxBytes limits the sum of the regular file sizes in the layer
	// (0: DefaultMaxBytes).
	MaxBytes int64
	// NoSameOwner keeps the files owned by the caller instead of the
	// uid/gid recorded in the tar (non-root).
	NoSameOwner bool
	// NoWhiteouts extracts ".wh." entries as the ordinary files they look
	// like instead of interpreting them (ADD of a local archive, which
	// docker extracts as tar -x would).
	NoWhiteouts bool
	// Logger receives warnings about what the filesystem refused and was
	// skipped (extended attributes, device nodes). nil: discarded.
	Logger *slog.Logger
}

// copyBufSize is the buffer used to copy file contents.
const copyBufSize = 1 << 20

// maxCachedDirs bounds the directory handles Apply keeps open.
const maxCachedDirs = 128

// Apply extracts an uncompressed layer tar from r onto dir and returns the
// layer's size as docker counts it: the bytes of regular file content plus
// the length of every symlink target.
//
// Nothing is ever written outside dir: names are cleaned (an absolute name
// is taken relative to dir, one that climbs out with ".." is an error), and
// every path is resolved inside dir as if dir were "/" (openat2
// RESOLVE_IN_ROOT), so symlinks and hardlinks in the layer, or created by
// earlier entries, cannot lead outside. An existing path is replaced unless
// both it and the entry are directories. Mode, ownership, extended
// attributes (PAX SCHILY.xattr), and times are restored; directory times
// are set after all their children. Files are not fsynced: call SyncFS once
// when done.
func Apply(ctx context.Context, dir string, r io.Reader, opts ApplyOptions) (int64, error) {
	rootfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("opening layer directory: %w", &os.PathError{Op: "open", Path: dir, Err: err})
	}
	root := os.NewFile(uintptr(rootfd), dir)
	defer root.Close()
	return ApplyAt(ctx, root, r, opts)
}

// ApplyAt is Apply onto the open directory dir (an O_PATH handle will do),
// which stays the caller's. The directory is never looked up by name again,
// so a caller that resolved it safely (`cp` into a running container,
// fsutil.OpenInRoot) keeps every write beneath it even while others rename
// things around it.
func ApplyAt(ctx context.Context, dir *os.File, r io.Reader, opts ApplyOptions) (int64, error) {
	a := &applier{
		root:   dir,
		rootfd: int(dir.Fd()),
		opts:   opts,
		max:    opts.MaxBytes,
		dirs:   make(map[string]int),
		log:    opts.Logger,
	}
	if a.max <= 0 {
		a.max = DefaultMaxBytes
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if !opts.Overlay {
		a.unpacked = make(map[string]struct{})
	}
	defer a.close()

	br := bufio.NewReaderSize(r, readBufSize)
	tr := tar.NewReader(br)
	last := ""
	for {
		if err := ctx.Err(); err != nil {
			return a.written, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err == tar.ErrInsecurePath && hdr != nil {
			// Only with GODEBUG=tarinsecurepath=0; cleanName decides.
			err = nil
		}
		if err != nil {
			return a.written, tarReadError(last, err)
		}
		last = hdr.Name
		err = a.entry(hdr, tr)
		a.closePending()
		if err != nil {
			return a.written, err
		}
	}
	if err := a.setDirTimes(); err != nil {
		return a.written, err
	}
	// Read the end-of-archive padding too, so that a caller hashing the
	// stream as it goes (the diffID) sees every byte.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return a.written, fmt.Errorf("layer tar: reading past the end of the archive: %w", err)
	}
	return a.written, nil
}

func tarReadError(last string, err error) error {
	where := "at the start of the layer"
	if last != "" {
		where = fmt.Sprintf("after entry %q", last)
	}
	switch {
	case errors.Is(err, tar.ErrFieldTooLong):
		return errdefs.InvalidArgument(fmt.Errorf("layer tar: header %s is too large (PAX and GNU long-name headers are limited to 1 MiB): %w", where, err))
	case errors.Is(err, tar.ErrHeader), errors.Is(err, tar.ErrInsecurePath):
		return errdefs.InvalidArgument(fmt.Errorf("layer tar: invalid header %s: %w", where, err))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errdefs.DataLossf("layer tar: truncated %s: %w", where, err)
	}
	return fmt.Errorf("layer tar: reading %s: %w", where, err)
}

type dirTime struct {
	rel          string
	atime, mtime time.Time
	mode         uint32
}

type applier struct {
	root     *os.File
	rootfd   int
	opts     ApplyOptions
	max      int64
	written  int64
	declared int64
	log      *slog.Logger

	// dirs caches O_PATH handles of directories by cleaned relative path;
	// pending holds handles dropped from it during the current entry,
	// closed once the entry is done.
	dirs    map[string]int
	pending []int

	unpacked map[string]struct{} // plain mode: paths this layer created
	// dirTimes: directory modes and times, set after all their children
	// (a read-only mode would otherwise stop a non-root caller creating
	// them, and every child changes its directory's mtime).
	dirTimes []dirTime
	buf      []byte
}

func (a *applier) close() {
	for _, fd := range a.dirs {
		unix.Close(fd)
	}
	a.dirs = nil
	a.closePending()
}

func (a *applier) closePending() {
	for _, fd := range a.pending {
		unix.Close(fd)
	}
	a.pending = a.pending[:0]
}

// dropDirs forgets every cached directory handle except keep's, after a
// directory was removed (a cached handle might point into it).
func (a *applier) dropDirs(keep string) {
	for rel, fd := range a.dirs {
		if rel != keep {
			a.pending = append(a.pending, fd)
			delete(a.dirs, rel)
		}
	}
}

// lookupDir returns an O_PATH handle to the directory rel inside the root,
// creating it and its missing parents (0755) when create is set. A missing
// directory without create returns -1 and no error. The handle belongs to
// the cache.
func (a *applier) lookupDir(rel string, create bool) (int, error) {
	if rel == "." {
		return a.rootfd, nil
	}
	if fd, ok := a.dirs[rel]; ok {
		return fd, nil
	}
	fd, err := fsutil.OpenInRoot(a.root, rel, unix.O_PATH|unix.O_DIRECTORY)
	if err == unix.ENOENT {
		if !create {
			return -1, nil
		}
		fd, err = a.mkdirAll(rel)
	}
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			if !create {
				return -1, nil
			}
			return -1, errdefs.InvalidArgumentf("layer: cannot create directory %q: a part of it is not a directory (or is a symlink to a missing directory)", rel)
		}
		return -1, fmt.Errorf("layer: opening directory %q: %w", rel, err)
	}
	if len(a.dirs) >= maxCachedDirs {
		a.dropDirs("")
	}
	a.dirs[rel] = fd
	return fd, nil
}

// mkdirAll creates the directory rel and its missing parents (mode 0755,
// as docker does for parents a tar leaves out) and returns an O_PATH handle
// to it. The deepest existing ancestor is found with scoped resolution;
// below it each component is created and opened without following
// symlinks, so a dangling symlink on the way is an error (ENOTDIR), never
// a way out.
func (a *applier) mkdirAll(rel string) (int, error) {
	var missing []string
	fd := -1
	for p := rel; ; p = path.Dir(p) {
		if p == "." {
			var err error
			if fd, err = unix.FcntlInt(uintptr(a.rootfd), unix.F_DUPFD_CLOEXEC, 0); err != nil {
				return -1, err
			}
			break
		}
		var err error
		fd, err = fsutil.OpenInRoot(a.root, p, unix.O_PATH|unix.O_DIRECTORY)
		if err == nil {
			break
		}
		if err != unix.ENOENT {
			return -1, err
		}
		missing = append(missing, path.Base(p))
	}
	created := path.Join(rel, strings.Repeat("../", len(missing)))
	for i := len(missing) - 1; i >= 0; i-- {
		name := missing[i]
		created = path.Join(created, name)
		err := unix.Mkdirat(fd, name, 0o755)
		if err == nil {
			// exact mode whatever the umask; the directory is new and ours
			err = unix.Fchmodat(fd, name, 0o755, 0)
			if a.unpacked != nil {
				a.unpacked[created] = struct{}{}
			}
		} else if err == unix.EEXIST {
			err = nil // a dangling symlink: the open below fails with ENOTDIR
		}
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
		nfd, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			if err == unix.ELOOP {
				err = unix.ENOTDIR
			}
			return -1, err
		}
		fd = nfd
	}
	return fd, nil
}

// cleanName turns a tar entry name into a clean path relative to the root
// ("." for the root itself), as docker does: a leading "/" is dropped, and
// a name that climbs above the root is an error.
func cleanName(name string) (string, bool) {
	const sentinel = "/r"
	j := path.Clean(sentinel + "/" + name)
	if j == sentinel {
		return ".", true
	}
	if !strings.HasPrefix(j, sentinel+"/") {
		return "", false
	}
	return j[len(sentinel)+1:], true
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	if err := RejectSparse(hdr); err != nil {
		return err
	}
	rel, ok := cleanName(hdr.Name)
	if !ok {
		return errdefs.InvalidArgumentf("layer entry %q: path escapes the layer root", hdr.Name)
	}
	if strings.ContainsRune(rel, 0) {
		return errdefs.InvalidArgumentf("layer entry %q: name contains a NUL byte", hdr.Name)
	}
	dirRel, base := path.Dir(rel), path.Base(rel)

	if !a.opts.NoWhiteouts {
		// AUFS metadata (.wh..wh.plnk, .wh..wh.aufs, ...) is not content.
		if first, _, _ := strings.Cut(rel, "/"); strings.HasPrefix(first, WhiteoutMetaPrefix) && rel != WhiteoutOpaqueDir {
			return nil
		}
		if strings.HasPrefix(base, WhiteoutPrefix) {
			return a.whiteout(hdr, dirRel, base)
		}
	}

	if rel == "." {
		if hdr.Typeflag != tar.TypeDir {
			return errdefs.InvalidArgumentf("layer entry %q: the root can only be a directory", hdr.Name)
		}
		fd, err := unix.Openat(a.rootfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		defer unix.Close(fd)
		if err := a.setMeta(hdr, fd, -1, ""); err != nil {
			return err
		}
		a.dirTimes = append(a.dirTimes, dirTime{rel, hdr.AccessTime, hdr.ModTime, uint32(hdr.Mode & 0o7777)})
		return nil
	}

	pfd, err := a.lookupDir(dirRel, true)
	if err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	if a.unpacked != nil {
		a.unpacked[rel] = struct{}{}
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		return a.mkdir(hdr, rel, pfd, dirRel, base)
	case tar.TypeReg:
		return a.file(hdr, r, pfd, dirRel, base)
	case tar.TypeSymlink:
		if err := a.replace(pfd, dirRel, base); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("layer entry %q: creating symlink: %w", hdr.Name, err)
		}
		// Docker's layer size counts a symlink as its target's length.
		a.written += int64(len(hdr.Linkname))
		return a.setMeta(hdr, -1, pfd, base)
	case tar.TypeLink:
		return a.hardlink(hdr, pfd, dirRel, base)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return a.mknod(hdr, pfd, dirRel, base)
	}
	return errdefs.InvalidArgumentf("layer entry %q: unsupported tar entry type %q", hdr.Name, hdr.Typeflag)
}

// replace removes whatever is at base in the directory pfd.
func (a *applier) replace(pfd int, dirRel, base string) error {
	wasDir, err := removeAllAt(pfd, base)
	if wasDir {
		a.dropDirs(dirRel)
	}
	if err != nil {
		return fmt.Errorf("removing existing %q: %w", path.Join(dirRel, base), err)
	}
	return nil
}

func (a *applier) mkdir(hdr *tar.Header, rel string, pfd int, dirRel, base string) error {
	err := unix.Mkdirat(pfd, base, 0o700)
	if err == unix.EEXIST {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := a.replace(pfd, dirRel, base); err != nil {
				return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
			err = unix.Mkdirat(pfd, base, 0o700)
		} else {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("layer entry %q: creating directory: %w", hdr.Name, err)
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("layer entry %q: opening directory: %w", hdr.Name, err)
	}
	defer unix.Close(fd)
	if err := a.setMeta(hdr, fd, -1, ""); err != nil {
		return err
	}
	a.dirTimes = append(a.dirTimes, dirTime{rel, hdr.AccessTime, hdr.ModTime, uint32(hdr.Mode & 0o7777)})
	return nil
}

// noReadFrom hides *os.File's ReadFrom so io.CopyBuffer uses our buffer.
type noReadFrom struct{ f *os.File }

func (w noReadFrom) Write(p []byte) (int, error) { return w.f.Write(p) }

func (a *applier) file(hdr *tar.Header, r io.Reader, pfd int, dirRel, base string) error {
	if hdr.Size > a.max-a.declared {
		return errdefs.InvalidArgumentf("layer entry %q: layer content exceeds the limit of %d bytes (MaxBytes)", hdr.Name, a.max)
	}
	a.declared += hdr.Size
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(pfd, base, flags, 0o600)
	if err == unix.EEXIST {
		if err := a.replace(pfd, dirRel, base); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		fd, err = unix.Openat(pfd, base, flags, 0o600)
	}
	if err != nil {
		return fmt.Errorf("layer entry %q: creating file: %w", hdr.Name, err)
	}
	f := os.NewFile(uintptr(fd), hdr.Name)
	if a.buf == nil {
		a.buf = make([]byte, copyBufSize)
	}
	n, err := io.CopyBuffer(noReadFrom{f}, r, a.buf)
	a.written += n
	if err != nil {
		f.Close()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errdefs.DataLossf("layer entry %q: truncated content: %w", hdr.Name, err)
		}
		return fmt.Errorf("layer entry %q: writing content: %w", hdr.Name, err)
	}
	if err := a.setMeta(hdr, fd, -1, ""); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	return nil
}

func (a *applier) hardlink(hdr *tar.Header, pfd int, dirRel, base string) error {
	target, ok := cleanName(hdr.Linkname)
	if !ok || target == "." {
		return errdefs.InvalidArgumentf("layer entry %q: hardlink target %q is outside the layer root", hdr.Name, hdr.Linkname)
	}
	tfd, err := a.lookupDir(path.Dir(target), false)
	if err != nil {
		return fmt.Errorf("layer entry %q: hardlink target %q: %w", hdr.Name, hdr.Linkname, err)
	}
	if tfd < 0 {
		return errdefs.InvalidArgumentf("layer entry %q: hardlink target %q not found", hdr.Name, hdr.Linkname)
	}
	tbase := path.Base(target)
	if target == path.Join(dirRel, base) {
		return nil // a link to itself: already there
	}
	if err := a.replace(pfd, dirRel, base); err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		if err == unix.ENOENT {
			return errdefs.InvalidArgumentf("layer entry %q: hardlink target %q not found", hdr.Name, hdr.Linkname)
		}
		return fmt.Errorf("layer entry %q: linking to %q: %w", hdr.Name, hdr.Linkname, err)
	}
	return nil
}

func (a *applier) mknod(hdr *tar.Header, pfd int, dirRel, base string) error {
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	case tar.TypeFifo:
		mode |= unix.S_IFIFO
	}
	if err := a.replace(pfd, dirRel, base); err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknodat(pfd, base, mode, int(dev)); err != nil {
		if err == unix.EPERM && hdr.Typeflag != tar.TypeFifo {
			// Not root (or in a user namespace): docker skips device nodes too.
			a.log.Warn("skipping device node: not permitted", "entry", hdr.Name)
			if a.unpacked != nil {
				delete(a.unpacked, path.Join(dirRel, base))
			}
			return nil
		}
		return fmt.Errorf("layer entry %q: creating device node: %w", hdr.Name, err)
	}
	return a.setMeta(hdr, -1, pfd, base)
}

// setMeta restores ownership, xattrs, and (except for directories, whose
// are set last by setDirTimes) mode and times of the entry, either through the open file fd or, when
// fd < 0, by name base in the directory pfd without following a symlink.
func (a *applier) setMeta(hdr *tar.Header, fd, pfd int, base string) error {
	isLink := hdr.Typeflag == tar.TypeSymlink
	if !a.opts.NoSameOwner {
		var err error
		if fd >= 0 {
			err = unix.Fchown(fd, hdr.Uid, hdr.Gid)
		} else {
			err = unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)
		}
		if err != nil {
			return fmt.Errorf("layer entry %q: chown %d:%d: %w", hdr.Name, hdr.Uid, hdr.Gid, err)
		}
	}
	for key, value := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(key, "SCHILY.xattr.")
		if !ok || isOverlayXattr(name) {
			continue
		}
		var err error
		if fd >= 0 {
			err = unix.Fsetxattr(fd, name, []byte(value), 0)
		} else {
			err = unix.Lsetxattr(procFdPath(pfd)+"/"+base, name, []byte(value), 0)
		}
		if err != nil {
			if err == unix.ENOTSUP || err == unix.EPERM || err == unix.EOPNOTSUPP {
				a.log.Warn("skipping extended attribute the filesystem refused", "entry", hdr.Name, "xattr", name, "error", err)
				continue
			}
			return fmt.Errorf("layer entry %q: setting xattr %s: %w", hdr.Name, name, err)
		}
	}
	if !isLink && hdr.Typeflag != tar.TypeDir {
		mode := uint32(hdr.Mode & 0o7777)
		var err error
		if fd >= 0 {
			err = unix.Fchmod(fd, mode)
		} else {
			err = unix.Fchmodat(pfd, base, mode, 0)
		}
		if err != nil {
			return fmt.Errorf("layer entry %q: chmod %o: %w", hdr.Name, mode, err)
		}
	}
	if hdr.Typeflag == tar.TypeDir {
		return nil
	}
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	ts := []unix.Timespec{timespec(atime), timespec(hdr.ModTime)}
	var err error
	if fd >= 0 {
		err = futimens(fd, ts)
	} else {
		err = unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return fmt.Errorf("layer entry %q: setting times: %w", hdr.Name, err)
	}
	return nil
}

func futimens(fd int, ts []unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// setDirTimes sets the times of the directories the layer created, after
// all their children are in place.
func (a *applier) setDirTimes() error {
	for _, d := range a.dirTimes { // in order: a later header for the same directory wins
		atime := d.atime
		if atime.IsZero() {
			atime = d.mtime
		}
		ts := []unix.Timespec{timespec(atime), timespec(d.mtime)}
		pfd, base := a.rootfd, "."
		if d.rel != "." {
			var err error
			pfd, err = a.lookupDir(path.Dir(d.rel), false)
			if err != nil || pfd < 0 {
				continue // removed or replaced by a later entry
			}
			base = path.Base(d.rel)
		}
		fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Fchmod(fd, d.mode)
			unix.Close(fd)
		}
		if err != nil && err != unix.ENOENT && err != unix.ENOTDIR && err != unix.ELOOP {
			return fmt.Errorf("layer: chmod of directory %q: %w", d.rel, err)
		}
		err = unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
		a.closePending()
		if err != nil && err != unix.ENOENT {
			return fmt.Errorf("layer: setting times of directory %q: %w", d.rel, err)
		}
	}
	return nil
}

// whiteout applies a ".wh." entry: dirRel is its directory, base its name.
func (a *applier) whiteout(hdr *tar.Header, dirRel, base string) error {
	if base == WhiteoutOpaqueDir {
		return a.opaque(hdr, dirRel)
	}
	if strings.HasPrefix(base, WhiteoutMetaPrefix) {
		return nil // other AUFS metadata
	}
	name := base[len(WhiteoutPrefix):]
	if name == "" || name == "." || name == ".." {
		return errdefs.InvalidArgumentf("layer entry %q: invalid whiteout name", hdr.Name)
	}
	if a.opts.Overlay {
		pfd, err := a.lookupDir(dirRel, true)
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if err := a.replace(pfd, dirRel, name); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("layer entry %q: creating overlay whiteout: %w", hdr.Name, err)
		}
		if !a.opts.NoSameOwner {
			if err := unix.Fchownat(pfd, name, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("layer entry %q: chown whiteout: %w", hdr.Name, err)
			}
		}
		return nil
	}
	pfd, err := a.lookupDir(dirRel, false)
	if err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	if pfd < 0 {
		return nil // nothing below to delete
	}
	if err := a.replace(pfd, dirRel, name); err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	return nil
}

// opaque applies ".wh..wh..opq" in dirRel.
func (a *applier) opaque(hdr *tar.Header, dirRel string) error {
	if a.opts.Overlay {
		pfd, err := a.lookupDir(dirRel, true)
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		p := procFdPath(pfd)
		err = unix.Setxattr(p, overlayOpaqueXattr, []byte{'y'}, 0)
		if err == unix.EPERM {
			// Unprivileged overlay (userxattr) reads user.overlay.*.
			err = unix.Setxattr(p, overlayUserOpaqueXattr, []byte{'y'}, 0)
		}
		if err != nil {
			return fmt.Errorf("layer entry %q: marking directory opaque: %w", hdr.Name, err)
		}
		return nil
	}
	pfd, err := a.lookupDir(dirRel, false)
	if err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	if pfd < 0 {
		return nil
	}
	fd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	if err := a.clearOpaque(fd, dirRel); err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	return nil
}

// clearOpaque removes, beneath the directory fd (at rel), everything this
// layer did not create itself, as docker does for an opaque whiteout. It
// closes fd.
func (a *applier) clearOpaque(fd int, rel string) error {
	d := os.NewFile(uintptr(fd), rel)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("reading directory %q: %w", rel, err)
	}
	for _, n := range names {
		crel := path.Join(rel, n)
		if _, ok := a.unpacked[crel]; !ok {
			wasDir, err := removeAllAt(fd, n)
			if wasDir {
				a.dropDirs("")
			}
			if err != nil {
				return fmt.Errorf("removing %q: %w", crel, err)
			}
			continue
		}
		cfd, err := unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOTDIR || err == unix.ELOOP {
			continue
		}
		if err != nil {
			return fmt.Errorf("opening %q: %w", crel, err)
		}
		if err := a.clearOpaque(cfd, crel); err != nil {
			return err
		}
	}
	return nil
}
