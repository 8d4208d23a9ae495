package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func tarHeaders(t *testing.T, data []byte) []*tar.Header {
	t.Helper()
	var hs []*tar.Header
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hs
		}
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
}

// TestTarEntry: one entry of a directory under a new name, a directory
// with what is beneath it, ownership rewritten, a missing entry.
func TestTarEntry(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	makeTree(t, dir)
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	names := func(hs []*tar.Header) []string {
		var n []string
		for _, h := range hs {
			n = append(n, h.Name)
		}
		return n
	}
	var b bytes.Buffer
	if err := TarEntry(ctx, &b, d, "etc", "renamed", TarOptions{}); err != nil {
		t.Fatal(err)
	}
	got := names(tarHeaders(t, b.Bytes()))
	want := []string{"renamed/", "renamed/empty", "renamed/passwd", "renamed/sub/", "renamed/sub/big", "renamed/sub/link"}
	if len(got) != len(want) {
		t.Fatalf("directory: %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("directory: %q, want %q", got, want)
		}
	}
	b.Reset()
	if err := TarEntry(ctx, &b, d, "dangling", "l", TarOptions{ChownRoot: true}); err != nil {
		t.Fatal(err)
	}
	if hs := tarHeaders(t, b.Bytes()); len(hs) != 1 || hs[0].Typeflag != tar.TypeSymlink || hs[0].Linkname != "/nonexistent/abs" || hs[0].Uid != 0 {
		t.Fatalf("symlink: %+v", hs)
	}
	b.Reset()
	if err := TarEntry(ctx, &b, d, ".", ".", TarOptions{}); err != nil {
		t.Fatal(err)
	}
	if hs := tarHeaders(t, b.Bytes()); hs[0].Name != "./" || hs[1].Name != "dangling" {
		t.Fatalf("the directory itself: %q", names(hs))
	}
	b.Reset()
	if err := TarEntry(ctx, &b, d, "nope", "nope", TarOptions{}); !errors.Is(err, fs.ErrNotExist) || b.Len() != 0 {
		t.Fatalf("missing: %v, %d bytes", err, b.Len())
	}
}

// TestOpenEntryReplaced: a regular file replaced by a FIFO (or a symlink)
// between its stat and its open is never opened for reading as if it were
// the file (a FIFO would block the walk, a device would be read as root).
func TestOpenEntryReplaced(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("x"), 0o644)
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, "f", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
	fd, err := openEntry(dfd, "f", unix.O_RDONLY, &st)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	os.Remove(p)
	if err := unix.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openEntry(dfd, "f", unix.O_RDONLY, &st); err != errReplaced {
		t.Fatalf("FIFO swapped in: %v", err)
	}
	os.Remove(p)
	os.Symlink("/etc/passwd", p)
	if _, err := openEntry(dfd, "f", unix.O_RDONLY, &st); err != errReplaced {
		t.Fatalf("symlink swapped in: %v", err)
	}
	// Same name, another file (made before the old one goes: a new inode).
	os.WriteFile(p+".new", []byte("y"), 0o644)
	os.Rename(p+".new", p)
	if _, err := openEntry(dfd, "f", unix.O_RDONLY, &st); err != errReplaced {
		t.Fatalf("another file: %v", err)
	}
}
