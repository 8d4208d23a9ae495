package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func apply(t testing.TB, dir string, data []byte, opts ApplyOptions) (int64, error) {
	t.Helper()
	return Apply(context.Background(), dir, bytes.NewReader(data), opts)
}

func mustApply(t testing.TB, dir string, data []byte, opts ApplyOptions) int64 {
	t.Helper()
	n, err := apply(t, dir, data, opts)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return n
}

func TestApplyBasic(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	mt := time.Unix(1500000000, 0)
	suid := reg("bin/su", "#!suid")
	suid.hdr.Mode = 0o4755
	suid.hdr.Uid, suid.hdr.Gid = 0, 0
	owned := reg("home/u/file", "hello")
	owned.hdr.Uid, owned.hdr.Gid = 1000, 1001
	owned.hdr.ModTime = mt
	owned.hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.test": "v1", "SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}
	d := dirE("home/u")
	d.hdr.Uid, d.hdr.Gid, d.hdr.Mode, d.hdr.ModTime = 1000, 1001, 0o700, mt
	link := symlinkE("home/u/link", "file")
	link.hdr.Uid, link.hdr.Gid = 1000, 1001
	link.hdr.ModTime = mt
	fifo := entry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o620, ModTime: mt}}
	null := entry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: mt}}
	data := mkTar(t,
		dirE("bin/"), suid, dirE("home"), d, owned, link,
		hardlinkE("home/u/hard", "home/u/file"),
		fifo, null,
	)
	n := mustApply(t, dir, data, ApplyOptions{})
	// docker's size: file bytes plus symlink targets, hardlinks counted once.
	if n != int64(len("#!suid")+len("hello")+len("file")) {
		t.Errorf("written = %d", n)
	}
	snap := snapshot(t, dir, true)
	check := func(p string, f func(n node) bool, what string) {
		t.Helper()
		got, ok := snap[p]
		if !ok {
			t.Errorf("%s missing", p)
			return
		}
		if !f(got) {
			t.Errorf("%s: want %s, got %v", p, what, got)
		}
	}
	check("bin/su", func(n node) bool { return n.Mode == unix.S_IFREG|0o4755 }, "setuid 4755")
	check("home/u/file", func(n node) bool {
		return n.UID == 1000 && n.GID == 1001 && n.Mtime == mt.Unix() && strings.Contains(n.Xattrs, "user.test=v1") && strings.Contains(n.Xattrs, "security.capability=")
	}, "owner 1000:1001, mtime, xattrs incl. capability after chown")
	check("home/u", func(n node) bool { return n.Mode == unix.S_IFDIR|0o700 && n.Mtime == mt.Unix() && n.UID == 1000 }, "dir 0700 with its mtime set after children")
	check("home/u/link", func(n node) bool { return n.Link == "file" && n.UID == 1000 && n.Mtime == mt.Unix() }, "lchowned, lutimed symlink")
	check("home/u/hard", func(n node) bool { return n.Ino == snap["home/u/file"].Ino && n.Nlink == 2 }, "hardlink to file")
	check("run/fifo", func(n node) bool { return n.Mode == unix.S_IFIFO|0o620 }, "fifo 0620")
	check("dev/null", func(n node) bool { return n.Mode == unix.S_IFCHR|0o666 && n.Rdev == unix.Mkdev(1, 3) }, "char 1:3")
	check("run", func(n node) bool { return n.Mode == unix.S_IFDIR|0o755 }, "implicit parent 0755")
}

func TestApplyNoSameOwner(t *testing.T) {
	dir := t.TempDir()
	f := reg("f", "x")
	f.hdr.Uid, f.hdr.Gid = 4242, 4242
	mustApply(t, dir, mkTar(t, f), ApplyOptions{NoSameOwner: true})
	n := snapshot(t, dir, false)["f"]
	if n.UID != uint32(os.Getuid()) {
		t.Errorf("uid = %d, want %d", n.UID, os.Getuid())
	}
}

