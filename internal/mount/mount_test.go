package mount

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mount tests need root")
	}
}

// layers makes n lower dirs under a long directory name, layer i holding
// file "f<i>" and "top" = i; returns them top first.
func layers(t *testing.T, n int) (string, []string) {
	return layersIn(t, strings.Repeat("long-directory-name-", 3), n)
}

// layersIn is layers under the directory name base.
func layersIn(t *testing.T, base string, n int) (string, []string) {
	t.Helper()
	base = filepath.Join(t.TempDir(), base)
	var lowers []string
	for i := 0; i < n; i++ {
		d := filepath.Join(base, fmt.Sprintf("layer-%03d-%s", i, strings.Repeat("x", 20)))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", i)), []byte("x"), 0o644)
		os.WriteFile(filepath.Join(d, "top"), []byte(fmt.Sprint(i)), 0o644)
		lowers = append([]string{d}, lowers...)
	}
	return base, lowers
}

func checkOverlay(t *testing.T, mnt func(Mount, string) error, n int) {
	base, lowers := layers(t, n)
	checkOverlayOf(t, mnt, base, lowers, true)
}

func checkOverlayOf(t *testing.T, mnt func(Mount, string) error, base string, lowers []string, long bool) {
	n := len(lowers)
	upper, work, target := filepath.Join(base, "upper"), filepath.Join(base, "work"), filepath.Join(base, "merged")
	for _, d := range []string{upper, work, target} {
		os.MkdirAll(d, 0o755)
	}
	m := Overlay(KernelOverlay, lowers, upper, work)
	if long && len(strings.Join(m.Options, ",")) < os.Getpagesize() {
		t.Fatalf("test options too short to exercise the page limit")
	}
	if err := mnt(m, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { UnmountAll(target) })
	for i := 0; i < n; i++ {
		if _, err := os.Stat(filepath.Join(target, fmt.Sprintf("f%d", i))); err != nil {
			t.Fatalf("layer %d not visible: %v", i, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(target, "top")); string(b) != fmt.Sprint(n-1) {
		t.Fatalf("top layer should win: got %q", b)
	}
	if err := os.WriteFile(filepath.Join(target, "new"), []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(upper, "new")); err != nil {
		t.Fatalf("write did not reach upper: %v", err)
	}
	if _, err := os.Stat(filepath.Join(lowers[0], "new")); err == nil {
		t.Fatal("write reached a lower dir")
	}
	if ok, _ := IsMountPoint(target); !ok {
		t.Fatal("not a mount point")
	}
	if err := UnmountAll(target); err != nil {
		t.Fatal(err)
	}
	if mps, _ := MountPoints(base); len(mps) != 0 {
		t.Fatalf("leaked mounts: %v", mps)
	}
}

func TestOverlay120Layers(t *testing.T) {
	needRoot(t)
	checkOverlay(t, Mount.Mount, 120)
}

func TestOverlay120LayersClassic(t *testing.T) {
	needRoot(t)
	checkOverlay(t, mountClassic, 120)
}

// TestOverlayPathsWithSeparators mounts layers, upper and work dirs whose
// paths hold overlayfs' option separators "," and ":" (and its escape
// character), through the new mount API and through mount(2) with short
// options and with options made relative (a --root such as /srv/a,b:c).
func TestOverlayPathsWithSeparators(t *testing.T) {
	needRoot(t)
	for _, name := range []string{"root,with,commas", "root:with:colons", `back\slash,and:both`} {
		base, lowers := layersIn(t, name, 3)
		if got := Overlay(KernelOverlay, lowers, "", "").LowerDirs(); strings.Join(got, "|") != strings.Join(lowers, "|") {
			t.Fatalf("LowerDirs = %q, want %q", got, lowers)
		}
		t.Run("new-api/"+name, func(t *testing.T) { checkOverlayOf(t, Mount.Mount, base, lowers, false) })
		os.RemoveAll(filepath.Join(base, "upper"))
		t.Run("classic/"+name, func(t *testing.T) { checkOverlayOf(t, mountClassic, base, lowers, false) })
		os.RemoveAll(filepath.Join(base, "upper"))
		many := filepath.Join(name, strings.Repeat("long-directory-name-", 3))
		mbase, mlowers := layersIn(t, many, 120)
		t.Run("classic-relative/"+name, func(t *testing.T) { checkOverlayOf(t, mountClassic, mbase, mlowers, true) })
	}
}

func TestReadOnlyOverlayAndBind(t *testing.T) {
	needRoot(t)
	base, lowers := layers(t, 2)
	target := filepath.Join(base, "merged")
	os.MkdirAll(target, 0o755)
	if err := Overlay(KernelOverlay, lowers, "", "").Mount(target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { UnmountAll(target) })
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); err == nil {
		t.Fatal("read-only overlay writable")
	}
	UnmountAll(target)
	single := Overlay(KernelOverlay, lowers[:1], "", "")
	if single.Type != "bind" {
		t.Fatalf("single ro lower should be a bind mount: %+v", single)
	}
	if err := single.Mount(target); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(target, "f1")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); err == nil {
		t.Fatal("read-only bind writable")
	}
	if err := UnmountAll(target); err != nil {
		t.Fatal(err)
	}
	if ok, _ := IsMountPoint(target); ok {
		t.Fatal("still mounted")
	}
}

