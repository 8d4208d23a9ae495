package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
	"golang.org/x/sys/unix"
)

// sandbox is a layer root with a sibling "outside" directory that no
// layer may touch.
type sandbox struct {
	base, root, outside string
	before              map[string]node
	overlay             bool
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	base := t.TempDir()
	s := &sandbox{base: base, root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{s.root, s.outside, filepath.Join(s.outside, "dir")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.outside, "sentinel"), []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.outside, "dir/file"), []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.before = s.outsideTree(t)
	return s
}

// outsideTree snapshots everything in base except the layer root.
func (s *sandbox) outsideTree(t testing.TB) map[string]node {
	snap := snapshot(t, s.base, true)
	for k, n := range snap {
		if k == "root" || strings.HasPrefix(k, "root/") {
			delete(snap, k)
			continue
		}
		n.Mtime = 0 // atime/mtime of dirs may not change, but be lenient on dirs
		snap[k] = n
	}
	return snap
}

func (s *sandbox) check(t testing.TB) {
	t.Helper()
	after := s.outsideTree(t)
	diffTrees(t, s.before, after)
	if _, err := os.Lstat("/" + "escape"); err == nil {
		t.Error("/escape was created")
	}
}

func (s *sandbox) exists(p string) bool {
	_, err := os.Lstat(filepath.Join(s.root, p))
	return err == nil
}

