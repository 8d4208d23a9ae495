package mount

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/rootless"
)

// Mount is one mount, as data.
type Mount struct {
	Type    string   // filesystem type: "overlay", "bind", "tmpfs", ...
	Source  string   // device or directory ("overlay" for overlay mounts)
	Options []string // mount(8) options: "ro", "rbind", "lowerdir=...", ...
}

// Overlay describes an overlay mount of lowers (TOP FIRST, as overlayfs
// lists them) under the writable upper dir with its work dir. With no upper
// dir the mount is read-only; a single read-only lower becomes a read-only
// bind mount, since overlayfs needs two lowers without an upper.
// The mount is the kernel's overlayfs or fuse-overlayfs, as kind (the
// hoist root's, ChooseOverlay) says.
func Overlay(kind string, lowersTopFirst []string, upper, work string) Mount {
	if upper == "" && len(lowersTopFirst) == 1 {
		return Mount{Type: "bind", Source: lowersTopFirst[0], Options: []string{"rbind", "ro"}}
	}
	if kind == FuseOverlay {
		return fuseOverlay(lowersTopFirst, upper, work)
	}
	opts := []string{"lowerdir=" + joinLowerdir(lowersTopFirst)}
	if upper != "" {
		opts = append(opts, "upperdir="+escapeOverlay(upper), "workdir="+escapeOverlay(work))
	}
	// index=off and xino=off keep overlay from refusing reuse of upper dirs
	// across mounts with different lowers (layers are shared by many).
	opts = append(opts, "index=off")
	if rootless.Running() {
		// In a user namespace overlayfs cannot use trusted.overlay.*
		// (whiteouts of lower directories, opaque markers): user.overlay.*.
		opts = append(opts, "userxattr")
	}
	return Mount{Type: "overlay", Source: "overlay", Options: opts}
}

// Bind describes a (recursive) bind mount of source, read-only if ro.
func Bind(source string, ro bool) Mount {
	m := Mount{Type: "bind", Source: source, Options: []string{"rbind"}}
	if ro {
		m.Options = append(m.Options, "ro")
	}
	return m
}

// escapeOverlay escapes a path for an overlay option: overlayfs splits its
// options at "," and lowerdir at ":", and takes a backslash as an escape
// (in mount(2)'s data and in fsconfig's upperdir and workdir alike), so a
// path holding those characters (a --root of "/srv/a,b" or "/srv/a:b")
// mounts as itself.
func escapeOverlay(p string) string {
	if !strings.ContainsAny(p, `\,:`) {
		return p
	}
	var b strings.Builder
	for _, r := range p {
		if r == '\\' || r == ',' || r == ':' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// unescapeOverlay undoes escapeOverlay.
func unescapeOverlay(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// joinLowerdir is the value of a lowerdir option: the escaped paths joined
// by ":".
func joinLowerdir(dirs []string) string {
	esc := make([]string, len(dirs))
	for i, d := range dirs {
		esc[i] = escapeOverlay(d)
	}
	return strings.Join(esc, ":")
}

// splitLowerdir splits a lowerdir value at its unescaped ":" and unescapes
// each path.
func splitLowerdir(v string) []string {
	var out []string
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case ':':
			out = append(out, unescapeOverlay(v[start:i]))
			start = i + 1
		}
	}
	return append(out, unescapeOverlay(v[start:]))
}

// LowerDirs returns the overlay lower dirs of m, top first (nil if none).
func (m Mount) LowerDirs() []string {
	for _, o := range m.Options {
		if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
			return splitLowerdir(v)
		}
	}
	if m.Type == "bind" {
		return []string{m.Source}
	}
	return nil
}

// Option returns the value of the key=value option key in m, unescaped
// (a path as itself).
func (m Mount) Option(key string) string {
	for _, o := range m.Options {
		if v, ok := strings.CutPrefix(o, key+"="); ok {
			return unescapeOverlay(v)
		}
	}
	return ""
}

// All mounts each of ms on target in order (for stacking) and unmounts what
// it mounted if one fails.
func All(ms []Mount, target string) error {
	for i, m := range ms {
		if err := m.Mount(target); err != nil {
			for j := 0; j < i; j++ {
				_ = Unmount(target)
			}
			return err
		}
	}
	return nil
}

// Mount mounts m on target, which must be an existing directory.
func (m Mount) Mount(target string) error {
	switch m.Type {
	case "overlay":
		err := mountOverlayNewAPI(m, target)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errNoNewAPI) {
			return err
		}
		return mountClassic(m, target)
	case "bind", "rbind":
		return mountBind(m, target)
	case fuseType:
		return mountFuse(m, target)
	default:
		return mountClassic(m, target)
	}
}