func TestUnmountAllStackedAndNoFollow(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "t")
	os.Mkdir(target, 0o755)
	for i := 0; i < 3; i++ {
		if err := (Mount{Type: "tmpfs", Source: "tmpfs"}).Mount(target); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { UnmountAll(target) })
	// A symlink pointing at the mount point must not be followed.
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	if err := UnmountAll(link); err != nil {
		t.Fatal(err)
	}
	if ok, _ := IsMountPoint(target); !ok {
		t.Fatal("unmount followed a symlink")
	}
	if err := UnmountAll(target); err != nil {
		t.Fatal(err)
	}
	if ok, _ := IsMountPoint(target); ok {
		t.Fatal("stacked mounts left")
	}
	if err := UnmountAll(filepath.Join(dir, "missing")); err != nil {
		t.Fatalf("missing target: %v", err)
	}
}

func TestNetNS(t *testing.T) {
	needRoot(t)
	p := filepath.Join(t.TempDir(), "netns")
	// The host's namespace is read first: NewNetNS's goroutine may run on the
	// main thread, after which /proc/self/ns/net names the new namespace.
	host := mustStat(t, "/proc/self/ns/net")
	if err := NewNetNS(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveNetNS(p) })
	var st1, st2 = mustStat(t, p), host
	if st1 == st2 {
		t.Fatal("netns file is the host namespace")
	}
	if err := RemoveNetNS(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("netns file left")
	}
}

func mustStat(t *testing.T, p string) uint64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestPropagation(t *testing.T) {
	needRoot(t)
	dir, peer := t.TempDir(), t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
		t.Skipf("tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(peer, syscall.MNT_DETACH); syscall.Unmount(dir, syscall.MNT_DETACH) })
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	check := func(path, wantMP, want string) {
		t.Helper()
		mp, prop, err := Propagation(filepath.Join(path, "sub"))
		if err != nil || mp != wantMP || prop != want {
			t.Fatalf("%s: %q %q %v, want %q on %q", path, mp, prop, err, want, wantMP)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(syscall.Mount("", dir, "", syscall.MS_PRIVATE, ""))
	check(dir, dir, "private")
	must(syscall.Mount("", dir, "", syscall.MS_SHARED, ""))
	check(dir, dir, "shared")
	must(syscall.Mount(dir, peer, "", syscall.MS_BIND, "")) // a peer of dir
	must(syscall.Mount("", peer, "", syscall.MS_SLAVE, ""))
	check(peer, peer, "slave")
	check(dir, dir, "shared")
	if _, _, err := Propagation(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing path has no mount")
	}
}
