package archive

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistproject/hoist/internal/errdefs"
	"golang.org/x/sys/unix"
)

// interopTree adds to makeTree what GNU tar encodes its own way: long
// names and link targets, and a sparse file.
func interopTree(t *testing.T, dir string) {
	t.Helper()
	makeTree(t, dir)
	long := filepath.Join(dir, strings.Repeat("d", 120), strings.Repeat("n", 150))
	if err := os.MkdirAll(filepath.Dir(long), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(long, []byte("long name"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.Repeat("t", 200), filepath.Join(dir, "longlink")); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("start"), 0)
	f.WriteAt([]byte("middle"), 4<<20)
	f.Truncate(8 << 20)
	f.Close()
}

// Layers made by GNU tar (both its formats, xattrs) apply to the same tree;
// with --sparse (GNU 'S' entries, PAX GNU.sparse.* records) they are
// refused, naming the entry, before anything is written (RejectSparse).
func TestApplyGNUTar(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("GNU tar not installed")
	}
	src := t.TempDir()
	interopTree(t, src)
	want := snapshot(t, src, true)
	for _, format := range []string{"gnu", "posix"} {
		t.Run(format, func(t *testing.T) {
			args := []string{"--format=" + format, "--xattrs", "--xattrs-include=user.*", "--numeric-owner", "-C", src, "-cf", "-", "."}
			data, err := exec.Command("tar", args...).Output()
			if err != nil {
				t.Fatalf("tar: %v", err)
			}
			dst := t.TempDir()
			mustApply(t, dst, data, ApplyOptions{NoSameOwner: os.Geteuid() != 0})
			diffTrees(t, want, snapshot(t, dst, true))

			if data, err = exec.Command("tar", append([]string{"--sparse"}, args...)...).Output(); err != nil {
				t.Fatalf("tar --sparse: %v", err)
			}
			dst = t.TempDir()
			_, err = Apply(context.Background(), dst, bytes.NewReader(data), ApplyOptions{NoSameOwner: os.Geteuid() != 0})
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `"./sparse": sparse files`) {
				t.Fatalf("Apply of a --sparse tar: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dst, "sparse")); err == nil {
				t.Fatal("the sparse file was written")
			}
		})
	}
}

// GNU tar reads what Tar writes, and extracts the same tree.
func TestTarReadByGNUTar(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("GNU tar not installed")
	}
	src := t.TempDir()
	interopTree(t, src)
	var buf bytes.Buffer
	if err := Tar(context.Background(), &buf, src, TarOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	cmd := exec.Command("tar", "--xattrs", "--xattrs-include=user.*", "--numeric-owner", "--same-owner", "-p", "-C", dst, "-xf", "-")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	want := snapshot(t, src, true)
	got := snapshot(t, dst, true)
	// GNU tar does not restore the times of symlinks.
	for k, n := range want {
		if n.Mode&unix.S_IFMT == unix.S_IFLNK {
			n.Mtime = 0
			want[k] = n
			g := got[k]
			g.Mtime = 0
			got[k] = g
		}
	}
	diffTrees(t, want, got)
}