var errNoNewAPI = errors.New("new mount API unavailable")

// flag options that map to mount(2) flags / mount attributes rather than to
// filesystem options.
var flagOpts = map[string]uintptr{
	"ro": unix.MS_RDONLY, "rw": 0, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV,
	"noexec": unix.MS_NOEXEC, "bind": unix.MS_BIND, "rbind": unix.MS_BIND | unix.MS_REC,
	"relatime": unix.MS_RELATIME, "noatime": unix.MS_NOATIME, "private": unix.MS_PRIVATE,
	"rprivate": unix.MS_PRIVATE | unix.MS_REC,
}

func splitOptions(opts []string) (flags uintptr, data []string) {
	for _, o := range opts {
		if f, ok := flagOpts[o]; ok {
			flags |= f
			continue
		}
		data = append(data, o)
	}
	return flags, data
}

func mountOverlayNewAPI(m Mount, target string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
			return errNoNewAPI
		}
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fd)
	flags, data := splitOptions(m.Options)
	for _, o := range data {
		key, val, hasVal := strings.Cut(o, "=")
		switch {
		case key == "lowerdir":
			// "lowerdir+" takes one path as it is (no escapes).
			for _, l := range splitLowerdir(val) {
				if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
					if errors.Is(err, unix.EINVAL) && fsError(fd) == "" {
						return errNoNewAPI // kernel older than 6.8: no "lowerdir+"
					}
					return fmt.Errorf("overlay lowerdir %s: %w%s", l, err, fsError(fd))
				}
			}
		case hasVal:
			if err := unix.FsconfigSetString(fd, key, val); err != nil {
				return fmt.Errorf("overlay option %s: %w%s", o, err, fsError(fd))
			}
		default:
			if err := unix.FsconfigSetFlag(fd, key); err != nil {
				return fmt.Errorf("overlay option %s: %w%s", o, err, fsError(fd))
			}
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("overlay mount on %s: %w%s", target, err, fsError(fd))
	}
	var attr int
	if flags&unix.MS_RDONLY != 0 {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if flags&unix.MS_NOSUID != 0 {
		attr |= unix.MOUNT_ATTR_NOSUID
	}
	if flags&unix.MS_NODEV != 0 {
		attr |= unix.MOUNT_ATTR_NODEV
	}
	if flags&unix.MS_NOEXEC != 0 {
		attr |= unix.MOUNT_ATTR_NOEXEC
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return fmt.Errorf("fsmount overlay: %w%s", err, fsError(fd))
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount overlay to %s: %w", target, err)
	}
	return nil
}

// fsError reads the kernel's messages for a filesystem context fd.
func fsError(fd int) string {
	var msgs []string
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (" + strings.Join(msgs, "; ") + ")"
}

func mountBind(m Mount, target string) error {
	flags, _ := splitOptions(m.Options)
	flags |= unix.MS_BIND
	if err := unix.Mount(m.Source, target, "", flags&^unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("bind mount %s on %s: %w", m.Source, target, err)
	}
	if flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", target, "", flags|unix.MS_REMOUNT, ""); err != nil {
			_ = Unmount(target)
			return fmt.Errorf("remount %s read-only: %w", target, err)
		}
	}
	return nil
}

