package archive

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func cpA(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v: %s", err, out)
	}
}

func TestDiffDirs(t *testing.T) {
	base := t.TempDir()
	d := mkdirs(t, base, "lower", "upper", "target")
	lower, upper, target := d[0], d[1], d[2]
	mustApply(t, lower, mkTar(t,
		dirE("etc"), reg("etc/passwd", "root\n"), reg("etc/group", "root\n"), reg("etc/shadow", "secret\n"),
		dirE("var"), dirE("var/cache"), reg("var/cache/a", "a"), dirE("var/cache/sub"), reg("var/cache/sub/b", "b"),
		dirE("opt"), reg("opt/tool", "v1"), dirE("usr"), dirE("usr/lib"), reg("usr/lib/libc", "libc"),
		symlinkE("lib", "usr/lib"), reg("file2dir", "f"), dirE("dir2file"), reg("dir2file/x", "x"),
		dirE("same"), reg("same/f", "unchanged"),
	), ApplyOptions{NoSameOwner: os.Geteuid() != 0})
	cpA(t, lower, upper)
	cpA(t, lower, target)

	u := func(p string) string { return filepath.Join(upper, p) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(u("etc/group"), []byte("root\nwheel\n"), 0o644))
	must(os.Remove(u("etc/shadow")))
	must(os.RemoveAll(u("var/cache/sub")))
	must(os.RemoveAll(u("opt")))
	must(os.WriteFile(u("usr/lib/libm"), []byte("libm"), 0o644))
	must(os.Chmod(u("usr/lib/libc"), 0o755))
	must(os.Remove(u("lib")))
	must(os.Symlink("usr/lib64", u("lib")))
	must(os.Remove(u("file2dir")))
	must(os.MkdirAll(u("file2dir/in"), 0o755))
	must(os.WriteFile(u("file2dir/in/f"), []byte("f"), 0o644))
	must(os.RemoveAll(u("dir2file")))
	must(os.WriteFile(u("dir2file"), []byte("now a file"), 0o644))
	must(os.MkdirAll(u("new/deep"), 0o700))
	must(os.WriteFile(u("new/deep/f"), []byte("f"), 0o644))
	must(os.Link(u("new/deep/f"), u("new/hl")))
	must(unix.Setxattr(u("etc/passwd"), "user.k", []byte("v"), 0))
	must(os.WriteFile(u("etc/hosts"), []byte("excluded"), 0o644))

	var layer bytes.Buffer
	opts := DiffOptions{Exclude: func(p string) bool { return p == "/etc/hosts" }}
	if err := DiffDirs(context.Background(), &layer, lower, upper, opts); err != nil {
		t.Fatal(err)
	}
	list := listTar(t, layer.Bytes())
	for _, absent := range []string{"same/", "same/f", "etc/hosts", "var/cache/a"} {
		if strings.Contains("\n"+list, "\n"+absent+" ") {
			t.Errorf("unchanged or excluded %s in the diff:\n%s", absent, list)
		}
	}
	mustApply(t, target, layer.Bytes(), ApplyOptions{NoSameOwner: os.Geteuid() != 0})
	want := snapshot(t, upper, true)
	delete(want, "etc/hosts")
	diffTrees(t, want, snapshot(t, target, true))

	changes, err := DirChanges(context.Background(), lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range changes {
		lines = append(lines, c.String())
	}
	got := strings.Join(lines, "\n")
	wantChanges := strings.Join([]string{
		"C /dir2file",
		"C /etc",
		"C /etc/group",
		"A /etc/hosts",
		"C /etc/passwd",
		"D /etc/shadow",
		"C /file2dir",
		"A /file2dir/in",
		"A /file2dir/in/f",
		"C /lib",
		"A /new",
		"A /new/deep",
		"A /new/deep/f",
		"A /new/hl",
		"D /opt",
		"C /usr",
		"C /usr/lib",
		"C /usr/lib/libc",
		"A /usr/lib/libm",
		"C /var",
		"C /var/cache",
		"D /var/cache/sub",
	}, "\n")
	if got != wantChanges {
		t.Errorf("changes:\n%s\nwant:\n%s", got, wantChanges)
	}
}