func TestApplyHostile(t *testing.T) {
	requireRoot(t)
	type tc struct {
		name    string
		prep    func(s *sandbox) // state of the root before the layer
		entries func(s *sandbox) []entry
		wantErr string // substring; "" = success
		after   func(t *testing.T, s *sandbox)
	}
	abs := func(s *sandbox, p string) string { return filepath.Join(s.outside, p) }
	cases := []tc{
		{name: "dotdot", entries: func(s *sandbox) []entry { return []entry{reg("../escape", "x")} }, wantErr: `"../escape": path escapes`},
		{name: "dotdot-middle", entries: func(s *sandbox) []entry { return []entry{reg("a/../../escape", "x")} }, wantErr: "path escapes"},
		{name: "rooted-dotdot", entries: func(s *sandbox) []entry { return []entry{reg("/../escape", "x")} }, wantErr: "path escapes"},
		{name: "absolute-is-relative", entries: func(s *sandbox) []entry { return []entry{reg("/abs/file", "x")} },
			after: func(t *testing.T, s *sandbox) {
				if !s.exists("abs/file") {
					t.Error("absolute name not extracted under the root")
				}
			}},
		{name: "symlink-abs-then-write-through", prep: func(s *sandbox) {
			os.MkdirAll(filepath.Join(s.root, s.outside), 0o755)
		}, entries: func(s *sandbox) []entry {
			return []entry{symlinkE("a", s.outside), reg("a/sentinel", "pwned"), reg("a/new", "pwned")}
		}, after: func(t *testing.T, s *sandbox) {
			if !s.exists(filepath.Join(s.outside, "new")) {
				t.Error("write through an absolute symlink should land inside the root")
			}
		}},
		{name: "symlink-dangling-abs", entries: func(s *sandbox) []entry {
			return []entry{symlinkE("a", s.outside), reg("a/sentinel", "pwned")}
		}, wantErr: `entry "a/sentinel": layer: cannot create directory "a"`},
		{name: "symlink-relative-climb", prep: func(s *sandbox) {
			os.MkdirAll(filepath.Join(s.root, s.outside), 0o755)
		}, entries: func(s *sandbox) []entry {
			return []entry{symlinkE("a", "../../../../../../.."+s.base), reg("a/outside/sentinel", "pwned"), reg("a/escape", "pwned")}
		}, after: func(t *testing.T, s *sandbox) {
			if !s.exists(filepath.Join(s.outside, "sentinel")) || !s.exists(filepath.Join(s.base, "escape")) {
				t.Error("want the files inside the root")
			}
		}},
		{name: "symlink-chain", prep: func(s *sandbox) {
			os.MkdirAll(filepath.Join(s.root, s.outside), 0o755)
		}, entries: func(s *sandbox) []entry {
			return []entry{symlinkE("b", s.outside), symlinkE("a", "b"), dirE("a/dir"), reg("a/dir/file", "pwned")}
		}},
		{name: "symlink-to-etc", prep: func(s *sandbox) {
			os.Mkdir(filepath.Join(s.root, "etc"), 0o755)
		}, entries: func(s *sandbox) []entry {
			return []entry{symlinkE("a", "/etc"), reg("a/hoist-test-must-not-exist", "pwned")}
		}, after: func(t *testing.T, s *sandbox) {
			if _, err := os.Lstat("/etc/hoist-test-must-not-exist"); err == nil {
				os.Remove("/etc/hoist-test-must-not-exist")
				t.Fatal("wrote into the host's /etc")
			}
			if !s.exists("etc/hoist-test-must-not-exist") {
				t.Error("want the file at root/etc")
			}
		}},
		{name: "hardlink-dotdot", entries: func(s *sandbox) []entry { return []entry{hardlinkE("h", "../outside/sentinel")} }, wantErr: "outside the layer root"},
		{name: "hardlink-absolute", entries: func(s *sandbox) []entry { return []entry{hardlinkE("h", abs(s, "sentinel"))} }, wantErr: "not found"},
		{name: "hardlink-via-symlink", entries: func(s *sandbox) []entry {
			return []entry{symlinkE("a", s.outside), hardlinkE("h", "a/sentinel")}
		}, wantErr: "not found"},
		{name: "hardlink-to-symlink-is-the-symlink", entries: func(s *sandbox) []entry {
			return []entry{symlinkE("a", abs(s, "sentinel")), hardlinkE("h", "a"), reg("h", "overwrite")}
		}, after: func(t *testing.T, s *sandbox) {
			if l, _ := os.Readlink(filepath.Join(s.root, "a")); l != abs(s, "sentinel") {
				t.Errorf("symlink a changed: %q", l)
			}
		}},
		{name: "existing-symlink-parent", prep: func(s *sandbox) {
			os.Symlink(s.outside, filepath.Join(s.root, "etc"))
			os.MkdirAll(filepath.Join(s.root, s.outside), 0o755)
		}, entries: func(s *sandbox) []entry {
			return []entry{reg("etc/sentinel", "pwned"), dirE("etc/dir"), reg("etc/dir/file", "pwned")}
		}},
		{name: "existing-dangling-symlink-parent", prep: func(s *sandbox) {
			os.Symlink(s.outside, filepath.Join(s.root, "etc"))
		}, entries: func(s *sandbox) []entry { return []entry{reg("etc/sentinel", "pwned")} }, wantErr: "cannot create directory"},
		{name: "existing-symlink-replaced-by-file", prep: func(s *sandbox) {
			os.Symlink(abs(s, "sentinel"), filepath.Join(s.root, "lnk"))
		}, entries: func(s *sandbox) []entry { return []entry{reg("lnk", "pwned")} },
			after: func(t *testing.T, s *sandbox) {
				if b, _ := os.ReadFile(filepath.Join(s.root, "lnk")); string(b) != "pwned" {
					t.Errorf("lnk = %q", b)
				}
			}},
		{name: "existing-symlink-replaced-by-dir", prep: func(s *sandbox) {
			os.Symlink(abs(s, "dir"), filepath.Join(s.root, "d"))
		}, entries: func(s *sandbox) []entry { return []entry{dirE("d"), reg("d/file", "pwned")} },
			after: func(t *testing.T, s *sandbox) {
				if st, err := os.Lstat(filepath.Join(s.root, "d")); err != nil || !st.IsDir() {
					t.Errorf("d is not a real directory: %v", err)
				}
			}},
		{name: "whiteout-through-symlink", prep: func(s *sandbox) {
			os.Symlink(s.outside, filepath.Join(s.root, "a"))
			os.MkdirAll(filepath.Join(s.root, s.outside), 0o755)
		}, entries: func(s *sandbox) []entry {
			return []entry{reg("a/.wh.sentinel", ""), reg("a/.wh.dir", ""), reg("a/.wh..wh..opq", "")}
		}},
		{name: "whiteout-of-symlink-removes-link-only", prep: func(s *sandbox) {
			os.Symlink(s.outside, filepath.Join(s.root, "a"))
		}, entries: func(s *sandbox) []entry { return []entry{reg(".wh.a", "")} },
			after: func(t *testing.T, s *sandbox) {
				var st unix.Stat_t
				err := unix.Lstat(filepath.Join(s.root, "a"), &st)
				if s.overlay {
					if err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
						t.Error("symlink a not replaced by an overlay whiteout")
					}
				} else if err == nil {
					t.Error("symlink a not removed")
				}
			}},
		{name: "whiteout-empty", entries: func(s *sandbox) []entry { return []entry{reg("d/.wh.", "")} }, wantErr: `"d/.wh.": invalid whiteout name`},
		{name: "whiteout-dot", entries: func(s *sandbox) []entry { return []entry{reg(".wh..", "")} }, wantErr: `".wh..": invalid whiteout name`},
		{name: "whiteout-dotdot", entries: func(s *sandbox) []entry { return []entry{reg("d/.wh...", "")} }, wantErr: `"d/.wh...": invalid whiteout name`},
		{name: "file-under-file", entries: func(s *sandbox) []entry { return []entry{reg("f", "x"), reg("f/x", "y")} }, wantErr: "not a directory"},
		{name: "root-as-file", entries: func(s *sandbox) []entry { return []entry{reg(".", "x")} }, wantErr: "root can only be a directory"},
	}
	for _, c := range cases {
		for _, overlay := range []bool{false, true} {
			mode := "plain"
			if overlay {
				mode = "overlay"
			}
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				s := newSandbox(t)
				s.overlay = overlay
				if c.prep != nil {
					c.prep(s)
				}
				_, err := apply(t, s.root, mkTar(t, c.entries(s)...), ApplyOptions{Overlay: overlay})
				switch {
				case c.wantErr == "" && err != nil:
					t.Fatalf("Apply: %v", err)
				case c.wantErr != "" && err == nil:
					t.Fatalf("Apply succeeded, want error containing %q", c.wantErr)
				case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
					t.Fatalf("error %q, want it to contain %q", err, c.wantErr)
				}
				s.check(t)
				if c.after != nil {
					c.after(t, s)
				}
			})
		}
	}
}