// mountClassic uses mount(2). Overlay options longer than a page are made
// relative to the common parent of their paths, in a thread whose working
// directory is private to it.
func mountClassic(m Mount, target string) error {
	flags, data := splitOptions(m.Options)
	opt := strings.Join(data, ",")
	pageSize := os.Getpagesize()
	if m.Type != "overlay" || len(opt) < pageSize {
		if err := unix.Mount(m.Source, target, m.Type, flags, opt); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.Type, target, err)
		}
		return nil
	}
	dir, rel, _ := relativeOverlayOptions(data, func(_, key string, paths []string) (string, error) {
		if key == "lowerdir" {
			return joinLowerdir(paths), nil
		}
		return escapeOverlay(paths[0]), nil
	})
	opt = strings.Join(rel, ",")
	if len(opt) >= pageSize {
		return fmt.Errorf("overlay on %s: %d layers do not fit in the mount options (%d bytes)", target, len(m.LowerDirs()), len(opt))
	}
	absTarget, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked, so it exits with the goroutine and its
		// private working directory never leaks to other goroutines.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare fs: %w", err)
			return
		}
		if err := unix.Chdir(dir); err != nil {
			errc <- fmt.Errorf("chdir %s: %w", dir, err)
			return
		}
		if err := unix.Mount("overlay", absTarget, "overlay", flags, opt); err != nil {
			errc <- fmt.Errorf("mount overlay on %s: %w", target, err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// relativeOverlayOptions rewrites the lowerdir, upperdir and workdir
// options of data (mount(2) spellings: escaped, lowers ':'-separated)
// relative to the common parent of all their paths, which it returns;
// format spells an option's paths relative to dir (one for upperdir and
// workdir), or refuses them. Other options are kept as they are.
func relativeOverlayOptions(data []string, format func(dir, key string, paths []string) (string, error)) (string, []string, error) {
	var paths []string
	for _, o := range data {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "lowerdir":
			paths = append(paths, splitLowerdir(v)...)
		case "upperdir", "workdir":
			paths = append(paths, unescapeOverlay(v))
		}
	}
	dir := commonDir(paths)
	rel := make([]string, 0, len(data))
	for _, o := range data {
		k, v, _ := strings.Cut(o, "=")
		var ps []string
		switch k {
		case "lowerdir":
			ps = splitLowerdir(v)
		case "upperdir", "workdir":
			ps = []string{unescapeOverlay(v)}
		}
		if ps != nil {
			for i, p := range ps {
				ps[i] = relTo(dir, p)
			}
			f, err := format(dir, k, ps)
			if err != nil {
				return "", nil, err
			}
			o = k + "=" + f
		}
		rel = append(rel, o)
	}
	return dir, rel, nil
}

func relTo(dir, p string) string {
	r, err := filepath.Rel(dir, p)
	if err != nil {
		return p
	}
	return r
}

func commonDir(paths []string) string {
	if len(paths) == 0 {
		return "/"
	}
	c := filepath.Dir(filepath.Clean(paths[0]))
	for _, p := range paths[1:] {
		p = filepath.Clean(p)
		for c != "/" && !strings.HasPrefix(p, c+"/") {
			c = filepath.Dir(c)
		}
	}
	return c
}

// Unmount unmounts the top mount at target without following symlinks,
// detaching lazily if it is busy.
func Unmount(target string) error {
	err := unix.Unmount(target, unix.UMOUNT_NOFOLLOW)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(target, unix.UMOUNT_NOFOLLOW|unix.MNT_DETACH)
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	return nil
}

// UnmountAll unmounts every mount stacked at target (and those below it, via
// detach) until target is no longer a mount point. A missing target or one
// that is not a mount point is not an error.
func UnmountAll(target string) error {
	for i := 0; i < 64; i++ {
		err := unix.Unmount(target, unix.UMOUNT_NOFOLLOW)
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(target, unix.UMOUNT_NOFOLLOW|unix.MNT_DETACH)
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		default:
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
	return fmt.Errorf("unmount %s: still mounted after 64 unmounts", target)
}

// MountPoints returns the mount points (of the calling thread's mount
// namespace, /proc/thread-self/mountinfo) at or under
// prefix (for cleanup and leak checks).
func MountPoints(prefix string) ([]string, error) {
	prefix = filepath.Clean(prefix)
	var out []string
	err := eachMount(func(mp string, _ []string) {
		if mp == prefix || strings.HasPrefix(mp, prefix+"/") {
			out = append(out, mp)
		}
	})
	return out, err
}

// Propagation returns the mount that path is on (the longest mount point
// above it, symlinks resolved) and its propagation: "shared", "slave" or
// "private" (mountinfo's optional fields shared:N and master:N; a mount
// that is both counts as shared).
func Propagation(path string) (mountPoint, propagation string, err error) {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", "", err
	}
	propagation = "private"
	err = eachMount(func(mp string, optional []string) {
		if (p == mp || strings.HasPrefix(p, mp+"/") || mp == "/") && len(mp) >= len(mountPoint) {
			mountPoint, propagation = mp, "private"
			for _, o := range optional {
				switch {
				case strings.HasPrefix(o, "shared:"):
					propagation = "shared"
				case strings.HasPrefix(o, "master:") && propagation == "private":
					propagation = "slave"
				}
			}
		}
	})
	return mountPoint, propagation, err
}

// eachMount calls fn with every mount point of the calling thread's mount
// namespace and its optional fields, in mountinfo's order.
func eachMount(fn func(mountPoint string, optional []string)) error {
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 {
			continue
		}
		optional := fields[6:]
		for i, o := range optional {
			if o == "-" {
				optional = optional[:i]
				break
			}
		}
		fn(unescape(fields[4]), optional)
	}
	return sc.Err()
}

// unescape decodes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// IsMountPoint reports whether target is a mount point.
func IsMountPoint(target string) (bool, error) {
	mps, err := MountPoints(target)
	if err != nil {
		return false, err
	}
	for _, mp := range mps {
		if mp == filepath.Clean(target) {
			return true, nil
		}
	}
	return false, nil
}