func TestApplyPlainWhiteouts(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	mustApply(t, dir, mkTar(t,
		dirE("a"), reg("a/keep", "1"), reg("a/gone", "2"),
		dirE("b"), reg("b/x", "3"), dirE("b/sub"), reg("b/sub/y", "4"),
		dirE("c"), reg("c/old", "5"), dirE("c/d"), reg("c/d/old", "6"),
	), ApplyOptions{})
	wh := func(name string) entry { return reg(name, "") }
	mustApply(t, dir, mkTar(t,
		wh("a/.wh.gone"),
		wh(".wh.b"),
		dirE("c"), wh("c/.wh..wh..opq"), reg("c/new", "7"), dirE("c/d"), reg("c/d/new", "8"),
		wh(".wh.missing"), wh("nodir/.wh.x"),
		reg(".wh..wh.plnk/123.456", "aufs"), wh("a/.wh..wh.aufs"),
	), ApplyOptions{})
	snap := snapshot(t, dir, false)
	var got []string
	for k := range snap {
		got = append(got, k)
	}
	want := map[string]bool{"a": true, "a/keep": true, "c": true, "c/new": true, "c/d": true, "c/d/new": true}
	for _, k := range got {
		if !want[k] {
			t.Errorf("unexpected %s", k)
		}
		delete(want, k)
	}
	for k := range want {
		t.Errorf("missing %s", k)
	}
}

func TestApplyOverlayWhiteouts(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	w := reg("a/.wh.gone", "")
	w.hdr.Uid, w.hdr.Gid = 7, 8
	mustApply(t, dir, mkTar(t, dirE("a"), w, dirE("o"), reg("o/.wh..wh..opq", ""), reg("o/new", "n")), ApplyOptions{Overlay: true})
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "a/gone"), &st); err != nil {
		t.Fatalf("whiteout not created: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 || st.Uid != 7 || st.Gid != 8 {
		t.Errorf("whiteout: mode %o rdev %d owner %d:%d, want char 0/0 owned 7:8", st.Mode, st.Rdev, st.Uid, st.Gid)
	}
	v, err := getXattr(-1, filepath.Join(dir, "o"), overlayOpaqueXattr)
	if err != nil || string(v) != "y" {
		t.Errorf("opaque xattr = %q, %v", v, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "o/new")); err != nil {
		t.Error(err)
	}
	for _, p := range []string{"a/.wh.gone", "o/.wh..wh..opq"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s exists in the layer dir", p)
		}
	}
}

// Apply reads the whole stream, end-of-archive padding included, so a
// digest computed on the way (the diffID) covers every byte.
func TestApplyConsumesWholeStream(t *testing.T) {
	data := mkTar(t, reg("a", "x"))
	data = append(data, make([]byte, 10240)...) // extra zero blocks, as tar(1) pads
	r := bytes.NewReader(data)
	if _, err := Apply(context.Background(), t.TempDir(), r, ApplyOptions{NoSameOwner: true}); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 {
		t.Errorf("%d bytes left unread", r.Len())
	}
}

func TestApplyCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Apply(ctx, t.TempDir(), bytes.NewReader(mkTar(t, reg("a", "x"))), ApplyOptions{NoSameOwner: true})
	if err != context.Canceled {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestApplyDirectoryHeaderTwice(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	first, second := dirE("d"), dirE("d")
	first.hdr.Mode, first.hdr.ModTime = 0o700, time.Unix(100, 0)
	second.hdr.Mode, second.hdr.ModTime = 0o750, time.Unix(200, 0)
	mustApply(t, dir, mkTar(t, first, reg("d/f", "x"), second), ApplyOptions{})
	n := snapshot(t, dir, true)["d"]
	if n.Mode != unix.S_IFDIR|0o750 || n.Mtime != 200 {
		t.Errorf("d: %v, want the later header's mode and mtime", n)
	}
}

func TestApplyMissingDirAndSyncFS(t *testing.T) {
	_, err := apply(t, filepath.Join(t.TempDir(), "nope"), mkTar(t, reg("a", "x")), ApplyOptions{})
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing target: %v", err)
	}
	dir := t.TempDir()
	if err := SyncFS(dir); err != nil {
		t.Errorf("SyncFS: %v", err)
	}
	if err := SyncFS(filepath.Join(dir, "nope")); err == nil {
		t.Error("SyncFS of a missing dir succeeded")
	}
}

func TestApplyNoWhiteouts(t *testing.T) {
	dir := t.TempDir()
	mustApply(t, dir, mkTar(t, reg("keep", "k")), ApplyOptions{NoSameOwner: true})
	mustApply(t, dir, mkTar(t, reg(".wh.keep", "literal"), reg("d/.wh..wh..opq", "")), ApplyOptions{NoSameOwner: true, NoWhiteouts: true})
	for _, p := range []string{"keep", ".wh.keep", "d/.wh..wh..opq"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
