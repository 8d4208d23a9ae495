package archive

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mountOverlay mounts an overlay at merged and unmounts it in t.Cleanup.
// upper and work may be empty for a read-only stack.
func mountOverlay(t *testing.T, merged string, lowers []string, upper, work string) {
	t.Helper()
	opts := "lowerdir=" + strings.Join(lowers, ":")
	if upper != "" {
		opts += ",upperdir=" + upper + ",workdir=" + work
	}
	opts += ",redirect_dir=off,metacopy=off"
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		if err == unix.ENODEV {
			t.Skip("overlayfs not available in this kernel")
		}
		t.Fatalf("mount overlay %s: %v", opts, err)
	}
	t.Cleanup(func() {
		// Already unmounted by the test: EINVAL, ignored.
		unix.Unmount(merged, unix.MNT_DETACH)
	})
}

func unmount(t *testing.T, merged string) {
	t.Helper()
	if err := unix.Unmount(merged, 0); err != nil {
		t.Fatalf("unmount %s: %v", merged, err)
	}
}

func mkdirs(t *testing.T, base string, names ...string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		p := filepath.Join(base, n)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestOverlayApplyAndDiff(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	d := mkdirs(t, base, "l1", "l2", "plain", "merged", "upper", "work", "copy", "ro")
	l1, l2, plain, merged, upper, work, cp, ro := d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
	ctx := context.Background()

	layer1 := mkTar(t,
		dirE("etc"), reg("etc/passwd", "root\n"), reg("etc/group", "root\n"), reg("etc/shadow", "secret\n"),
		dirE("var"), dirE("var/cache"), reg("var/cache/a", "a"), dirE("var/cache/sub"), reg("var/cache/sub/b", "b"),
		dirE("opt"), reg("opt/tool", "v1"), dirE("usr"), dirE("usr/lib"), reg("usr/lib/libc", "libc"),
		symlinkE("lib", "usr/lib"),
	)
	layer2 := mkTar(t,
		dirE("etc"), reg("etc/.wh.shadow", ""), reg("etc/passwd", "root\nuser\n"),
		dirE("var"), dirE("var/cache"), reg("var/cache/.wh..wh..opq", ""), reg("var/cache/fresh", "new"),
		reg(".wh.opt", ""),
		dirE("usr"), dirE("usr/lib"), reg("usr/lib/libm", "libm"),
	)
	mustApply(t, l1, layer1, ApplyOptions{Overlay: true})
	mustApply(t, l2, layer2, ApplyOptions{Overlay: true})
	mustApply(t, plain, layer1, ApplyOptions{})
	mustApply(t, plain, layer2, ApplyOptions{})

	// 1. Overlay-mode layers stacked by the kernel equal the plain apply.
	mountOverlay(t, ro, []string{l2, l1}, "", "")
	diffTrees(t, snapshot(t, plain, true), snapshot(t, ro, true))
	for _, gone := range []string{"etc/shadow", "opt", "var/cache/a", "var/cache/sub"} {
		if _, err := os.Lstat(filepath.Join(ro, gone)); !os.IsNotExist(err) {
			t.Errorf("%s visible through the overlay: %v", gone, err)
		}
	}
	unmount(t, ro)

	// 2. A container's changes, diffed from the upper dir and applied
	// plainly onto a copy of the lower, give the merged view.
	mountOverlay(t, merged, []string{l2, l1}, upper, work)
	m := func(p string) string { return filepath.Join(merged, p) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(m("etc/hosts"), []byte("127.0.0.1 localhost\n"), 0o644)) // excluded below
	must(os.WriteFile(m("etc/group"), []byte("root\nwheel\n"), 0o644))         // copy-up
	must(os.Remove(m("etc/passwd")))                                           // whiteout of an upper-layer file
	must(os.RemoveAll(m("usr/lib")))                                           // whiteout of a merged dir
	must(os.MkdirAll(m("usr/lib"), 0o750))                                     // recreated: opaque
	must(os.WriteFile(m("usr/lib/only"), []byte("only"), 0o600))
	must(os.MkdirAll(m("new/deep/dir"), 0o755))
	must(os.WriteFile(m("new/deep/dir/f"), []byte("f"), 0o644))
	must(os.Link(m("new/deep/dir/f"), m("new/hl")))
	must(os.Symlink("/etc/group", m("new/sym")))
	must(os.Chmod(m("var/cache/fresh"), 0o4711))
	must(os.Lchown(m("new/sym"), 5, 6))
	must(unix.Setxattr(m("etc/group"), "user.note", []byte("changed"), 0))
	must(os.Rename(m("etc/group"), m("etc/group2"))) // rename of a file: whiteout + add
	want := snapshot(t, merged, true)
	delete(want, "etc/hosts")
	unmount(t, merged)

	var layer bytes.Buffer
	opts := DiffOptions{Exclude: func(p string) bool { return p == "/etc/hosts" }}
	if err := DiffOverlay(ctx, &layer, upper, opts); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", plain+"/.", cp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	mustApply(t, cp, layer.Bytes(), ApplyOptions{})
	got := snapshot(t, cp, true)
	diffTrees(t, want, got)
	if got["new/hl"].Ino != got["new/deep/dir/f"].Ino {
		t.Error("hardlink in the upper dir not applied as a hardlink")
	}
	if !strings.Contains(listTar(t, layer.Bytes()), "new/hl link") {
		t.Errorf("no hardlink entry in the layer:\n%s", listTar(t, layer.Bytes()))
	}

	// The same layer in overlay mode reproduces the upper dir's effect.
	l3 := mkdirs(t, base, "l3", "merged3")
	mustApply(t, l3[0], layer.Bytes(), ApplyOptions{Overlay: true})
	mountOverlay(t, l3[1], []string{l3[0], l2, l1}, "", "")
	diffTrees(t, want, snapshot(t, l3[1], true))

	// docker diff of the upper dir.
	changes, err := OverlayChanges(upper, func(p string) bool {
		_, err := os.Lstat(filepath.Join(plain, p))
		return err == nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range changes {
		lines = append(lines, c.String())
	}
	gotChanges := strings.Join(lines, "\n")
	wantChanges := strings.Join([]string{
		"C /etc",
		"D /etc/group",
		"A /etc/group2",
		"A /etc/hosts",
		"D /etc/passwd",
		"A /new",
		"A /new/deep",
		"A /new/deep/dir",
		"A /new/deep/dir/f",
		"A /new/hl",
		"A /new/sym",
		"C /usr",
		"D /usr/lib",
		"A /usr/lib/only",
		"C /var",
		"C /var/cache",
		"C /var/cache/fresh",
	}, "\n")
	if gotChanges != wantChanges {
		t.Errorf("changes:\n%s\nwant:\n%s", gotChanges, wantChanges)
	}
}

func TestDiffOverlayHeaders(t *testing.T) {
	requireRoot(t)
	upper := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(upper, "d/o"), 0o755))
	must(unix.Setxattr(filepath.Join(upper, "d/o"), overlayOpaqueXattr, []byte("y"), 0))
	must(os.WriteFile(filepath.Join(upper, "d/o/x"), []byte("x"), 0o644))
	must(unix.Mknod(filepath.Join(upper, "d/gone"), unix.S_IFCHR, 0))
	// The kernel shares one whiteout inode between whiteouts: not a hardlink.
	must(os.Link(filepath.Join(upper, "d/gone"), filepath.Join(upper, "d/gone2")))
	must(os.MkdirAll(filepath.Join(upper, "u"), 0o755))
	must(unix.Setxattr(filepath.Join(upper, "u"), overlayUserOpaqueXattr, []byte("y"), 0))
	epoch := time.Unix(1000, 0)
	var buf bytes.Buffer
	if err := DiffOverlay(context.Background(), &buf, upper, DiffOptions{SourceDateEpoch: &epoch}); err != nil {
		t.Fatal(err)
	}
	got := listTar(t, buf.Bytes())
	want := "d/ dir 40755 1000\n" +
		"d/.wh.gone reg 100600 1000\n" +
		"d/.wh.gone2 reg 100600 1000\n" +
		"d/o/ dir 40755 1000\n" +
		"d/o/.wh..wh..opq reg 755 1000\n" +
		"d/o/x reg 100644 1000\n" +
		"u/ dir 40755 1000\n" +
		"u/.wh..wh..opq reg 755 1000\n"
	if got != want {
		t.Errorf("entries:\n%s\nwant:\n%s", got, want)
	}

	// redirect_dir upper dirs cannot be diffed.
	must(unix.Setxattr(filepath.Join(upper, "u"), "trusted.overlay.redirect", []byte("/x"), 0))
	err := DiffOverlay(context.Background(), &bytes.Buffer{}, upper, DiffOptions{})
	if err == nil || !strings.Contains(err.Error(), "redirect_dir=off") {
		t.Errorf("redirect: got %v", err)
	}
}