func TestApplyReplaceDocker(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	mustApply(t, dir, mkTar(t,
		dirE("d"), reg("d/child", "c"), dirE("d/sub"),
		reg("f", "file"),
		dirE("s"), reg("s/x", "x"),
		dirE("keep"), reg("keep/old", "old"),
	), ApplyOptions{})
	kd := dirE("keep")
	kd.hdr.Mode = 0o711
	mustApply(t, dir, mkTar(t,
		reg("d", "now a file"),       // file replaces a non-empty dir
		dirE("f"), reg("f/in", "in"), // dir replaces a file
		symlinkE("s", "d"),         // symlink replaces a dir
		kd, reg("keep/new", "new"), // dir over dir: merged, metadata updated
	), ApplyOptions{})
	snap := snapshot(t, dir, false)
	if n := snap["d"]; n.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Errorf("d: %v", n)
	}
	if _, ok := snap["d/child"]; ok {
		t.Error("d/child survived")
	}
	if n := snap["f"]; n.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("f: %v", n)
	}
	if n := snap["s"]; n.Link != "d" {
		t.Errorf("s: %v", n)
	}
	if _, ok := snap["keep/old"]; !ok {
		t.Error("keep/old lost: a directory over a directory must merge")
	}
	if n := snap["keep"]; n.Mode != unix.S_IFDIR|0o711 {
		t.Errorf("keep mode %o", n.Mode)
	}
}

// paxTar builds, by hand, a tar whose PAX header for the entry "big-pax"
// holds one record of recordSize bytes (Go's writer refuses to write it).
func paxTar(t *testing.T, recordSize int) []byte {
	t.Helper()
	val := strings.Repeat("A", recordSize)
	rec := " SCHILY.xattr.user.big=" + val + "\n"
	n := len(rec)
	for {
		l := len(strconv.Itoa(n)) + len(rec)
		if l == n {
			break
		}
		n = l
	}
	rec = strconv.Itoa(n) + rec
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "first", Size: 1, Mode: 0o644})
	tw.Write([]byte("1"))
	tw.Flush()
	start := buf.Len()
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "PaxHeaders/big-pax", Size: int64(len(rec)), Mode: 0o644, Format: tar.FormatUSTAR})
	tw.Write([]byte(rec))
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "big-pax", Size: 1, Mode: 0o644, Format: tar.FormatUSTAR})
	tw.Write([]byte("x"))
	tw.Close()
	data := buf.Bytes()
	blk := data[start : start+512]
	blk[156] = tar.TypeXHeader
	copy(blk[148:156], "        ")
	sum := 0
	for _, b := range blk {
		sum += int(b)
	}
	copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return data
}

func TestApplyHugePAXHeader(t *testing.T) {
	// A PAX header within the limit is applied (the xattr lands).
	dir := t.TempDir()
	if _, err := apply(t, dir, paxTar(t, 1000), ApplyOptions{NoSameOwner: true}); err != nil {
		t.Fatalf("small PAX header: %v", err)
	}
	if v, err := getXattr(-1, filepath.Join(dir, "big-pax"), "user.big"); err != nil || len(v) != 1000 {
		t.Errorf("xattr from PAX: %d bytes, %v", len(v), err)
	}
	_, err := apply(t, t.TempDir(), paxTar(t, 2<<20), ApplyOptions{NoSameOwner: true})
	if err == nil || !strings.Contains(err.Error(), "limited to 1 MiB") || !strings.Contains(err.Error(), `after entry "first"`) {
		t.Fatalf("got %v, want a clear too-large header error", err)
	}
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !errors.Is(err, tar.ErrFieldTooLong) {
		t.Errorf("error classes: %v", err)
	}
}

func TestApplyMaxBytes(t *testing.T) {
	dir := t.TempDir()
	_, err := apply(t, dir, mkTar(t, reg("a", strings.Repeat("x", 600)), reg("b", strings.Repeat("x", 600))), ApplyOptions{MaxBytes: 1000, NoSameOwner: true})
	if err == nil || !strings.Contains(err.Error(), "limit of 1000 bytes (MaxBytes)") || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "b")); err == nil {
		t.Error("b was written past the limit")
	}

	// A real bomb: 64 MiB of zeros gzips to ~64 KiB; stopped before writing.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	tw := tar.NewWriter(zw)
	const size = 64 << 20
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bomb", Size: size, Mode: 0o644})
	io.CopyN(tw, zeroReader{}, size)
	tw.Close()
	zw.Close()
	rc, _, err := DecompressStream(&gz)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	n, err := Apply(t.Context(), t.TempDir(), rc, ApplyOptions{MaxBytes: 1 << 20, NoSameOwner: true})
	if err == nil || !strings.Contains(err.Error(), "limit of 1048576 bytes") || n != 0 {
		t.Fatalf("bomb: n=%d err=%v", n, err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestApplyTruncated(t *testing.T) {
	data := mkTar(t, reg("a", strings.Repeat("x", 5000)))
	_, err := apply(t, t.TempDir(), data[:2048], ApplyOptions{NoSameOwner: true})
	if err == nil || !errors.Is(err, errdefs.ErrDataLoss) {
		t.Fatalf("got %v, want a data-loss error", err)
	}
}

// Device nodes cannot be created without CAP_MKNOD in the initial user
// namespace; docker skips them there, and so do we. The check runs in a
// child process in a new user namespace.
func TestApplyDevicesSkippedWithoutPrivilege(t *testing.T) {
	if os.Getenv("HOIST_ARCHIVE_USERNS_CHILD") != "" {
		dir := os.Getenv("HOIST_ARCHIVE_USERNS_CHILD")
		null := entry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3}}
		blk := entry{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/sda", Mode: 0o660, Devmajor: 8, Devminor: 0}}
		fifo := entry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "dev/fifo", Mode: 0o600}}
		if _, err := apply(t, dir, mkTar(t, dirE("dev"), null, blk, fifo, reg("dev/after", "x")), ApplyOptions{NoSameOwner: true}); err != nil {
			t.Fatalf("Apply in user namespace: %v", err)
		}
		return
	}
	requireRoot(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestApplyDevicesSkippedWithoutPrivilege$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HOIST_ARCHIVE_USERNS_CHILD="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(err.Error(), "operation not permitted") || strings.Contains(err.Error(), "invalid argument") {
			t.Skipf("user namespaces not available: %v", err)
		}
		t.Fatalf("child: %v\n%s", err, out)
	}
	snap := snapshot(t, dir, false)
	if _, ok := snap["dev/null"]; ok {
		t.Error("dev/null created without privilege?")
	}
	if _, ok := snap["dev/sda"]; ok {
		t.Error("dev/sda created without privilege?")
	}
	if n, ok := snap["dev/fifo"]; !ok || n.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Error("fifo not created")
	}
	if _, ok := snap["dev/after"]; !ok {
		t.Error("entries after the skipped devices not extracted")
	}
}

// As an unprivileged user (NoSameOwner), a read-only directory must not
// stop its own children being extracted, and setuid bits and modes are
// still applied.
func TestApplyUnprivileged(t *testing.T) {
	if dir := os.Getenv("HOIST_ARCHIVE_NOBODY_CHILD"); dir != "" {
		ro := dirE("ro")
		ro.hdr.Mode = 0o555
		if _, err := apply(t, dir, mkTar(t, ro, reg("ro/file", "x"), dirE("ro/sub"), reg("ro/sub/f", "y")), ApplyOptions{NoSameOwner: true}); err != nil {
			t.Fatalf("Apply as nobody: %v", err)
		}
		return
	}
	requireRoot(t)
	bin := filepath.Join(t.TempDir(), "archive.test")
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	for _, d := range []string{filepath.Dir(bin), work} {
		os.Chmod(d, 0o777)
	}
	// t.TempDir's parent is private to root; the child needs to reach both.
	for d := filepath.Dir(filepath.Dir(bin)); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	cmd := exec.Command(bin, "-test.run=^TestApplyUnprivileged$", "-test.count=1")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "HOIST_ARCHIVE_NOBODY_CHILD="+work)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	snap := snapshot(t, work, false)
	if n := snap["ro"]; n.Mode != unix.S_IFDIR|0o555 || n.UID != 65534 {
		t.Errorf("ro: %v", n)
	}
	if _, ok := snap["ro/sub/f"]; !ok {
		t.Error("children of the read-only directory missing")
	}
	os.Chmod(filepath.Join(work, "ro"), 0o755) // let t.TempDir clean up
}
